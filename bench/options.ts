// Options of `troupe bench`: what users pass on the command line, their defaults, and validation.

import { parseArgs } from 'node:util';
import { BenchError, BenchErrorCode } from './errors.js';

/** What `troupe bench` accepts (the parsed command line). */
export interface BenchOptions {
  /** Scenario names; all when empty. @defaultValue [] */
  scenarios?: string[];
  /** Fewer repeats, smaller counts, shorter rounds. @defaultValue false */
  quick?: boolean;
  /** Measured repeats per scenario (after one warm-up round). @defaultValue 3, or 2 with `quick` */
  repeat?: number;
  /** Write the JSON report here. */
  json?: string;
  /** Write the HTML report here. */
  html?: string;
  /** Use this NATS server instead of starting a private one. */
  nats?: string;
  /** Use this Redis server instead of starting a private one. */
  redis?: string;
  /** Compare two JSON reports instead of running. */
  compare?: [string, string];
  /** Sender process counts for scenarios that spread load (nats-tell). @defaultValue [1, 2], or [1] with `quick` */
  clients?: number[];
  /** Receiver process counts for scenarios that spread load (nats-tell). @defaultValue [1, 2], or [1] with `quick` */
  nodes?: number[];
  /** Time bound of each measured phase, ms. @defaultValue 5000, or 1500 with `quick` */
  roundMs?: number;
  /** Forces the per-round message count of every scenario (smoke tests). */
  count?: number;
  /** Write V8 CPU profiles of the worker processes into this directory. */
  profileDir?: string;
  /** Print the scenarios and exit. @defaultValue false */
  list?: boolean;
  /** Print usage and exit. @defaultValue false */
  help?: boolean;
}

/** {@link BenchOptions} after defaults. */
export interface ResolvedBenchOptions {
  scenarios: string[];
  quick: boolean;
  repeat: number;
  json: string | undefined;
  html: string | undefined;
  nats: string | undefined;
  redis: string | undefined;
  compare: [string, string] | undefined;
  clients: number[];
  nodes: number[];
  roundMs: number;
  count: number | undefined;
  profileDir: string | undefined;
  list: boolean;
  help: boolean;
}

export const DEFAULT_REPEAT = 3;
export const DEFAULT_QUICK_REPEAT = 2;
export const DEFAULT_ROUND_MS = 5000;
export const DEFAULT_QUICK_ROUND_MS = 1500;
export const DEFAULT_PROCESS_COUNTS: readonly number[] = [1, 2];
export const DEFAULT_QUICK_PROCESS_COUNTS: readonly number[] = [1];

/** Most sender or receiver processes one layout may use. */
const MAX_PROCESSES = 32;

/** Usage text of `troupe bench --help`. */
export const USAGE = `troupe bench: benchmark troupe next to its raw-library baselines

Usage:
  troupe bench [scenario...] [options]
  troupe bench --compare old.json new.json

Options:
  --quick               fewer repeats (2), smaller counts, 1.5 s rounds: all scenarios in well under 3 minutes
  --repeat N            measured repeats per scenario after one warm-up round (default 3)
  --json FILE           write the JSON report (schema: bench/README.md)
  --html FILE           write a self-contained HTML report with charts
  --nats URL            use this NATS server (default: start a private nats-server on 127.0.0.1)
  --redis URL           use this Redis server (default: start a private redis-server when a scenario needs one)
  --clients K[,K...]    sender processes for scenarios that spread load (nats-tell; default 1,2; quick 1)
  --nodes M[,M...]      receiver processes for those scenarios, worker processes for tasks-throughput
                        (default 1,2; quick 1)
  --round-ms MS         time bound of each measured phase (default 5000; quick 1500)
  --count N             force the per-round count of every scenario (for smoke tests)
  --profile DIR         write CPU profiles of the worker processes into DIR
  --compare OLD NEW     print the change of every figure and flag drops beyond the spread (exit 1 if any)
  --list                list the scenarios
  -h, --help            show this text

Without --json, the report is also written to bench/results/latest.json when that folder exists.
`;

function invalid(field: string, problem: string): never {
  throw new BenchError(BenchErrorCode.InvalidOptions, `invalid option ${field}: ${problem}`);
}

function positiveInt(value: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    invalid(field, `expected an integer in 1..${max}, got ${String(value)}`);
  }
  return value;
}

function counts(value: number[] | undefined, field: string, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.length === 0) invalid(field, 'expected one or more process counts');
  return [...new Set(value.map((v) => positiveInt(v, field, MAX_PROCESSES)))].sort((a, b) => a - b);
}

function url(value: string | undefined, field: string, schemes: string[]): string | undefined {
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    invalid(field, `not a URL: ${value}`);
  }
  if (!schemes.includes(parsed.protocol))
    invalid(field, `expected ${schemes.join(' or ')} URL, got ${value}`);
  return value;
}

/** Applies defaults and validates; never mutates `options`. Throws `BENCH_INVALID_OPTIONS` naming the field. */
export function resolveBenchOptions(options: BenchOptions = {}): ResolvedBenchOptions {
  const quick = options.quick ?? false;
  return {
    scenarios: [...(options.scenarios ?? [])],
    quick,
    repeat:
      options.repeat === undefined
        ? quick
          ? DEFAULT_QUICK_REPEAT
          : DEFAULT_REPEAT
        : positiveInt(options.repeat, '--repeat', 100),
    json: options.json,
    html: options.html,
    nats: url(options.nats, '--nats', ['nats:', 'tls:']),
    redis: url(options.redis, '--redis', ['redis:', 'rediss:']),
    compare: options.compare ? [options.compare[0], options.compare[1]] : undefined,
    clients: counts(
      options.clients,
      '--clients',
      quick ? DEFAULT_QUICK_PROCESS_COUNTS : DEFAULT_PROCESS_COUNTS,
    ),
    nodes: counts(options.nodes, '--nodes', quick ? DEFAULT_QUICK_PROCESS_COUNTS : DEFAULT_PROCESS_COUNTS),
    roundMs:
      options.roundMs === undefined
        ? quick
          ? DEFAULT_QUICK_ROUND_MS
          : DEFAULT_ROUND_MS
        : positiveInt(options.roundMs, '--round-ms', 600_000),
    count: options.count === undefined ? undefined : positiveInt(options.count, '--count'),
    profileDir: options.profileDir,
    list: options.list ?? false,
    help: options.help ?? false,
  };
}

/** The flags `parseBenchArgs` accepts (besides `--compare OLD NEW`, taken out first). */
const OPTION_SPEC = {
  quick: { type: 'boolean' },
  repeat: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  nats: { type: 'string' },
  redis: { type: 'string' },
  clients: { type: 'string' },
  nodes: { type: 'string' },
  'round-ms': { type: 'string' },
  count: { type: 'string' },
  profile: { type: 'string' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function intList(text: string, field: string): number[] {
  return text.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n)) invalid(field, `expected comma-separated integers, got ${text}`);
    return n;
  });
}

function int(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) invalid(field, `expected an integer, got ${text}`);
  return n;
}

/** Parses the arguments after `troupe bench` into {@link BenchOptions}. Throws `BENCH_INVALID_OPTIONS`. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const args = [...argv];
  let compare: [string, string] | undefined;
  const at = args.indexOf('--compare');
  if (at >= 0) {
    const [a, b] = args.slice(at + 1, at + 3);
    if (a === undefined || b === undefined || a.startsWith('-') || b.startsWith('-')) {
      invalid('--compare', 'expected two report files: --compare old.json new.json');
    }
    compare = [a, b];
    args.splice(at, 3);
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTION_SPEC; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options: OPTION_SPEC, allowPositionals: true, strict: true });
  } catch (err) {
    invalid('(command line)', (err as Error).message);
  }
  const v = parsed.values;
  const options: BenchOptions = { scenarios: parsed.positionals };
  if (v.quick) options.quick = true;
  if (v.list) options.list = true;
  if (v.help) options.help = true;
  if (compare) options.compare = compare;
  const repeat = int(v.repeat, '--repeat');
  if (repeat !== undefined) options.repeat = repeat;
  const roundMs = int(v['round-ms'], '--round-ms');
  if (roundMs !== undefined) options.roundMs = roundMs;
  const count = int(v.count, '--count');
  if (count !== undefined) options.count = count;
  if (v.json !== undefined) options.json = v.json;
  if (v.html !== undefined) options.html = v.html;
  if (v.nats !== undefined) options.nats = v.nats;
  if (v.redis !== undefined) options.redis = v.redis;
  if (v.profile !== undefined) options.profileDir = v.profile;
  if (v.clients !== undefined) options.clients = intList(v.clients, '--clients');
  if (v.nodes !== undefined) options.nodes = intList(v.nodes, '--nodes');
  return options;
}
