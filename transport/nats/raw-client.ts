// A small NATS client for plain subjects (no troupe framing): what a load test's NATS target speaks, kept here
// because only transport/ imports @nats-io.

import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { ErrorCode, InvalidOptionsError } from '../../runtime/index.js';
import { assertOptionsObject, intOption } from '../../runtime/internal.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { connectFailureReason, maskedServers } from './connection-source.js';
import { type NatsAuthOptions, natsAuthConnectOptions } from './options.js';

/** Codes a {@link RawNatsClient} rejects with (all on {@link TransportError}). */
export const RawNatsErrorCode = {
  /** No reply within the request's timeout. */
  Timeout: 'NATS_TIMEOUT',
  /** Nobody subscribes to the subject (the server said so at once). */
  NoResponders: ErrorCode.NoResponders,
  /** The request's signal aborted it. */
  Aborted: 'NATS_ABORTED',
  /** The connection is closed (or closing). */
  Closed: TransportErrorCode.Closed,
  /** The first connect failed. */
  Connect: TransportErrorCode.Connect,
  /** Any other failure: a permission violation, a disconnect mid-request. */
  Failed: 'NATS_REQUEST_FAILED',
} as const;
export type RawNatsErrorCode = (typeof RawNatsErrorCode)[keyof typeof RawNatsErrorCode];

/** Options of {@link rawNatsClient}. */
export interface RawNatsClientOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Credentials and TLS as data, as the transport takes them. */
  auth?: NatsAuthOptions | undefined;
  /** Extra options for `connect()`; they win over `auth`. */
  connectOptions?: Partial<NodeConnectionOptions> | undefined;
  /** The connection's name on the server. @defaultValue `troupe-raw` */
  name?: string | undefined;
  /** Default timeout of `request`. @defaultValue 5000 */
  timeoutMs?: number | undefined;
}

/** Options of one {@link RawNatsClient.request}. */
export interface RawRequestOptions {
  /** @defaultValue the client's `timeoutMs` */
  timeoutMs?: number | undefined;
  /** Aborting rejects the request with `NATS_ABORTED` (its reply, if any comes, is dropped). */
  signal?: AbortSignal | undefined;
}

/** A reply: the responder's payload as it came. */
export interface RawNatsReply {
  data: Uint8Array;
}

/** A NATS connection for plain request/reply and publish. */
export interface RawNatsClient {
  /**
   * Sends `payload` to `subject` and resolves with the first reply. Rejects with a {@link TransportError} coded
   * `NATS_TIMEOUT`, `NO_RESPONDERS`, `NATS_ABORTED`, `TRANSPORT_CLOSED` or `NATS_REQUEST_FAILED`.
   */
  request(subject: string, payload: Uint8Array | string, options?: RawRequestOptions): Promise<RawNatsReply>;
  /** Publishes without waiting (buffered by the connection; `flush()` waits until the server has it all). */
  publish(subject: string, payload: Uint8Array | string): void;
  flush(): Promise<void>;
  /** Drains nothing: in-flight requests reject with `TRANSPORT_CLOSED`. Safe to call twice. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const DEFAULT_RAW_REQUEST_TIMEOUT_MS = 5000;

function namesOf(err: unknown): string[] {
  const names: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) names.push(e.name);
  return names;
}

/** A nats.js request failure as a coded TransportError. */
function requestError(err: unknown, subject: string, timeoutMs: number): TransportError {
  const names = namesOf(err);
  const message = err instanceof Error ? err.message : String(err);
  // nats.js names the cause `NoResponders` (class NoRespondersError) inside a RequestError.
  const noResponders =
    (err as { isNoResponders?: () => boolean } | null)?.isNoResponders?.() === true ||
    names.includes('NoResponders') ||
    names.includes('NoRespondersError');
  if (noResponders)
    return new TransportError(RawNatsErrorCode.NoResponders, `no responders on ${subject}`, { cause: err });
  if (names.includes('TimeoutError'))
    return new TransportError(RawNatsErrorCode.Timeout, `no reply on ${subject} within ${timeoutMs} ms`, {
      cause: err,
    });
  if (names.includes('ClosedConnectionError') || names.includes('DrainingConnectionError'))
    return new TransportError(RawNatsErrorCode.Closed, `the NATS connection is closed`, { cause: err });
  return new TransportError(RawNatsErrorCode.Failed, `request on ${subject} failed: ${message}`, {
    cause: err,
  });
}

class NatsRawClient implements RawNatsClient {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
  }

  request(subject: string, payload: Uint8Array | string, options?: RawRequestOptions): Promise<RawNatsReply> {
    const timeout = options?.timeoutMs ?? this.#timeoutMs;
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortedError(subject, signal));
    let pending: Promise<RawNatsReply>;
    try {
      pending = this.#nc.request(subject, payload, { timeout }).then(
        (msg) => ({ data: msg.data }),
        (err: unknown) => {
          throw requestError(err, subject, timeout);
        },
      );
    } catch (err) {
      return Promise.reject(requestError(err, subject, timeout));
    }
    if (signal === undefined) return pending;
    // nats.js requests take no signal: race it; a late reply is dropped by the mux at its timeout.
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(abortedError(subject, signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (reply) => {
          signal.removeEventListener('abort', onAbort);
          resolve(reply);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  publish(subject: string, payload: Uint8Array | string): void {
    try {
      this.#nc.publish(subject, payload);
    } catch (err) {
      throw requestError(err, subject, 0);
    }
  }

  async flush(): Promise<void> {
    try {
      await this.#nc.flush();
    } catch (err) {
      throw requestError(err, 'flush', 0);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#nc.close().catch(() => {});
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function abortedError(subject: string, signal: AbortSignal): TransportError {
  return new TransportError(RawNatsErrorCode.Aborted, `request on ${subject} aborted`, {
    cause: signal.reason,
  });
}

/**
 * Connects a {@link RawNatsClient}: reconnects forever, 500 ms apart, like troupe's other connections.
 * Rejects with `TRANSPORT_CONNECT_FAILED` naming the reason (credentials, TLS, nobody listening).
 *
 * @example
 * await using nats = await rawNatsClient({ servers: 'nats://127.0.0.1:4222' });
 * const reply = await nats.request('echo', 'hi', { timeoutMs: 1000 });
 */
export async function rawNatsClient(options: RawNatsClientOptions): Promise<RawNatsClient> {
  assertOptionsObject(options, 'options');
  const { servers } = options;
  if (
    !(typeof servers === 'string' && servers.length > 0) &&
    !(Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string'))
  )
    throw new InvalidOptionsError('servers', 'expected a URL or a non-empty array of URLs');
  if (options.connectOptions !== undefined) assertOptionsObject(options.connectOptions, 'connectOptions');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === ''))
    throw new InvalidOptionsError('name', 'expected a non-empty string');
  const timeoutMs = intOption(options.timeoutMs, 'timeoutMs', DEFAULT_RAW_REQUEST_TIMEOUT_MS, 1);
  const auth = natsAuthConnectOptions(options.auth);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name ?? 'troupe-raw',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...auth,
      ...options.connectOptions,
    });
  } catch (err) {
    throw new TransportError(
      RawNatsErrorCode.Connect,
      `cannot connect to NATS at ${String(maskedServers(servers))}: ${connectFailureReason(err)}`,
      { cause: err },
    );
  }
  return new NatsRawClient(nc, timeoutMs);
}
