// The NATS target: request/reply and publish on plain subjects, through transport/'s raw client.

import { Buffer } from 'node:buffer';
import { InvalidOptionsError, TroupeError } from '../../runtime/index.js';
import { assertOptionsObject, intOption } from '../../runtime/internal.js';
import {
  type NatsAuthOptions,
  type RawNatsClient,
  RawNatsErrorCode,
  rawNatsClient,
} from '../../transport/index.js';
import type { Recorder } from '../metrics/recorder.js';
import { StopSignal, stopped, targetFailure } from './failure.js';
import { assertAllowedHost } from './loopback.js';
import type { OpenedTarget, TargetContext, TargetFactory } from './target.js';

/** Options of {@link natsTarget}. */
export interface NatsTargetOptions {
  /** Credentials and TLS, as `natsTransport` takes them. */
  auth?: NatsAuthOptions;
  /** Default timeout of a request. @defaultValue 5000 */
  timeoutMs?: number;
}

/** A payload: text, bytes, or anything else sent as JSON. */
export type NatsPayload = string | Uint8Array | Record<string, unknown> | unknown[] | number | boolean;

/** A reply, with readers for its payload. */
export interface NatsReply {
  readonly data: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

/**
 * What a scenario gets. `request` is recorded under the target's name; a timeout or no responders is recorded
 * (`timeout`, `no_responders`) and rejects with `LOAD_TIMEOUT` / `LOAD_TARGET_FAILED`. `publish` counts as a
 * request (`requests`, `bytes_out`) without a latency: it only buffers.
 */
export interface NatsClient {
  request(subject: string, payload?: NatsPayload, options?: { timeoutMs?: number }): Promise<NatsReply>;
  publish(subject: string, payload?: NatsPayload): void;
  /** Waits until the server has everything published so far. */
  flush(): Promise<void>;
}

class Reply implements NatsReply {
  readonly data: Uint8Array;
  constructor(data: Uint8Array) {
    this.data = data;
  }
  text(): string {
    return Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength).toString('utf8');
  }
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

const EMPTY = new Uint8Array(0);

function encode(payload: NatsPayload | undefined): Uint8Array | string {
  if (payload === undefined) return EMPTY;
  if (typeof payload === 'string' || payload instanceof Uint8Array) return payload;
  return JSON.stringify(payload);
}

const sizeOf = (payload: Uint8Array | string): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;

function failureKind(err: unknown): string {
  if (!TroupeError.is(err)) return 'reset';
  switch (err.code) {
    case RawNatsErrorCode.Timeout:
      return 'timeout';
    case RawNatsErrorCode.NoResponders:
      return 'no_responders';
    default:
      return 'reset';
  }
}

class NatsTargetClient implements NatsClient, OpenedTarget<NatsClient> {
  readonly client: NatsClient = this;
  readonly #nats: RawNatsClient;
  readonly #name: string;
  readonly #recorder: Recorder;
  readonly #stop: StopSignal;
  readonly #timeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(nats: RawNatsClient, context: TargetContext, timeoutMs: number) {
    this.#nats = nats;
    this.#name = context.name;
    this.#recorder = context.recorder;
    this.#stop = new StopSignal(context.signal);
    this.#timeoutMs = timeoutMs;
  }

  async request(
    subject: string,
    payload?: NatsPayload,
    options?: { timeoutMs?: number },
  ): Promise<NatsReply> {
    if (this.#stop.aborted) throw stopped(this.#name);
    const data = encode(payload);
    const bytesOut = sizeOf(data);
    const started = performance.now();
    try {
      const reply = await this.#nats.request(subject, data, {
        timeoutMs: options?.timeoutMs ?? this.#timeoutMs,
        signal: this.#stop.signal,
      });
      this.#recorder.request(this.#name, performance.now() - started, {
        bytesIn: reply.data.length,
        bytesOut,
      });
      return new Reply(reply.data);
    } catch (err) {
      if (this.#stop.aborted) throw stopped(this.#name, err);
      const kind = failureKind(err);
      this.#recorder.request(this.#name, performance.now() - started, { error: kind, bytesOut });
      throw targetFailure(this.#name, kind, err);
    }
  }

  publish(subject: string, payload?: NatsPayload): void {
    if (this.#stop.aborted) throw stopped(this.#name);
    const data = encode(payload);
    try {
      this.#nats.publish(subject, data);
    } catch (err) {
      this.#recorder.count('requests');
      this.#recorder.count('errors');
      this.#recorder.count('errors.reset');
      throw targetFailure(this.#name, 'reset', err);
    }
    this.#recorder.count('requests');
    this.#recorder.count('bytes_out', sizeOf(data));
  }

  flush(): Promise<void> {
    return this.#nats.flush();
  }

  close(): Promise<void> {
    this.#stop.dispose();
    this.#closing ??= this.#nats.close();
    return this.#closing;
  }
}

/**
 * A NATS target: each node opens one connection to `servers` (all loopback or in `allowHosts`).
 *
 * @example
 * targets: { svc: natsTarget('nats://127.0.0.1:4222') },
 * scenario: async (vu) => { const r = await vu.targets.svc.request('price.get', { sku: 'a1' }); r.json(); }
 */
export function natsTarget(
  servers: string | string[],
  options: NatsTargetOptions = {},
): TargetFactory<NatsClient> {
  const list = typeof servers === 'string' ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s !== ''))
    throw new InvalidOptionsError('servers', 'expected a NATS URL or a non-empty array of them');
  assertOptionsObject(options, 'options');
  assertOptionsObject(options.auth, 'auth');
  const timeoutMs = intOption(options.timeoutMs, 'timeoutMs', 5000, 1);
  const copy = [...list];
  return {
    kind: 'nats',
    // Credentials never show: a URL's password is masked.
    describe: () => copy.map((s) => s.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@')).join(','),
    async open(context) {
      for (const server of copy) assertAllowedHost(server, context.allowHosts);
      const nats = await rawNatsClient({
        servers: copy,
        auth: options.auth,
        name: `troupe-load-${context.name}`,
        timeoutMs,
        // Servers a cluster announces are not named by the test: never fail over to them.
        connectOptions: { ignoreClusterUpdates: true },
      });
      return new NatsTargetClient(nats, context, timeoutMs);
    },
  };
}
