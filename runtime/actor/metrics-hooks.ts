// Counting on the message path when a system has metrics: messages in and out per actor type, and the
// handle duration of one message in `sampleEvery`. Without metrics none of this runs (the cell takes one
// branch past it).

import { isPromiseLike } from '../core/thenable.js';
import type { MetricsRecorder } from '../ports/metrics.js';
import { callHandler } from './handler.js';
import type { CellState, HandlerMeter } from './state.js';

/** @internal Counters of one actor type on one node; cold ones are counted by the system. */
export class TypeCounters {
  readonly type: string;
  messagesIn = 0;
  messagesOut = 0;
  failures = 0;
  restarts = 0;
  /** The last timed handler of this type returned a promise: time every message (see {@link ActorMeter.call}). */
  async = false;
  constructor(type: string) {
    this.type = type;
  }
}

/**
 * The counters of the type whose handler runs synchronously right now (handlers never nest), so that a tell
 * made from it counts as that type's message out. Undefined between handlers.
 */
let running: TypeCounters | undefined;

/** @internal The type an actor is counted under: a virtual actor's (`$v/<type>/<id>`), else its definition's. */
export function actorTypeOf(cell: CellState): string {
  const address = cell.address;
  if (address.startsWith('$v/')) {
    const end = address.indexOf('/', 3);
    if (end > 3) return address.slice(3, end);
  }
  return cell.definition.type;
}

/** @internal A system's counters by actor type, and its recorder for handle durations. */
export class ActorMeter implements HandlerMeter {
  readonly recorder: MetricsRecorder;
  readonly #byType = new Map<string, TypeCounters>();
  /** `sampleEvery - 1` (a power of two minus one), or -1: time nothing. */
  readonly #mask: number;
  #seq = 0;
  /** The last cell and its counters: a turn runs many messages of one cell. */
  #lastCell: CellState | undefined;
  #lastCounters: TypeCounters | undefined;

  constructor(recorder: MetricsRecorder) {
    this.recorder = recorder;
    const every = recorder.sampleEvery;
    this.#mask = every >= 1 ? 2 ** Math.floor(Math.log2(every)) - 1 : -1;
  }

  /** The counters of `type`, made on first use. */
  countersOf(type: string): TypeCounters {
    let counters = this.#byType.get(type);
    if (counters === undefined) {
      counters = new TypeCounters(type);
      this.#byType.set(type, counters);
    }
    return counters;
  }

  /** Every type seen so far. */
  types(): IterableIterator<TypeCounters> {
    return this.#byType.values();
  }

  /** @internal A tell, ask or send leaves: it counts for the running handler's type, if one runs. */
  sent(): void {
    if (running !== undefined) running.messagesOut++;
  }

  /** @internal Calls `handler` for `cell` as {@link callHandler} does, counting (and maybe timing) it. */
  call(cell: CellState, handler: Function, message: unknown): unknown {
    let counters = this.#lastCounters;
    if (counters === undefined || cell !== this.#lastCell) {
      counters = this.countersOf(actorTypeOf(cell));
      this.#lastCell = cell;
      this.#lastCounters = counters;
    }
    counters.messagesIn++;
    running = counters;
    // Sync handlers are timed one in `sampleEvery` (timing costs more than a small handler); async ones,
    // which wait on I/O, every time.
    if (this.#mask < 0 || (!counters.async && (this.#seq++ & this.#mask) !== 0)) {
      const result = callHandler(handler, message, cell.ctx);
      running = undefined;
      return result;
    }
    const start = performance.now();
    const result = callHandler(handler, message, cell.ctx);
    running = undefined;
    if (isPromiseLike(result)) {
      counters.async = true;
      const done = (): void => this.#record(counters.type, start);
      void result.then(done, done);
    } else {
      counters.async = false;
      this.#record(counters.type, start);
    }
    return result;
  }

  #record(type: string, start: number): void {
    try {
      this.recorder.handled(type, (performance.now() - start) / 1000);
    } catch {
      // A faulty metrics implementation must not fail the actor.
    }
  }
}
