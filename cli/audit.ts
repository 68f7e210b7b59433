// `troupe audit`: the fleet's audit log (every tool call and model call of its agents, and with --kind security
// every frame a node refused) from its JetStream stream, filtered by agent, tool, kind and time; a table, or
// JSON with --json.

import { AUDIT_LOG_NAME, type AuditEntry, auditLog } from '../agents/index.js';
import { natsAppendLog } from '../transport/index.js';
import { type Invocation, invocation, printJson, table, UsageError } from './args.js';
import { connectTo, natsAuthOption } from './connect.js';

const USAGE = `Usage: troupe audit [--agent A] [--tool T] [--kind tool|model|security] [--since TIME] [--limit N]
                   [--log NAME] [--nats URL] [--namespace NS] [--json]

Lists the newest records of the namespace's audit log (oldest first): each tool call with the agent that made
it, its run and call ids, the tool, a hash of its arguments (sha256 of their canonical JSON), the outcome
(ok or a code such as TOOL_FORBIDDEN), duration and cost; and each model call (router group, outcome such as
BUDGET_EXCEEDED, tokens, cost). With --kind security: each frame a node refused (UNSIGNED_FRAME,
BAD_SIGNATURE, UNKNOWN_SIGNER, ACL_DENIED, DECRYPT_FAILED), with the node, the target, the claimed signer
and sender, and the subject it came on. Records live in the JetStream stream TROUPE_LOG_<namespace>_<log>.

Options:
  --agent A                only this agent's records
  --tool T                 only calls of this tool
  --kind K                 tool or model; security for refused frames (not with --agent or --tool)
  --since TIME             records at or after TIME: an ISO date (2026-01-31T12:00:00Z) or an age (90s, 15m, 2h, 1d)
  --limit N                the newest N matching records (default 100)
  --log NAME               the audit log's name (default ${AUDIT_LOG_NAME})
`;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO time, or an age back from now. */
export function parseSince(value: string, now = Date.now()): number {
  const age = /^(\d+)(s|m|h|d)$/.exec(value);
  if (age !== null) return now - Number(age[1]) * (UNITS[age[2] as string] as number);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms))
    throw new UsageError(`--since expects an ISO time or an age like 15m, got ${value}`);
  return ms;
}

function render(records: readonly AuditEntry[]): string {
  if (records.length === 0) return 'no audit records match\n';
  const rows = records.map((r) => [
    new Date(r.at).toISOString(),
    r.agent,
    r.kind,
    r.kind === 'tool' ? r.tool : r.group,
    r.outcome,
    r.durationMs === undefined ? '' : r.durationMs.toFixed(1),
    r.cost === undefined ? '' : String(r.cost),
    r.runId ?? '',
    r.kind === 'tool' ? r.callId : r.tokens === undefined ? '' : `${r.tokens} tokens`,
    r.kind === 'tool' ? r.argsHash.slice(0, 12) : '',
  ]);
  const head = ['TIME', 'AGENT', 'KIND', 'TOOL/GROUP', 'OUTCOME', 'MS', 'COST', 'RUN', 'CALL', 'ARGS'];
  return table(head, rows, new Set([5, 6]));
}

/** What the table shows of a security record (agents' SecurityAuditEntry). */
interface Denial {
  readonly at: number;
  readonly node: string;
  readonly code: string;
  readonly target: string;
  readonly signer?: string;
  readonly sender?: string;
  readonly subject?: string;
  readonly count?: number;
}

function renderDenials(records: readonly Denial[]): string {
  if (records.length === 0) return 'no audit records match\n';
  const rows = records.map((r) => [
    new Date(r.at).toISOString(),
    r.node,
    r.code,
    r.target,
    r.signer ?? '',
    r.sender ?? '',
    r.subject ?? '',
    String(r.count ?? 1),
  ]);
  return table(
    ['TIME', 'NODE', 'CODE', 'TARGET', 'SIGNER', 'SENDER', 'SUBJECT', 'COUNT'],
    rows,
    new Set([7]),
  );
}

async function list(inv: Invocation<Record<string, unknown>>): Promise<number> {
  const { values } = inv;
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!(Number.isInteger(limit) && limit > 0))
    throw new UsageError(`--limit expects a positive integer, got ${String(values.limit)}`);
  const kind = values.kind as string | undefined;
  if (kind !== undefined && kind !== 'tool' && kind !== 'model' && kind !== 'security')
    throw new UsageError(`--kind expects tool, model or security, got ${kind}`);
  if (kind === 'security' && (values.agent !== undefined || values.tool !== undefined))
    throw new UsageError('--kind security lists refused frames: --agent and --tool do not apply');
  const since = typeof values.since === 'string' ? parseSince(values.since) : undefined;
  const name = typeof values.log === 'string' ? values.log : AUDIT_LOG_NAME;
  const { nats, namespace } = inv.config.values;
  const log = await connectTo('NATS', nats, () =>
    natsAppendLog({
      servers: nats,
      ...natsAuthOption(inv.config),
      namespace,
      name,
      connectOptions: { reconnect: false },
      opTimeoutMs: 5000,
    }),
  );
  try {
    const audit = auditLog(log, { logger: inv.logger });
    const window = { limit, ...(since === undefined ? {} : { since }) };
    if (kind === 'security') {
      const denials = await audit.query({ ...window, kind });
      if (inv.json) printJson(denials);
      else process.stdout.write(renderDenials(denials));
      return 0;
    }
    const records = await audit.query({
      ...window,
      ...(typeof values.agent === 'string' ? { agent: values.agent } : {}),
      ...(typeof values.tool === 'string' ? { tool: values.tool } : {}),
      ...(kind === undefined ? {} : { kind }),
    });
    if (inv.json) printJson(records);
    else process.stdout.write(render(records));
    return 0;
  } finally {
    await log.close();
  }
}

/** Runs `troupe audit`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      agent: { type: 'string' },
      tool: { type: 'string' },
      kind: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      log: { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  return list(inv);
}
