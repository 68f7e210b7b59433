// An AppendLog on a JetStream stream: run journals and audit logs a fleet shares and that outlive a node. One
// stream per log, one subject per key; reads go through an ordered consumer filtered on the key's subject,
// compaction purges by subject and sequence. Every operation has a deadline, so an outage rejects with
// LOG_UNAVAILABLE instead of hanging the agent step that waits on it.

import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  type MsgRequest,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import {
  ALL_LOG_KEYS,
  type AppendLog,
  AppendLogError,
  AppendLogErrorCode,
  InvalidOptionsError,
  type LogReadOptions,
  type LogRecord,
  type Transport,
} from '../../runtime/index.js';
import {
  assertBeforeSeq,
  assertLogKey,
  assertLogRecord,
  assertOptionsObject,
  assertValidName,
  maxRecordBytesOption,
  readBounds,
  withDeadline,
} from '../../runtime/internal.js';
import { publishRecord } from './append-log-publish.js';
import { connectionSource } from './connection-source.js';
import type { NatsAuthOptions } from './options.js';
import { DEFAULT_NAMESPACE } from './options.js';

/** Default deadline of one log operation. */
export const DEFAULT_LOG_OP_TIMEOUT_MS = 2000;
/** Records fetched per pull while reading. */
const READ_BATCH = 1000;
/** Records of a key read by single gets before a consumer takes the rest (see read). */
const SINGLE_GETS = 2;
/**
 * True when the server answers the stream API's "next by subject" get (NATS 2.9 on). An older one ignores
 * `next_by_subj` and answers the record at `seq`, whatever its key, or none: reads then take a consumer.
 */
function nextBySubject(nc: NatsConnection): boolean {
  const [major = 0, minor = 0] = (nc.info?.version ?? '0.0').split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 9);
}

/** Opened: the JetStream clients and the connection they use. */
interface Opened {
  js: JetStreamClient;
  jsm: JetStreamManager;
  nc: NatsConnection;
}

/** Options of {@link natsAppendLog}: give exactly one of `transport`, `servers` or `connection`. */
export interface NatsAppendLogOptions {
  /** A NATS transport (`system.transport`): the log shares its connection. */
  transport?: Transport | undefined;
  /** Server URL(s): opens a connection of its own, closed by `close()`. */
  servers?: string | string[];
  /** Extra options for `connect()` with `servers`; reconnects forever, 500 ms apart, by default. */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Credentials and TLS for `servers` (see NatsAuthOptions); `connectOptions` wins over it. */
  auth?: NatsAuthOptions | undefined;
  /** A connection the caller owns and closes. */
  connection?: NatsConnection;
  /** The log's name (`journal`, `audit`): its stream is `TROUPE_LOG_<namespace>_<name>`. */
  name: string;
  /** Names the stream and subjects, so several fleets can share a server. @defaultValue `default` */
  namespace?: string;
  /** Largest record, in UTF-8 bytes (also the stream's max message size). @defaultValue 512 KiB */
  maxRecordBytes?: number;
  /** Deadline of each operation; past it the operation rejects with `LOG_UNAVAILABLE`. @defaultValue 2000 */
  opTimeoutMs?: number;
  /** Stream replicas on a clustered NATS. @defaultValue 1 */
  replicas?: number;
  /**
   * Records older than this are removed by the server (the stream's max age): for logs that are only read
   * while fresh, such as a gateway's run streams; 0 keeps them forever. Given, it is applied to an existing
   * stream too; not given, an existing stream keeps its own. @defaultValue keep forever
   */
  maxAgeMs?: number;
}

// A key is a subject token: plain keys stay readable, anything else (dots, spaces, `*`) is base64url behind `~`,
// which no plain key contains, so the mapping is one-to-one.
const PLAIN = /^[-_a-zA-Z0-9:=+@]+$/;
const tokenOf = (key: string): string =>
  PLAIN.test(key) ? key : `~${Buffer.from(key).toString('base64url')}`;
const keyOf = (token: string): string =>
  token.startsWith('~') ? Buffer.from(token.slice(1), 'base64url').toString() : token;

class NatsAppendLog implements AppendLog {
  readonly #current: () => NatsConnection | undefined;
  readonly #owned: NatsConnection | undefined;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  readonly #replicas: number;
  /** Undefined: whatever the stream has (forever when this node creates it). */
  readonly #maxAgeMs: number | undefined;
  #opening: Promise<Opened> | undefined;
  /** Set once the stream is open: appends then publish at once (no promise to wait for first). */
  #opened: Opened | undefined;
  #closed = false;

  constructor(
    connection: { current: () => NatsConnection | undefined; owned: NatsConnection | undefined },
    namespace: string,
    name: string,
    maxBytes: number,
    timeoutMs: number,
    replicas: number,
    maxAgeMs: number | undefined,
  ) {
    this.#current = connection.current;
    this.#owned = connection.owned;
    this.#stream = `TROUPE_LOG_${namespace}_${name}`;
    this.#prefix = `troupe.${namespace}.$log.${name}`;
    this.#maxBytes = maxBytes;
    this.#timeoutMs = timeoutMs;
    this.#replicas = replicas;
    this.#maxAgeMs = maxAgeMs;
  }

  /** Creates the stream once (idempotent across nodes); a failed open is tried again by the next operation. */
  open(): Promise<Opened> {
    if (this.#opening !== undefined) return this.#opening;
    const nc = this.#current();
    if (nc === undefined)
      return Promise.reject(
        new AppendLogError(AppendLogErrorCode.Unavailable, 'the NATS transport is not connected yet'),
      );
    const opening = (async () => {
      const js = jetstream(nc, { timeout: this.#timeoutMs });
      const jsm = await js.jetstreamManager();
      const config = {
        name: this.#stream,
        subjects: [`${this.#prefix}.>`],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: this.#replicas,
        max_msg_size: this.#maxBytes,
        max_age: (this.#maxAgeMs ?? 0) * 1_000_000,
        // The server's default deduplication window (2 min) may not outlast the records it deduplicates.
        ...(this.#maxAgeMs ? { duplicate_window: Math.min(120_000, this.#maxAgeMs) * 1_000_000 } : {}),
      };
      const existing = await jsm.streams.info(this.#stream).catch(() => undefined);
      if (existing === undefined) {
        try {
          await jsm.streams.add(config);
        } catch (err) {
          // Another node created it at the same moment: fine if it now exists.
          await jsm.streams.info(this.#stream).catch(() => {
            throw err;
          });
        }
      } else if (this.#maxAgeMs !== undefined && existing.config.max_age !== config.max_age) {
        // A retention asked for now holds for a stream an earlier version (or another node) created.
        const window = existing.config.duplicate_window;
        await jsm.streams.update(this.#stream, {
          ...existing.config,
          max_age: config.max_age,
          ...(config.max_age > 0 && window > config.max_age ? { duplicate_window: config.max_age } : {}),
        });
      }
      return { js, jsm, nc };
    })();
    this.#opening = opening;
    opening.then(
      (opened) => {
        if (this.#opening === opening) this.#opened = opened;
      },
      () => {
        if (this.#opening === opening) this.#opening = undefined;
      },
    );
    return opening;
  }

  append(key: string, data: string): Promise<number> {
    return this.#append(key, data, undefined);
  }

  appendIf(key: string, data: string, expectedSeq: number): Promise<number> {
    return this.#append(key, data, expectedSeq);
  }

  /** An append, conditional when `expectedSeq` is given; once the stream is open, at once (append-log-publish.ts). */
  #append(key: string, data: string, expectedSeq: number | undefined): Promise<number> {
    const opened = this.#opened;
    if (opened === undefined || this.#closed || opened.nc.isClosed())
      return this.#op(
        'append',
        key,
        () => this.#checkAppend(key, data, expectedSeq),
        ({ nc }) => publishRecord(nc, this.#subject(key), key, data, expectedSeq, this.#timeoutMs),
      );
    try {
      this.#checkAppend(key, data, expectedSeq);
    } catch (err) {
      return Promise.reject(err);
    }
    return publishRecord(opened.nc, this.#subject(key), key, data, expectedSeq, this.#timeoutMs).catch(
      (err: unknown) => {
        throw this.#failure('append', key, err);
      },
    );
  }

  #checkAppend(key: string, data: string, expectedSeq: number | undefined): void {
    assertLogKey(key, false);
    assertLogRecord(data, this.#maxBytes);
    if (expectedSeq !== undefined && (!Number.isInteger(expectedSeq) || expectedSeq < 0))
      throw new InvalidOptionsError('expectedSeq', 'expected a non-negative integer');
  }

  read(key: string, options?: LogReadOptions): Promise<LogRecord[]> {
    let bounds = { fromSeq: 1, limit: 0 };
    return this.#op(
      'read',
      key,
      () => {
        assertLogKey(key, true);
        bounds = readBounds(options);
      },
      async ({ js, jsm, nc }) => {
        const subject = this.#subject(key);
        const out: LogRecord[] = [];
        let fromSeq = bounds.fromSeq;
        if (key !== ALL_LOG_KEYS && nextBySubject(nc)) {
          // The first records one by one, a round trip each, where a consumer costs three and a delete: a read
          // that finds nothing (a new run; a reader's poll with nothing new) costs one, one record two.
          while (out.length < Math.min(bounds.limit, SINGLE_GETS)) {
            // The stream API's "next by subject" get (NATS 2.9+; typed for direct gets only in the client).
            const next = { seq: Math.max(1, fromSeq), next_by_subj: subject };
            const m = await jsm.streams.getMessage(this.#stream, next as unknown as MsgRequest);
            if (m === null) return out;
            // Checked all the same: a record of another key is never taken for this key's.
            if (m.subject !== subject) break;
            out.push({ seq: m.seq, key, data: m.string(), at: m.time.getTime() });
            fromSeq = m.seq + 1;
          }
          if (out.length >= bounds.limit) return out;
        }
        const consumer = await js.consumers.get(this.#stream, {
          filter_subjects: subject,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: fromSeq,
          inactive_threshold: Math.max(this.#timeoutMs * 5, 10_000),
        });
        try {
          const pending = (await consumer.info(true)).num_pending;
          const want = out.length + Math.min(bounds.limit - out.length, pending);
          while (out.length < want) {
            const before = out.length;
            const batch = await consumer.fetch({
              max_messages: Math.min(READ_BATCH, want - out.length),
              expires: 1000,
            });
            for await (const m of batch) {
              out.push({
                seq: m.seq,
                key: keyOf(m.subject.slice(this.#prefix.length + 1)),
                data: m.string(),
                at: m.time.getTime(),
              });
              if (out.length >= want) break;
            }
            // Purged while we read: what is left has been read.
            if (out.length === before) break;
          }
          return out;
        } finally {
          consumer.delete().catch(() => undefined);
        }
      },
    );
  }

  purge(key: string, beforeSeq?: number): Promise<void> {
    return this.#op(
      'purge',
      key,
      () => {
        assertLogKey(key, true);
        assertBeforeSeq(beforeSeq);
      },
      async ({ jsm }) => {
        const filter = this.#subject(key);
        await jsm.streams.purge(
          this.#stream,
          beforeSeq === undefined ? { filter } : { filter, seq: beforeSeq },
        );
      },
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#owned?.close();
  }

  #subject(key: string): string {
    return key === ALL_LOG_KEYS ? `${this.#prefix}.>` : `${this.#prefix}.${tokenOf(key)}`;
  }

  async #op<T>(
    what: string,
    key: string,
    validate: () => void,
    fn: (open: Opened) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new AppendLogError(AppendLogErrorCode.Closed, 'the append log is closed');
    validate();
    const nc = this.#current();
    if (nc?.isClosed())
      throw new AppendLogError(AppendLogErrorCode.Unavailable, 'the NATS connection is closed');
    try {
      return await withDeadline(
        this.open().then(fn),
        this.#timeoutMs,
        () =>
          new AppendLogError(
            AppendLogErrorCode.Unavailable,
            `log ${what} of ${key} on ${this.#stream} got no answer in ${this.#timeoutMs} ms`,
          ),
      );
    } catch (err) {
      throw this.#failure(what, key, err);
    }
  }

  /** What an operation rejects with: its own errors as they are, anything else as `LOG_UNAVAILABLE`. */
  #failure(what: string, key: string, err: unknown): Error {
    if (err instanceof AppendLogError || err instanceof InvalidOptionsError) return err;
    if ((err as { name?: unknown }).name === 'TimeoutError')
      return new AppendLogError(
        AppendLogErrorCode.Unavailable,
        `log ${what} of ${key} on ${this.#stream} got no answer in ${this.#timeoutMs} ms`,
        { cause: err },
      );
    return new AppendLogError(
      AppendLogErrorCode.Unavailable,
      `log ${what} of ${key} on ${this.#stream} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * An {@link AppendLog} on a JetStream stream (`TROUPE_LOG_<namespace>_<name>`, file storage): run journals and
 * tool audit logs that a fleet shares and that survive restarts. Needs JetStream (`nats-server -js`).
 * An append that rejects with `LOG_UNAVAILABLE` may still have been stored: readers must tolerate a repeat.
 *
 * @example
 * const journal = await natsAppendLog({ transport: system.transport, name: 'journal' });
 */
export async function natsAppendLog(options: NatsAppendLogOptions): Promise<AppendLog> {
  assertOptionsObject(options, 'options');
  assertValidName(options.name, 'log name');
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  assertValidName(namespace, 'namespace');
  const maxBytes = maxRecordBytesOption(options.maxRecordBytes);
  const timeoutMs = options.opTimeoutMs ?? DEFAULT_LOG_OP_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new InvalidOptionsError('replicas', 'expected a positive integer');
  const maxAgeMs = options.maxAgeMs;
  if (maxAgeMs !== undefined && (!Number.isInteger(maxAgeMs) || maxAgeMs < 0))
    throw new InvalidOptionsError('maxAgeMs', 'expected a non-negative integer (0: keep forever)');
  const connection = await connectionSource(options, 'troupe:log');
  const log = new NatsAppendLog(connection, namespace, options.name, maxBytes, timeoutMs, replicas, maxAgeMs);
  if (connection.current() !== undefined) {
    try {
      await log.open();
    } catch (err) {
      await connection.owned?.close();
      throw new AppendLogError(
        AppendLogErrorCode.Unavailable,
        `cannot open the log stream: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return log;
}
