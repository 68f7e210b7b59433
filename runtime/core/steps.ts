// Ordered cleanup: run every step in turn, one that fails does not stop the rest, the first error is kept.

/**
 * Runs cleanup steps in order (BullMQ's `Worker.close` does the same): each step runs even if one before it
 * failed; `errors` collects what failed.
 *
 * @example
 * const steps = new OrderedSteps();
 * await steps.run(() => worker.close());
 * await steps.run(() => queue.close());
 * if (steps.first) throw steps.first;
 */
export class OrderedSteps {
  readonly errors: unknown[] = [];

  /** Runs one step; its error is recorded, never thrown. */
  async run(step: () => unknown): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.errors.push(err);
    }
  }

  /** The first error met, if any. */
  get first(): Error | undefined {
    return this.errors[0] as Error | undefined;
  }
}
