// Raw `request` samples of one node and run, one integer µs per line, for checking merged percentiles from outside.

import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Lines kept in memory before they are appended to the file. */
const FLUSH_AT = 20_000;

/** @internal Appends every `request` sample (exactly as recorded) to `<dir>/<runId>-<node>.txt`. */
export class SampleFile {
  readonly path: string;
  readonly #dir: string;
  #lines: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  #error: unknown;

  constructor(dir: string, runId: string, node: string) {
    this.#dir = dir;
    this.path = join(dir, `${safe(runId)}-${safe(node)}.txt`);
  }

  /** The recorder's `samples` callback. */
  readonly add = (metric: string, micros: number): void => {
    if (metric !== 'request') return;
    this.#lines.push(String(micros));
    if (this.#lines.length >= FLUSH_AT) void this.flush();
  };

  /** Appends what is buffered; resolves once everything so far is on disk. Write errors surface here. */
  flush(): Promise<void> {
    const lines = this.#lines;
    this.#lines = [];
    if (lines.length > 0) {
      const text = `${lines.join('\n')}\n`;
      this.#writing = this.#writing
        .then(() => mkdir(this.#dir, { recursive: true }))
        .then(() => appendFile(this.path, text, 'utf8'))
        .catch((error: unknown) => {
          this.#error ??= error;
        });
    }
    return this.#writing.then(() => {
      if (this.#error !== undefined) throw this.#error;
    });
  }
}

function safe(name: string): string {
  return name.replace(/[^\w.-]/g, '_');
}
