// The actor target: troupe actors and agents, by address or as virtual actors, asked through the node's system.

import { type AnyActorRef, ErrorCode, InvalidOptionsError, TroupeError } from '../../runtime/index.js';
import { assertOptionsObject, intOption } from '../../runtime/internal.js';
import type { Recorder } from '../metrics/recorder.js';
import { StopSignal, stopped, targetFailure } from './failure.js';
import type { OpenedTarget, TargetContext, TargetFactory } from './target.js';

/** Options of {@link actor}. */
export interface ActorTargetOptions {
  /** Default timeout of an ask. @defaultValue 5000 */
  timeoutMs?: number;
}

/** A virtual actor: `system.virtual(type, id)`, wherever the cluster places it. */
export interface VirtualActorTarget {
  type: string;
  id: string;
}

/**
 * What a scenario gets. `ask` is recorded under the target's name; a failure is recorded under `timeout` (for
 * `ASK_TIMEOUT`) or the error's code lower-cased (`no_responders`, `actor_not_found`, `handler_error`, ...)
 * and rejects with `LOAD_TIMEOUT` / `LOAD_TARGET_FAILED` (the actor's error as `cause`). `tell` counts as a
 * request without a latency.
 */
export interface ActorClient {
  // biome-ignore lint/suspicious/noExplicitAny: load scenarios speak to actors of any protocol
  ask<R = any>(message: unknown, options?: { timeoutMs?: number }): Promise<R>;
  tell(message: unknown): void;
  /** The ref asked (its address, for messages that carry it). */
  readonly ref: AnyActorRef;
}

function failureKind(err: unknown): string {
  if (!TroupeError.is(err)) return 'handler_error';
  return err.code === ErrorCode.AskTimeout ? 'timeout' : err.code.toLowerCase();
}

class ActorTargetClient implements ActorClient, OpenedTarget<ActorClient> {
  readonly client: ActorClient = this;
  readonly ref: AnyActorRef;
  readonly #name: string;
  readonly #recorder: Recorder;
  readonly #stop: StopSignal;
  readonly #timeoutMs: number;

  constructor(ref: AnyActorRef, context: TargetContext, timeoutMs: number) {
    this.ref = ref;
    this.#name = context.name;
    this.#recorder = context.recorder;
    this.#stop = new StopSignal(context.signal);
    this.#timeoutMs = timeoutMs;
  }

  // biome-ignore lint/suspicious/noExplicitAny: see ActorClient.ask
  async ask<R = any>(message: unknown, options?: { timeoutMs?: number }): Promise<R> {
    if (this.#stop.aborted) throw stopped(this.#name);
    const started = performance.now();
    try {
      const reply = (await this.ref.ask(message as never, {
        timeout: options?.timeoutMs ?? this.#timeoutMs,
        signal: this.#stop.signal,
      })) as R;
      this.#recorder.request(this.#name, performance.now() - started, {});
      return reply;
    } catch (err) {
      if (this.#stop.aborted) throw stopped(this.#name, err);
      const kind = failureKind(err);
      this.#recorder.request(this.#name, performance.now() - started, { error: kind });
      throw targetFailure(this.#name, kind, err);
    }
  }

  tell(message: unknown): void {
    if (this.#stop.aborted) throw stopped(this.#name);
    this.#recorder.count('requests');
    try {
      this.ref.tell(message as never);
    } catch (err) {
      const kind = failureKind(err);
      this.#recorder.count('errors');
      this.#recorder.count(`errors.${kind}`);
      throw targetFailure(this.#name, kind, err);
    }
  }

  async close(): Promise<void> {
    this.#stop.dispose();
  }
}

/**
 * A troupe actor or agent as a target: by address (`node/path`, any node of the cluster the load node is on) or
 * as a virtual actor `{ type, id }`. Asks go through the node's own system, so they cross NATS like any ask.
 *
 * @example
 * targets: { pricer: actor({ type: 'pricer', id: 'eu' }) },
 * scenario: async (vu) => { await vu.targets.pricer.ask({ type: 'quote', sku: 'a1' }); }
 */
export function actor(
  target: string | VirtualActorTarget,
  options: ActorTargetOptions = {},
): TargetFactory<ActorClient> {
  if (typeof target === 'string') {
    if (!/^[^/\s]+\/\S+$/.test(target))
      throw new InvalidOptionsError('address', `expected an actor address node/path, got ${target}`);
  } else if (
    typeof target !== 'object' ||
    target === null ||
    typeof target.type !== 'string' ||
    target.type === '' ||
    typeof target.id !== 'string' ||
    target.id === ''
  )
    throw new InvalidOptionsError('target', 'expected an address or { type, id } of a virtual actor');
  assertOptionsObject(options, 'options');
  const timeoutMs = intOption(options.timeoutMs, 'timeoutMs', 5000, 1);
  const aim = typeof target === 'string' ? target : { type: target.type, id: target.id };
  return {
    kind: 'actor',
    describe: () => (typeof aim === 'string' ? `actor ${aim}` : `virtual ${aim.type}/${aim.id}`),
    async open(context) {
      const ref =
        typeof aim === 'string' ? context.system.ref(aim) : context.system.virtual(aim.type, aim.id);
      return new ActorTargetClient(ref, context, timeoutMs);
    },
  };
}
