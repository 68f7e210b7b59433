// Scenario `memory`: what troupe's memory layer costs against the raw clients it runs on. Each part (episodic,
// semantic, state backends) measures its own figures; the scenario runs every part in a round and merges them.
//
// Episodic: `append` (one Lua script: sequence number, ZADD, length trim, TTL) against plain ioredis sending the
// same commands in a MULTI, and against plain ioredis running the same script by EVALSHA (the wrapper's own cost),
// and `recent(20)` against a plain ZRANGE of the last 20 members and JSON.parse of each,
// both with the same number of operations in flight.

import { Redis } from 'ioredis';
import { type EpisodicMemory, episodicMemory } from '../../memory/index.js';
import { pipelinedRate } from '../load.js';
import type { Figure, MetricSpec, RoundBudget, Scenario, ScenarioContext } from '../scenario.js';
import { openSemantic, SEMANTIC_METRICS } from './memory-semantic.js';
import { openState, STATE_METRICS } from './memory-state.js';

/** One part of the scenario, opened for a run. */
interface MemoryPart {
  round(budget: RoundBudget): Promise<Record<string, Figure>>;
  close(): Promise<void>;
}

// ---- episodic (Redis) ----------------------------------------------------------------------------------------

/** Operations in flight at once, the same for troupe and the baseline. */
const EPISODIC_WINDOW = 32;
/** A scope's length limit on both sides: past it, every append also trims. */
const EPISODIC_MAX_TURNS = 1000;
const EPISODIC_TTL_MS = 3_600_000;
/** A typical chat turn. */
const TURN_TEXT =
  'Could you check the status of my order 4521? It was due yesterday and the tracking page is blank.';

const EPISODIC_METRICS: MetricSpec[] = [
  {
    id: 'episodic-append',
    label: `episodic append (${EPISODIC_WINDOW} in flight) vs ioredis MULTI of the same commands`,
    unit: 'op/s',
    kind: 'throughput',
    better: 'higher',
    target: 0.8,
  },
  {
    id: 'episodic-append-script',
    label: `episodic append (${EPISODIC_WINDOW} in flight) vs ioredis EVALSHA of the same script`,
    unit: 'op/s',
    kind: 'throughput',
    better: 'higher',
    target: 0.8,
  },
  {
    id: 'episodic-recent',
    label: `episodic recent(20) (${EPISODIC_WINDOW} in flight) vs ioredis ZRANGE + JSON.parse`,
    unit: 'op/s',
    kind: 'throughput',
    better: 'higher',
    target: 0.8,
  },
];

async function openEpisodic(ctx: ScenarioContext): Promise<MemoryPart> {
  const url = ctx.redisUrl!;
  const prefix = `${ctx.namespace}:mem`;
  const memory: EpisodicMemory = episodicMemory({
    redis: url,
    prefix,
    ttlMs: EPISODIC_TTL_MS,
    maxTurns: EPISODIC_MAX_TURNS,
  });
  const raw = new Redis(url, { maxRetriesPerRequest: 1 });
  raw.on('error', () => {});
  const scope = { agent: 'bench', session: 'append' };
  const readScope = { agent: 'bench', session: 'read' };
  const rawKey = `${ctx.namespace}:raw:turns`;
  const rawSeqKey = `${ctx.namespace}:raw:seq`;
  const rawReadKey = `${ctx.namespace}:raw:read`;
  let seq = 0;

  // The plain way to do the same: the turn's JSON behind a sequence number, trimmed and expiring, in one MULTI.
  const rawAppend = async (): Promise<void> => {
    const at = Date.now();
    const member = `${String(++seq).padStart(15, '0')}${JSON.stringify({ role: 'user', content: TURN_TEXT, at })}`;
    const results = await raw
      .multi()
      .incr(rawSeqKey)
      .zadd(rawKey, at, member)
      .zremrangebyrank(rawKey, 0, -EPISODIC_MAX_TURNS - 1)
      .pexpire(rawKey, EPISODIC_TTL_MS)
      .pexpire(rawSeqKey, EPISODIC_TTL_MS)
      .exec();
    if (results === null) throw new Error('MULTI aborted');
  };
  // The same script memory/redis/episodic.ts runs, sent by a plain client.
  const sha = (await raw.script(
    'LOAD',
    `local seq = string.format('%015d', redis.call('INCR', KEYS[2]))
redis.call('ZADD', KEYS[1], ARGV[1], seq .. ARGV[2])
local max = tonumber(ARGV[3])
if max > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -max - 1) end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return seq`,
  )) as string;
  const scriptAppend = (): Promise<unknown> => {
    const json = JSON.stringify({ role: 'user', content: TURN_TEXT, at: Date.now() });
    return raw.evalsha(sha, 2, rawKey, rawSeqKey, Date.now(), json, EPISODIC_MAX_TURNS, EPISODIC_TTL_MS);
  };
  const rawRecent = async (): Promise<unknown[]> =>
    (await raw.zrange(rawReadKey, -20, '-1')).map((m) => JSON.parse(m.slice(15)));

  // Both read sides hold the same 200 turns.
  for (let i = 0; i < 200; i++) {
    const turn = { role: 'user' as const, content: `${TURN_TEXT} #${i}` };
    const stored = await memory.append(readScope, turn);
    await raw.zadd(rawReadKey, stored.at, `${stored.id}${JSON.stringify({ ...turn, at: stored.at })}`);
  }

  return {
    async round(budget) {
      const total = ctx.count(20_000, 100_000, budget);
      const rate = (issue: () => Promise<unknown>) =>
        pipelinedRate({ total, window: EPISODIC_WINDOW, deadline: budget.deadline(), issue });
      ctx.progress(`episodic: ${total} appends`);
      const append = await rate(() => memory.append(scope, { role: 'user', content: TURN_TEXT }));
      ctx.progress(`episodic baseline: ${total} MULTI appends`);
      const appendBase = await rate(rawAppend);
      ctx.progress(`episodic baseline: ${total} EVALSHA appends`);
      const appendScript = await rate(scriptAppend);
      ctx.progress(`episodic: ${total} recent(20)`);
      const recent = await rate(() => memory.recent(readScope, 20));
      ctx.progress(`episodic baseline: ${total} ZRANGE reads`);
      const recentBase = await rate(rawRecent);
      return {
        'episodic-append': { troupe: append, baseline: appendBase },
        'episodic-append-script': { troupe: append, baseline: appendScript },
        'episodic-recent': { troupe: recent, baseline: recentBase },
      };
    },
    async close() {
      await memory.clear(scope).catch(() => {});
      await memory.clear(readScope).catch(() => {});
      await memory.close();
      await raw.del(rawKey, rawSeqKey, rawReadKey).catch(() => {});
      raw.disconnect();
    },
  };
}

// ---- the scenario ------------------------------------------------------------------------------------------

/** The parts a round runs, in order; each adds its metrics below. */
const PARTS: Array<(ctx: ScenarioContext) => Promise<MemoryPart>> = [openEpisodic, openState, openSemantic];

/** `memory`: see the file comment. */
export const memoryScenario: Scenario = {
  name: 'memory',
  description:
    'memory layer vs its raw clients: episodic append and recent(20) on Redis vs plain ioredis with the same commands; ' +
    'state save/load on NATS KV, Redis and PostgreSQL vs KV put/get, SET/GET, pg upsert/select; ' +
    'semantic search p50/p99 at 10k and 100k docs on Chroma vs a raw chromadb query',
  needs: ['redis', 'nats'],
  metrics: () => [...EPISODIC_METRICS, ...STATE_METRICS, ...SEMANTIC_METRICS],
  async open(ctx) {
    const parts: MemoryPart[] = [];
    try {
      for (const open of PARTS) parts.push(await open(ctx));
    } catch (err) {
      await Promise.allSettled(parts.map((p) => p.close()));
      throw err;
    }
    return {
      async round(budget) {
        const figures: Record<string, Figure> = {};
        for (const part of parts) Object.assign(figures, await part.round(budget));
        return { figures };
      },
      async close() {
        await Promise.allSettled(parts.map((p) => p.close()));
      },
    };
  },
};
