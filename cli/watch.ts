// The loop of the commands that keep watching (`ps --watch`, `dead-letters --follow`): a round, a pause, until
// SIGINT or SIGTERM, which also cut the pause short.

/** Runs `round` every `intervalMs` until a signal; `round` is told whether a signal came while it ran. */
export async function everyUntilSignal(
  intervalMs: number,
  round: (stopped: () => boolean) => Promise<void>,
): Promise<void> {
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      await round(() => stopped);
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
