// Job counts per queue for `runner.counts()` and `troupe ps --tasks`: one queue's, or every queue's under a prefix.

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskCounts } from '../runtime/index.js';
import type { OrderedSteps } from '../runtime/internal.js';
import { blockingConnection, metaPattern, queueOfMetaKey, type ResolvedBullmqOptions } from './options.js';
import type { TaskProducer } from './producer.js';

/** What a {@link JobCounter} is built from. */
export interface JobCounterOptions {
  readonly config: ResolvedBullmqOptions;
  /** The runner's command connection (scans for queues). */
  readonly control: Redis;
  /** The runner's open queues, used when the task was run here. */
  readonly producers: ReadonlyMap<string, TaskProducer>;
  readonly onError: (err: unknown) => void;
}

/** Counts jobs; opens (and keeps, until {@link close}) a queue per task this process never ran. */
export class JobCounter {
  readonly #options: JobCounterOptions;
  readonly #inspectQueues = new Map<string, Queue>();

  constructor(options: JobCounterOptions) {
    this.#options = options;
  }

  /** Counts the jobs of `task`, or of every queue under the prefix (found by their meta keys) when none is given. */
  async count(task: { readonly name: string } | string | undefined): Promise<Record<string, TaskCounts>> {
    const { control, config } = this.#options;
    let list: string[];
    if (task !== undefined) list = [typeof task === 'string' ? task : task.name];
    else {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const [next, keys] = await control.scan(cursor, 'MATCH', metaPattern(config.prefix), 'COUNT', 1000);
        cursor = next;
        for (const key of keys) found.add(queueOfMetaKey(config.prefix, key));
      } while (cursor !== '0');
      list = [...found].sort();
    }
    const out: Record<string, TaskCounts> = {};
    for (const name of list) {
      const c = await this.#queueFor(name).getJobCounts(
        'waiting',
        'prioritized',
        'active',
        'delayed',
        'completed',
        'failed',
      );
      out[name] = {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      };
    }
    return out;
  }

  /** Closes the queues opened for counting, each as one of `steps`. */
  async close(steps: OrderedSteps): Promise<void> {
    for (const q of this.#inspectQueues.values()) await steps.run(() => q.close());
  }

  #queueFor(name: string): Queue {
    const p = this.#options.producers.get(name);
    if (p !== undefined) return p.queue;
    let q = this.#inspectQueues.get(name);
    if (q === undefined) {
      const { config, onError } = this.#options;
      q = new Queue(name, { connection: blockingConnection(config.url), prefix: config.prefix });
      q.on('error', onError);
      this.#inspectQueues.set(name, q);
    }
    return q;
  }
}
