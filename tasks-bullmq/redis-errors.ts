// What a runner does with Redis errors: every connection and background promise reports here. While Redis is
// away the same connection error comes back on every retry, so lines are rate-limited (one per kind per 5 s)
// and only the latest few errors are kept; none ever crashes the process.

import { LogLimiter } from '../runtime/internal.js';
import { type ResolvedBullmqOptions, redactUrl } from './options.js';

/** Most errors kept. */
const KEPT = 10;

/** @internal One runner's Redis errors: logged (rate-limited) until the runner closes, the latest few kept. */
export class RedisErrors {
  /** The latest errors, oldest first (for debugging). */
  readonly recent: unknown[] = [];
  readonly #config: ResolvedBullmqOptions;
  readonly #log: LogLimiter;
  readonly #isClosed: () => boolean;

  constructor(config: ResolvedBullmqOptions, isClosed: () => boolean) {
    this.#config = config;
    this.#isClosed = isClosed;
    this.#log = new LogLimiter({
      logger: config.logger,
      clock: config.clock,
      level: 'warn',
      kindField: 'kind',
    });
  }

  /** Records an error; bound, so it can be handed to `on('error')` and `.catch` as it is. */
  readonly note = (err: unknown): void => {
    if (this.recent.length >= KEPT) this.recent.shift();
    this.recent.push(err);
    if (this.#isClosed()) return;
    const code = (err as { code?: unknown }).code;
    this.#log.note(typeof code === 'string' ? code : 'error', 'Redis error', () => ({
      redis: redactUrl(this.#config.url),
      error: err,
    }));
  };

  /** Writes the counts of lines held back (the runner is closing). */
  flush(): void {
    this.#log.flush();
  }
}
