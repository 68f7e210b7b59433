// `troupe load run <test.mjs>`: a load test, in this process or spread over the `troupe node --role load`
// processes on NATS; a progress line while it runs, a summary (and --json/--html reports) at the end, and an
// exit code from its thresholds.

import { writeFile } from 'node:fs/promises';
import {
  createProgressLine,
  LoadError,
  type LoadReport,
  loadCapsFromEnv,
  parseDuration,
  readLoadReport,
  renderLoadComparison,
  renderLoadHtml,
  renderLoadSummary,
  runLoad,
} from '../load/index.js';
import { invocation, UsageError } from './args.js';
import { isSet } from './config.js';
import { natsAuth, probe } from './connect.js';
import { SECURITY_HELP, SECURITY_OPTION, securityOption } from './security.js';

const USAGE = `Usage: troupe load run <test.mjs|test.ts> [--nats URL] [--nodes N] [--vus N] [--duration 30s] [--rate N]
                       [--json FILE] [--html FILE] [--compare OLD.json] [--quiet]

Runs the load test a module defines (its default export, or export "test", made with defineLoad from
troupe/load). Without NATS it runs in this process. With --nats (or NATS_URL, or the config file) it joins
NATS and spreads the virtual users over every node started with \`troupe node --role load\` on the same
namespace: the module is shipped to them, each node runs its share, and their histograms are merged exactly.

Every run stops by itself at its duration. Ctrl-C stops every node's VUs within a second and still writes the
report. Targets aim at loopback only, unless the test lists a host in allowHosts. Hard caps come from the
environment: TROUPE_LOAD_MAX_VUS (default 2000) and TROUPE_LOAD_MAX_RATE (iterations/s, default 50000).
The module is JavaScript (.mjs/.js) or TypeScript (.ts/.mts): Node 20 cannot strip types, so a TypeScript test
is compiled first with the typescript package of its project (types erased, not checked; one file, its relative
imports are not compiled along).

Options:
  --nodes N            wait for N load nodes and run on them (default: all seen once the view settles)
  --wait MS            how long to wait for the load nodes (default 15000)
  --vus N              closed model: N constant VUs; open model: N VUs allocated (and at most N)
  --duration D         a constant executor's duration: 30s, 500ms, 2m, 1m30s
  --rate N             a constant arrival rate's iterations per time unit
  --json FILE          write the report as JSON (- for stdout)
  --html FILE          write the report as a self-contained HTML page
  --compare OLD.json   print the main figures of an earlier report next to this run's, with ratios
  --quiet              no progress line
  --node-id ID         the coordinator's node id on NATS (a signing coordinator's names its key)
${SECURITY_HELP}
Exit codes: 0 every threshold met, 1 a threshold failed, 130 interrupted (Ctrl-C), 2 a usage or setup error.
`;

/** How long the process may linger after the report, before it exits anyway. */
const EXIT_GRACE_MS = 2000;

function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0))
    throw new UsageError(`${flag} expects a positive integer, got ${String(value)}`);
  return n;
}

function positive(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0))
    throw new UsageError(`${flag} expects a positive number, got ${String(value)}`);
  return n;
}

/** SIGINT aborts the run (once); a second one exits at once. */
function interruptOnSigint(controller: AbortController): () => void {
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\ntroupe load: interrupted: stopping every node…\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function writeOutputs(
  report: LoadReport,
  values: Record<string, unknown>,
  old: LoadReport | undefined,
): Promise<void> {
  const json = values.json as string | undefined;
  const toStdout = json === '-';
  if (json !== undefined) {
    const text = `${JSON.stringify(report, null, toStdout ? undefined : 2)}\n`;
    if (toStdout) process.stdout.write(text);
    else await writeFile(json, text);
  }
  if (typeof values.html === 'string') await writeFile(values.html, renderLoadHtml(report));
  const out = toStdout ? process.stderr : process.stdout;
  out.write(renderLoadSummary(report));
  if (old !== undefined) out.write(`\n${renderLoadComparison(old, report)}`);
}

/** Runs `troupe load`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      nodes: { type: 'string' },
      wait: { type: 'string' },
      vus: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      compare: { type: 'string' },
      quiet: { type: 'boolean' },
      'node-id': { type: 'string' },
      ...SECURITY_OPTION,
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const { values, config } = inv;
  const [verb, file, ...extra] = inv.positionals;
  if (verb !== 'run' || file === undefined || extra.length > 0)
    throw new UsageError('expected: troupe load run <test.mjs>');
  const nodes = positiveInt(values.nodes, '--nodes');
  const waitNodesMs = positiveInt(values.wait, '--wait');
  const vus = positiveInt(values.vus, '--vus');
  const rate = positive(values.rate, '--rate');
  const quiet = values.quiet === true;
  const controller = new AbortController();
  // Notes (a node lost) always go to stderr; the progress line only without --quiet.
  const progress = createProgressLine(process.stderr);
  const distributed = isSet(config, 'nats');
  const auth = distributed ? natsAuth(config) : undefined;
  const nodeId = typeof values['node-id'] === 'string' ? values['node-id'] : undefined;
  const fleet = distributed
    ? {
        nats: config.values.nats,
        namespace: config.values.namespace,
        ...(auth === undefined ? {} : { auth }),
        ...(nodeId === undefined ? {} : { nodeId }),
        ...securityOption(values['security-file'], nodeId),
      }
    : {};
  let release: (() => void) | undefined;
  let report: LoadReport;
  let old: LoadReport | undefined;
  try {
    const durationMs =
      values.duration === undefined ? undefined : parseDuration(String(values.duration), '--duration');
    // A bad --compare file fails before the run, not after it.
    old = typeof values.compare === 'string' ? await readLoadReport(values.compare) : undefined;
    const caps = loadCapsFromEnv(process.env);
    release = interruptOnSigint(controller);
    const run = () =>
      runLoad(file, {
        caps,
        logger: inv.logger,
        signal: controller.signal,
        ...(nodes === undefined ? {} : { nodes }),
        ...(waitNodesMs === undefined ? {} : { waitNodesMs }),
        ...(vus === undefined ? {} : { vus }),
        ...(rate === undefined ? {} : { rate }),
        ...(durationMs === undefined ? {} : { durationMs }),
        ...(quiet ? {} : { onProgress: (p) => progress.update(p) }),
        onNote: (text) => progress.note(`troupe load: ${text}`),
        ...fleet,
      });
    if (distributed) await probe('NATS', config.values.nats);
    report = await run();
  } catch (err) {
    progress.close();
    if (controller.signal.aborted) {
      process.stderr.write(`troupe load: interrupted before the run started\n`);
      return 130;
    }
    if (err instanceof LoadError) {
      process.stderr.write(`troupe load: ${err.code}: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    release?.();
  }
  progress.close();
  await writeOutputs(report, values, old);
  const code = report.interrupted ? 130 : report.ok ? 0 : 1;
  // Everything is closed by now; a socket a target left lingering must not hold the exit.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}
