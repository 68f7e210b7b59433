// Progress on stderr while a run goes: one live, rewritten line on a terminal; plain lines otherwise.

/** Where a run reports what it is doing. */
export interface Progress {
  /** A scenario starts (`index` counts from 1). */
  scenario(name: string, index: number, total: number): void;
  /** What the current scenario does now (phase, round). */
  detail(text: string): void;
  /** A line that stays (a scenario's summary, a warning). */
  line(text: string): void;
  /** Ends the live line. */
  close(): void;
}

/** The stream a {@link Progress} writes to: stderr, or a stand-in in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * Creates the progress reporter. On a TTY it redraws one line (with the elapsed time, every 250 ms); elsewhere it
 * prints one plain line per change, so logs stay readable.
 *
 * @example
 * const progress = createProgress();
 * progress.scenario('local-tell', 1, 7);
 * progress.detail('round 1/3: troupe');
 */
export function createProgress(stream: ProgressStream = process.stderr): Progress {
  const live = stream.isTTY === true;
  let head = '';
  let text = '';
  let since = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const render = (): void => {
    const secs = ((Date.now() - since) / 1000).toFixed(1);
    const full = `${head} ${text} (${secs}s)`;
    const width = (stream as { columns?: number }).columns ?? 120;
    stream.write(`\r\x1b[K${full.length > width - 1 ? `${full.slice(0, width - 2)}…` : full}`);
  };
  const clear = (): void => {
    if (live) stream.write('\r\x1b[K');
  };
  return {
    scenario(name, index, total) {
      head = `[${index}/${total}] ${name}`;
      text = 'starting';
      since = Date.now();
      if (live) {
        timer ??= setInterval(render, 250);
        timer.unref();
        render();
      } else stream.write(`${head}: starting\n`);
    },
    detail(next) {
      text = next;
      if (live) render();
      else stream.write(`${head}: ${next}\n`);
    },
    line(message) {
      clear();
      stream.write(`${message}\n`);
      if (live && timer) render();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clear();
    },
  };
}
