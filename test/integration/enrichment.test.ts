// Data enrichment as graph steps, its cache on a real nats-server KV bucket: data points fetched in parallel
// through tools, served from a fleet-shared TTL cache (hits counted, expiry on an injected clock), a failing tool
// as a coded error, then a pipeline of transforms in order.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, ToolRegistry } from '../../agents/index.js';
import { type KeyValueStore, ManualClock, TroupeError } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';
import {
  dataPoint,
  EnrichmentErrorCode,
  enrich,
  enrichmentCache,
  transform,
} from '../../workflows/enrichment/index.js';
import { graph, merge, replace, WorkflowErrorCode } from '../../workflows/graph/index.js';

type Lead = {
  domain: string;
  data: Record<string, unknown>;
  score: number;
  steps: string[];
};
const state = () => ({
  domain: replace<string>(),
  data: { reducer: merge<Record<string, unknown>>(), default: () => ({}) },
  score: replace<number>(),
  steps: { reducer: (a: string[], b: string[]) => [...(a ?? []), ...b], default: () => [] as string[] },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

/** Tools that count their calls; `company` fails for domains ending in `.bad`; both take `delayMs`. */
function toolbox(delayMs = 0) {
  const calls = { company: 0, traffic: 0, running: 0, overlapped: false };
  const slow = async () => {
    calls.running++;
    if (calls.running > 1) calls.overlapped = true;
    await sleep(delayMs);
    calls.running--;
  };
  const tools = new ToolRegistry()
    .register(
      defineTool({
        name: 'company',
        description: 'Company facts of a domain',
        input: z.object({ domain: z.string().min(3) }),
        run: async ({ domain }) => {
          calls.company++;
          await slow();
          if (domain.endsWith('.bad')) throw new TroupeError('UPSTREAM_DOWN', 'registry answered 503');
          return { name: domain.split('.')[0]?.toUpperCase(), employees: 120 };
        },
      }),
    )
    .register(
      defineTool({
        name: 'traffic',
        description: 'Monthly visits of a domain',
        input: z.object({ domain: z.string() }),
        run: async ({ domain }) => {
          calls.traffic++;
          await slow();
          return { visits: domain.length * 1000 };
        },
      }),
    );
  return { tools, calls };
}

const company = dataPoint<Lead>({
  name: 'company',
  tool: 'company',
  input: (s) => ({ domain: s.domain }),
  ttlMs: 60_000,
});
const traffic = dataPoint<Lead>({
  name: 'traffic',
  tool: 'traffic',
  input: (s) => ({ domain: s.domain }),
  ttlMs: 1_000,
  key: (s) => s.domain.toLowerCase(),
});

function leadGraph(tools: ToolRegistry, cache?: ReturnType<typeof enrichmentCache>) {
  return enrich(graph<Lead>({ state: state() }), {
    points: [company, traffic],
    into: 'data',
    tools,
    ...(cache === undefined ? {} : { cache }),
    transforms: [
      transform<Lead>('size', (s) => ({
        score: ((s.data.company as { employees: number }).employees > 100 ? 10 : 0) as number,
        steps: ['size'],
      })),
      transform<Lead>('reach', (s) => ({
        score: s.score + (s.data.traffic as { visits: number }).visits / 1000,
        steps: ['reach'],
      })),
    ],
  }).build();
}

async function bucket(): Promise<KeyValueStore> {
  return natsKeyValue({ servers: nats.url, bucket: `enrich-${randomBytes(3).toString('hex')}` });
}

describe('enrichment', () => {
  it('fetches data points in parallel, then runs the transforms in order', async () => {
    const { tools, calls } = toolbox(50);
    const g = leadGraph(tools);
    expect(g.nodes).toEqual(['enrich.fetch.company', 'enrich.fetch.traffic', 'enrich.size', 'enrich.reach']);
    const out = await g.run({ domain: 'acme.io' });
    expect(out.data).toEqual({ company: { name: 'ACME', employees: 120 }, traffic: { visits: 7000 } });
    expect(out.score).toBe(17);
    expect(out.steps).toEqual(['size', 'reach']);
    expect(calls.overlapped).toBe(true); // both fetches ran at once
  });

  it('serves a value within its TTL from natsKeyValue: the tool runs once, across caches of the fleet', async () => {
    const kv = await bucket();
    const other = await bucket();
    try {
      const { tools, calls } = toolbox();
      const clock = new ManualClock(1_000_000);
      const cache = enrichmentCache({ store: kv, clock });
      const g = leadGraph(tools, cache);
      const first = await g.run({ domain: 'acme.io' });
      clock.advance(500);
      const second = await g.run({ domain: 'acme.io' });
      expect(second.data).toEqual(first.data);
      expect(calls).toMatchObject({ company: 1, traffic: 1 });
      expect(cache.stats).toEqual({ hits: 2, misses: 2, expired: 0, shared: 0, errors: 0 });

      // Another node's cache on the same bucket: hits too. A cache on another bucket does not.
      const fleet = enrichmentCache({ store: kv, clock });
      await leadGraph(tools, fleet).run({ domain: 'acme.io' });
      expect(calls).toMatchObject({ company: 1, traffic: 1 });
      expect(fleet.stats.hits).toBe(2);
      await leadGraph(tools, enrichmentCache({ store: other, clock })).run({ domain: 'acme.io' });
      expect(calls).toMatchObject({ company: 2, traffic: 2 });
      // A different key is a different value.
      await g.run({ domain: 'globex.com' });
      expect(calls).toMatchObject({ company: 3, traffic: 3 });
    } finally {
      await kv.close();
      await other.close();
    }
  });

  it('fetches again once a value expired (injected clock); concurrent runs share one fetch', async () => {
    const kv = await bucket();
    try {
      const { tools, calls } = toolbox(30);
      const clock = new ManualClock(5_000);
      const cache = enrichmentCache({ store: kv, clock });
      const g = leadGraph(tools, cache);
      await g.run({ domain: 'acme.io' });
      clock.advance(999);
      await g.run({ domain: 'ACME.io' }); // traffic's key is the lower-cased domain: still fresh
      expect(calls).toMatchObject({ company: 2, traffic: 1 });
      clock.advance(2); // traffic (1 s) expired; company (60 s) did not
      await g.run({ domain: 'acme.io' });
      expect(calls).toMatchObject({ company: 2, traffic: 2 });
      expect(cache.stats.expired).toBe(1);

      clock.advance(120_000);
      const before = cache.stats;
      await Promise.all([g.run({ domain: 'acme.io' }), g.run({ domain: 'acme.io' })]);
      expect(calls).toMatchObject({ company: 3, traffic: 3 });
      expect(cache.stats.shared - before.shared).toBe(2);
    } finally {
      await kv.close();
    }
  });

  it('a failing tool gives a coded error and caches nothing; ttlMs 0 never caches', async () => {
    const kv = await bucket();
    try {
      const { tools, calls } = toolbox();
      const cache = enrichmentCache({ store: kv });
      const g = leadGraph(tools, cache);
      for (let i = 1; i <= 2; i++) {
        const err = await g.run({ domain: 'down.bad' }).then(
          () => undefined,
          (e: unknown) => e as TroupeError,
        );
        expect(err?.code).toBe(WorkflowErrorCode.NodeFailed);
        expect(err?.data).toMatchObject({ node: 'enrich.fetch.company' });
        const cause = err?.cause as TroupeError;
        expect(cause.code).toBe(EnrichmentErrorCode.FetchFailed);
        expect(cause.data).toMatchObject({ point: 'company', tool: 'company', toolCode: 'TOOL_FAILED' });
        expect(calls.company).toBe(i); // nothing cached: tried again
      }
      // Arguments the tool's schema refuses: the tool's code travels in data.
      const bad = await g.run({ domain: 'x' }).catch((e: TroupeError) => e);
      expect((bad as TroupeError).cause).toMatchObject({
        code: EnrichmentErrorCode.FetchFailed,
        data: { toolCode: 'TOOL_INVALID_ARGUMENTS', retryable: false },
      });

      const uncached = dataPoint<Lead>({ ...traffic, name: 'live', ttlMs: 0 });
      const live = enrich(graph<Lead>({ state: state() }), {
        points: [uncached],
        into: 'data',
        tools,
        cache,
      });
      const built = live.build();
      const before = calls.traffic;
      await built.run({ domain: 'acme.io' });
      await built.run({ domain: 'acme.io' });
      expect(calls.traffic - before).toBe(2);
    } finally {
      await kv.close();
    }
  });

  it('rejects bad definitions with INVALID_OPTIONS', () => {
    const { tools } = toolbox();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as TroupeError).code;
      }
      return undefined;
    };
    const b = () => graph<Lead>({ state: state() });
    expect(code(() => dataPoint<Lead>({ ...company, name: 'has space' }))).toBe('INVALID_OPTIONS');
    expect(code(() => dataPoint<Lead>({ ...company, ttlMs: -1 }))).toBe('INVALID_OPTIONS');
    expect(code(() => enrich(b(), { points: [], into: 'data', tools }))).toBe('INVALID_OPTIONS');
    expect(code(() => enrich(b(), { points: [company, company], into: 'data', tools }))).toBe(
      'INVALID_OPTIONS',
    );
    const ghost = dataPoint<Lead>({ ...company, name: 'ghost', tool: 'nope' });
    expect(code(() => enrich(b(), { points: [ghost], into: 'data', tools }))).toBe('INVALID_OPTIONS');
    expect(code(() => enrichmentCache({ prefix: 'bad prefix' }))).toBe('INVALID_OPTIONS');
  });
});
