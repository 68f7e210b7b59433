// Task runs and worker attempts counted by task name and state, for metrics (`runner.stats()`).

import type { TaskJobStats, TaskRunStats, TaskStats } from '../runtime/index.js';

/** Most task names counted one by one; task names come from code, so this only guards against misuse. */
const MAX_TASKS = 256;

/** @internal One runner's counters: the runs its callers made, the attempts its workers ran. */
export class TaskCounters {
  readonly #runs = new Map<string, TaskRunStats>();
  readonly #jobs = new Map<string, TaskJobStats>();

  /** The run counters of `task` (shared by any name past the limit). */
  run(task: string): TaskRunStats {
    return entry(this.#runs, task, () => ({ enqueued: 0, completed: 0, failed: 0 }));
  }

  /** The attempt counters of `task`. */
  job(task: string): TaskJobStats {
    return entry(this.#jobs, task, () => ({ completed: 0, failed: 0, retried: 0 }));
  }

  snapshot(): TaskStats {
    const copy = <T extends object>(map: Map<string, T>): Record<string, T> =>
      Object.fromEntries([...map].map(([task, counts]) => [task, { ...counts }]));
    return { runs: copy(this.#runs), jobs: copy(this.#jobs) };
  }
}

function entry<T>(map: Map<string, T>, task: string, make: () => T): T {
  let counts = map.get(task);
  if (counts === undefined) {
    const key = map.size < MAX_TASKS ? task : 'OTHER';
    counts = map.get(key) ?? make();
    map.set(key, counts);
  }
  return counts;
}
