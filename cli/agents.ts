// `troupe agents`: the capability cards the fleet's agents publish in NATS KV, as a table or JSON; ranked the
// way `registry.find` ranks them when a capability is asked for.

import { type AgentCard, agentRegistry, blendedCost, DEFAULT_CARD_PREFIX } from '../agents/index.js';
import { DEFAULT_SHARED_BUCKET, natsKeyValue } from '../transport/index.js';
import { type Invocation, invocation, millis, printJson, table, UsageError } from './args.js';
import { connectTo, natsAuthOption } from './connect.js';

const USAGE = `Usage: troupe agents [--capability C] [--max-cost N] [--limit N] [--bucket B] [--kv-namespace NS]
                    [--stale-after MS] [--nats URL] [--json]

Lists the agents' capability cards from the NATS KV bucket they publish in (keys ${DEFAULT_CARD_PREFIX}.*): name,
address, node, model, capabilities, cost per 1k input/output tokens, p50 latency and success rate of recent
runs, load (runs in flight) and the card's age. A card not refreshed within --stale-after is marked stale (its
agent stopped, or its node is gone).
With --capability: only the fresh agents that have it, best first, with their score (lower is better):
cost/max + p50/max + load/max + 2 x (1 - success rate), each relative to the worst candidate.

Options:
  --capability C           rank the agents with capability C (repeat it to require several)
  --max-cost N             with --capability: only agents whose 1k input + 1k output tokens cost at most N
  --limit N                with --capability: the best N
  --bucket B               the KV bucket (default ${DEFAULT_SHARED_BUCKET})
  --kv-namespace NS        the key namespace inside the bucket, if the agents' store has one (default none)
  --stale-after MS         age past which a card is stale (default 30000)
`;

function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0))
    throw new UsageError(`${flag} expects a positive integer, got ${value}`);
  return n;
}

const age = (ms: number): string =>
  ms < 1000
    ? `${Math.max(0, Math.round(ms))}ms`
    : ms < 120_000
      ? `${Math.round(ms / 1000)}s`
      : `${Math.round(ms / 60_000)}m`;

function render(cards: (AgentCard & { score?: number; stale?: boolean })[], ranked: boolean): string {
  if (cards.length === 0) return ranked ? 'no fresh agent has that capability\n' : 'no agent cards\n';
  const now = Date.now();
  const rows = cards.map((c) => [
    ...(ranked ? [String(c.score?.toFixed(3))] : []),
    c.name,
    c.address,
    c.node,
    c.model,
    c.capabilities.join(','),
    `${c.costPer1kTokens.input}/${c.costPer1kTokens.output}`,
    String(Math.round(c.p50LatencyMs)),
    `${Math.round(c.successRate * 100)}%`,
    String(c.load),
    `${age(now - c.updatedAt)}${c.stale ? ' (stale)' : ''}`,
  ]);
  const head = [
    ...(ranked ? ['SCORE'] : []),
    'NAME',
    'ADDRESS',
    'NODE',
    'MODEL',
    'CAPABILITIES',
    'COST/1K IN/OUT',
    'P50MS',
    'OK',
    'LOAD',
    'UPDATED',
  ];
  const offset = ranked ? 1 : 0;
  return table(head, rows, new Set([...(ranked ? [0] : []), 6 + offset, 7 + offset, 8 + offset]));
}

async function list(inv: Invocation<Record<string, unknown>>): Promise<number> {
  const { values } = inv;
  const capabilities = (values.capability as string[] | undefined) ?? [];
  const limit = positiveInt(values.limit, '--limit');
  const maxCost = values['max-cost'] === undefined ? undefined : Number(values['max-cost']);
  if (maxCost !== undefined && !(maxCost >= 0))
    throw new UsageError(`--max-cost expects a number >= 0, got ${String(values['max-cost'])}`);
  if (capabilities.length === 0 && (limit !== undefined || maxCost !== undefined))
    throw new UsageError('--limit and --max-cost rank agents: give --capability too');
  const staleAfterMs = millis(values['stale-after'], '--stale-after', 30_000);
  const bucket = typeof values.bucket === 'string' ? values.bucket : DEFAULT_SHARED_BUCKET;
  const kvNamespace = values['kv-namespace'];
  const { nats } = inv.config.values;
  const store = await connectTo('NATS', nats, () =>
    natsKeyValue({
      servers: nats,
      ...natsAuthOption(inv.config),
      bucket,
      ...(typeof kvNamespace === 'string' ? { namespace: kvNamespace } : {}),
      connectOptions: { reconnect: false },
      opTimeoutMs: 5000,
    }),
  );
  // Reads only: no heartbeats, nothing published.
  const registry = agentRegistry({ store, staleAfterMs, heartbeatMs: 0, logger: inv.logger });
  try {
    if (capabilities.length > 0) {
      const ranked = await registry.find({
        capability: capabilities,
        ...(maxCost === undefined ? {} : { maxCost }),
        ...(limit === undefined ? {} : { limit }),
      });
      if (inv.json) printJson(ranked.map((c) => ({ ...c, cost: blendedCost(c) })));
      else process.stdout.write(render(ranked, true));
    } else {
      const cards = (await registry.list()).map((c) => ({ ...c, stale: registry.isStale(c) }));
      if (inv.json) printJson(cards);
      else process.stdout.write(render(cards, false));
    }
    return 0;
  } finally {
    await registry.close();
    await store.close();
  }
}

/** Runs `troupe agents`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      capability: { type: 'string', multiple: true },
      'max-cost': { type: 'string' },
      limit: { type: 'string' },
      bucket: { type: 'string' },
      'kv-namespace': { type: 'string' },
      'stale-after': { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  if (inv.positionals.length > 0) throw new UsageError(`unexpected argument ${inv.positionals[0]}`);
  return list(inv);
}
