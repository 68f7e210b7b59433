// Errors the benchmark suite raises: bad options, unknown scenarios, unreadable reports, failed workers.

/** Codes of {@link BenchError}. */
export const BenchErrorCode = {
  InvalidOptions: 'BENCH_INVALID_OPTIONS',
  UnknownScenario: 'BENCH_UNKNOWN_SCENARIO',
  InvalidReport: 'BENCH_INVALID_REPORT',
  Worker: 'BENCH_WORKER_FAILED',
  Timeout: 'BENCH_TIMEOUT',
  Histogram: 'BENCH_HISTOGRAM',
} as const;

export type BenchErrorCode = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];

/**
 * An error of the benchmark suite, with a stable `code`.
 *
 * @example
 * if (BenchError.is(err, BenchErrorCode.UnknownScenario)) process.exitCode = 2;
 */
export class BenchError extends Error {
  override readonly name = 'BenchError';
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** True when `err` is a bench error, optionally with the given code. */
  static is(err: unknown, code?: BenchErrorCode): err is BenchError {
    return err instanceof BenchError && (code === undefined || err.code === code);
  }
}
