// A pool: one address in front of N identical child actors, spreading messages over them.

import {
  type ActorDefinition,
  type AnyActorRef,
  defineActor,
  InvalidOptionsError,
  type Protocol,
} from '../runtime/index.js';
import { assertOptionsObject } from '../runtime/internal.js';

/** How a pool picks the worker for each message. */
export type PoolStrategy = 'round-robin' | 'random' | 'least-loaded';

/** Options of {@link definePool}. */
export interface PoolOptions {
  /** Number of workers, spawned as children named `w0`, `w1`, ... */
  size: number;
  /** @defaultValue 'round-robin' */
  strategy?: PoolStrategy;
  /** Random source for the `random` strategy. @defaultValue Math.random */
  random?: () => number;
}

/** {@link PoolOptions} after defaults. */
export interface ResolvedPoolOptions {
  size: number;
  strategy: PoolStrategy;
  random: () => number;
}

export const DEFAULT_POOL_STRATEGY: PoolStrategy = 'round-robin';

/** Validates pool options; throws {@link InvalidOptionsError} naming the field. Never mutates its input. */
export function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  assertOptionsObject(options, 'options', 'expected { size, strategy?, random? }');
  if (!Number.isInteger(options?.size) || options.size < 1 || options.size > 100_000) {
    throw new InvalidOptionsError(
      'size',
      `expected an integer from 1 to 100000, got ${String(options?.size)}`,
    );
  }
  const strategy = options.strategy ?? DEFAULT_POOL_STRATEGY;
  if (!['round-robin', 'random', 'least-loaded'].includes(strategy)) {
    throw new InvalidOptionsError(
      'strategy',
      `expected round-robin, random or least-loaded, got ${String(strategy)}`,
    );
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new InvalidOptionsError('random', 'expected a function');
  return { size: options.size, strategy, random };
}

interface PoolState {
  workers: AnyActorRef[];
  inFlight: number[];
  next: number;
}

/**
 * Defines a pool actor with the same protocol as its workers: tell or ask the pool, and one worker handles
 * the message and answers the asker directly (the pool forwards the envelope untouched).
 *
 * `least-loaded` counts messages forwarded to each worker; workers report nothing back, so it balances on
 * what was sent, which suits handlers of similar cost.
 *
 * @example
 * const pool = system.spawn(definePool(summarizer, { size: 8 }), { name: 'summarizers' });
 * const summary = await pool.ask({ type: 'summarize', text });
 */
export function definePool<P extends Protocol, S>(
  worker: ActorDefinition<P, S>,
  options: PoolOptions,
): ActorDefinition<P, PoolState> {
  if (
    typeof worker !== 'object' ||
    worker === null ||
    typeof worker.handlers !== 'object' ||
    worker.handlers === null
  )
    throw new InvalidOptionsError('worker', 'expected an actor definition from defineActor()');
  const { size, strategy, random } = resolvePoolOptions(options);
  const pick = (state: PoolState): number => {
    if (strategy === 'random') return Math.min(size - 1, Math.floor(random() * size));
    if (strategy === 'least-loaded') {
      let best = 0;
      for (let i = 1; i < size; i++) if (state.inFlight[i]! < state.inFlight[best]!) best = i;
      return best;
    }
    const i = state.next;
    state.next = (i + 1) % size;
    return i;
  };
  const route = (_message: unknown, ctx: { state: PoolState; forward(target: AnyActorRef): void }): void => {
    const i = pick(ctx.state);
    ctx.state.inFlight[i] = (ctx.state.inFlight[i] ?? 0) + 1;
    ctx.forward(ctx.state.workers[i]!);
  };
  // Every message type the worker handles is routed; the pool itself handles none.
  const handlers = Object.fromEntries(Object.keys(worker.handlers).map((type) => [type, route]));
  return defineActor<P, PoolState>({
    type: `pool(${worker.type})`,
    init: (ctx) => ({
      workers: Array.from({ length: size }, (_, i) => ctx.spawn(worker, { name: `w${i}` })),
      inFlight: new Array<number>(size).fill(0),
      next: 0,
    }),
    handlers: handlers as unknown as ActorDefinition<P, PoolState>['handlers'],
  });
}
