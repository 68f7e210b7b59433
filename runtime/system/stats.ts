// What a node counts for its metrics (`createSystem({ metrics })`): per actor type, asks by outcome, and the
// figures read from the dead-letter office, the transport and the task runner when metrics are collected.

import type { ActorCell } from '../actor/cell.js';
import { ActorMeter, actorTypeOf } from '../actor/metrics-hooks.js';
import type { DeadLetters } from '../core/dead-letters.js';
import { OTHER_REASONS } from '../core/dead-letters.js';
import type { ActorTypeStats, Metrics, MetricsRecorder, NodeStats } from '../ports/metrics.js';
import type { Transport } from '../ports/transport.js';
import type { TaskRunner } from '../tasks/runner.js';

/** Distinct ask outcomes counted one by one (codes can come from other nodes); the rest count as `OTHER`. */
const MAX_OUTCOMES = 64;

/** @internal Settled asks by outcome: `ok`, or the error's code. */
export class AskOutcomes {
  readonly #counts = new Map<string, number>();

  count(outcome: string): void {
    const known = this.#counts.get(outcome);
    if (known !== undefined) this.#counts.set(outcome, known + 1);
    else if (this.#counts.size < MAX_OUTCOMES) this.#counts.set(outcome, 1);
    else this.#counts.set(OTHER_REASONS, (this.#counts.get(OTHER_REASONS) ?? 0) + 1);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** What the node's figures are read from. */
export interface StatsParts {
  nodeId: string;
  cells: ReadonlyMap<string, ActorCell>;
  deadLetters: DeadLetters;
  asks: { readonly size: number };
  transport: Transport | undefined;
  tasks: TaskRunner | undefined;
}

/** @internal The counting side of a system with metrics. */
export class SystemStats {
  readonly meter: ActorMeter;
  readonly asks = new AskOutcomes();
  readonly #parts: StatsParts;
  readonly #recorder: MetricsRecorder;

  constructor(metrics: Metrics, parts: StatsParts) {
    this.#parts = parts;
    this.#recorder = metrics.attach({ nodeId: parts.nodeId, stats: () => this.collect() });
    this.meter = new ActorMeter(this.#recorder);
  }

  failed(cell: ActorCell): void {
    this.meter.countersOf(actorTypeOf(cell)).failures++;
  }

  restarted(cell: ActorCell): void {
    this.meter.countersOf(actorTypeOf(cell)).restarts++;
  }

  detach(): void {
    try {
      this.#recorder.detach();
    } catch {
      // Closing the system must not fail on its metrics.
    }
  }

  /** The node's figures now: O(live actors). */
  collect(): NodeStats {
    const { nodeId, cells, deadLetters, asks, transport, tasks } = this.#parts;
    const byType = new Map<string, ActorTypeStats>();
    const entry = (type: string): ActorTypeStats => {
      let stats = byType.get(type);
      if (stats === undefined) {
        stats = { type, messagesIn: 0, messagesOut: 0, failures: 0, restarts: 0, active: 0, mailboxDepth: 0 };
        byType.set(type, stats);
      }
      return stats;
    };
    for (const counters of this.meter.types()) {
      const stats = entry(counters.type);
      stats.messagesIn = counters.messagesIn;
      stats.messagesOut = counters.messagesOut;
      stats.failures = counters.failures;
      stats.restarts = counters.restarts;
    }
    for (const cell of cells.values()) {
      const stats = entry(actorTypeOf(cell));
      stats.active++;
      stats.mailboxDepth += cell.mailboxDepth;
    }
    return {
      nodeId,
      actorTypes: [...byType.values()],
      deadLetters: deadLetters.byReason(),
      asks: this.asks.snapshot(),
      asksPending: asks.size,
      transport: safely(() => transport?.stats?.()),
      tasks: safely(() => tasks?.stats?.()),
    };
  }
}

/** A figure an adapter reports, or nothing when reading it fails: one broken part must not hide the rest. */
function safely<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
