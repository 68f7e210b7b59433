// Scenario `graph-step`: what running a workflow graph costs per step, against a plain async loop doing the same
// work. A 20-node chain (each node adds to a counter; the state also carries 1 KB of text no node changes) run
// in process (`compiled.run`), as a durable run with checkpoints in memory (memoryAppendLog, local transport)
// and on JetStream (natsAppendLog, durable step messages on NATS), each run paired with a plain-loop run just
// before it. Also: a 100-branch fan-out and join against `Promise.all` of the same functions, and the bytes
// a durable run appends per step (its deltas) against a checkpoint of the whole state per step.

import { performance } from 'node:perf_hooks';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  memoryAppendLog,
  silentLogger,
} from '../../runtime/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import {
  type CompiledGraph,
  defineGraphRun,
  END,
  type GraphRuns,
  graph,
  graphRuns,
  replace,
  START,
  sum,
} from '../../workflows/index.js';
import { wallNow } from '../load.js';
import type { MetricSpec, Scenario } from '../scenario.js';
import { quantile } from '../stats.js';

const CHAIN = 20;
const FANOUT = 100;
/** The issue's target: per-step overhead with checkpoints on, at p50. */
const TARGET_STEP_US = 1000;

type S = { n: number; text: string };
const TEXT = 'x'.repeat(1024);
const work = (_s: Readonly<S>): Partial<S> => ({ n: 1 });

function chain(): CompiledGraph<S> {
  const g = graph<S>({ state: { n: sum(), text: replace<string>() } });
  for (let i = 0; i < CHAIN; i++) g.addNode(`n${i}`, work);
  g.addEdge(START, 'n0');
  for (let i = 1; i < CHAIN; i++) g.addEdge(`n${i - 1}`, `n${i}`);
  return g.addEdge(`n${CHAIN - 1}`, END).build();
}

function fanout(): CompiledGraph<S> {
  const g = graph<S>({ state: { n: sum(), text: replace<string>() } });
  const names = Array.from({ length: FANOUT }, (_, i) => `b${i}`);
  for (const n of names) g.addNode(n, work);
  g.addNode('join', () => undefined);
  return g.addEdge(START, names).addEdge(names, 'join').addEdge('join', END).build();
}

async function plainChain(): Promise<S> {
  let state: S = { n: 0, text: TEXT };
  for (let i = 0; i < CHAIN; i++) {
    const update = await work(state);
    state = { ...state, n: state.n + (update.n ?? 0) };
  }
  return state;
}

async function plainFanout(): Promise<S> {
  const state: S = { n: 0, text: TEXT };
  const updates = await Promise.all(Array.from({ length: FANOUT }, async () => work(state)));
  return { ...state, n: updates.reduce((a, u) => a + (u.n ?? 0), 0) };
}

/** An AppendLog counting the bytes appended through it. */
function counting(log: AppendLog): AppendLog & { bytes: () => number; reset: () => void } {
  let bytes = 0;
  return {
    append: (key, data) => {
      bytes += Buffer.byteLength(data);
      return log.append(key, data);
    },
    read: log.read.bind(log),
    purge: log.purge.bind(log),
    close: log.close.bind(log),
    bytes: () => bytes,
    reset: () => {
      bytes = 0;
    },
  };
}

interface Variant {
  id: 'inprocess' | 'memory' | 'jetstream';
  chain: () => Promise<unknown>;
  fanout: () => Promise<unknown>;
}

const latency = (id: string, label: string, target?: number): MetricSpec => ({
  id,
  label,
  unit: 'µs',
  kind: 'latency',
  better: 'lower',
  ...(target === undefined ? {} : { target }),
});

/** `graph-step`: see the file comment. */
export const graphStep: Scenario = {
  name: 'graph-step',
  description: `per-step overhead of a ${CHAIN}-node graph vs a plain async loop, p50/p99, in process and as a durable run with checkpoints in memory and on JetStream (target < 1 ms at p50); a ${FANOUT}-branch fan-out vs Promise.all; checkpoint bytes per step vs the whole state`,
  needs: ['nats'],
  metrics: () => [
    ...(['inprocess', 'memory', 'jetstream'] as const).flatMap((v) => [
      latency(`step-p50-${v}`, `per step p50, ${v} (baseline: plain loop)`),
      latency(
        `added-p50-${v}`,
        `added per step p50, ${v}${v === 'inprocess' ? '' : ` (target < ${TARGET_STEP_US} µs)`}`,
      ),
      latency(`added-p99-${v}`, `added per step p99, ${v}`),
      latency(`fanout-p50-${v}`, `${FANOUT}-branch fan-out + join p50, ${v} (baseline: Promise.all)`),
    ]),
    {
      id: 'checkpoint-bytes',
      label: 'bytes appended per step (baseline: the whole state per step)',
      unit: 'bytes',
      kind: 'memory',
      better: 'lower',
    },
  ],
  async open(ctx) {
    const local = await createSystem({ nodeId: 'graph-local', logger: silentLogger });
    const transport = natsTransport({
      servers: ctx.natsUrl as string,
      namespace: ctx.namespace,
      logger: silentLogger,
    });
    const remote: ActorSystem = await createSystem({ nodeId: 'graph-nats', transport, logger: silentLogger });
    const memLog = counting(memoryAppendLog());
    const jsLog = counting(await natsAppendLog({ transport, name: 'graph-runs', namespace: ctx.namespace }));
    const durable = (
      system: ActorSystem,
      log: AppendLog,
      name: string,
      g: CompiledGraph<S>,
    ): GraphRuns<S> => {
      const type = defineGraphRun(name, g, { log, passivateAfterMs: 1000 });
      system.register(type);
      return graphRuns(system, type);
    };
    const c = chain();
    const f = fanout();
    let seq = 0;
    const id = () => `r${++seq}`;
    const input = { text: TEXT };
    const runOf = (runs: GraphRuns<S>) => async () => {
      const out = await runs.run(id(), input, { timeout: 60_000 });
      if (out.status !== 'done') throw new Error(`a bench run ended ${out.status}`);
    };
    const variants: Variant[] = [
      { id: 'inprocess', chain: () => c.run(input), fanout: () => f.run(input) },
      {
        id: 'memory',
        chain: runOf(durable(local, memLog, 'chain', c)),
        fanout: runOf(durable(local, memLog, 'fan', f)),
      },
      {
        id: 'jetstream',
        chain: runOf(durable(remote, jsLog, 'chain', c)),
        fanout: runOf(durable(remote, jsLog, 'fan', f)),
      },
    ];
    return {
      async round(budget) {
        const figures: Record<string, { troupe: number; baseline?: number }> = {};
        const us = (ms: number) => ms * 1000;
        for (const v of variants) {
          const total = ctx.count(
            v.id === 'jetstream' ? 100 : 300,
            v.id === 'jetstream' ? 400 : 2000,
            budget,
          );
          ctx.progress(`${v.id}: ${total} ${CHAIN}-step runs, each after a plain loop`);
          const plain: number[] = [];
          const mine: number[] = [];
          const added: number[] = [];
          let deadline = budget.deadline();
          for (let i = 0; i < total && wallNow() < deadline; i++) {
            let t = performance.now();
            await plainChain();
            const p = (performance.now() - t) / CHAIN;
            t = performance.now();
            await v.chain();
            const g = (performance.now() - t) / CHAIN;
            plain.push(p);
            mine.push(g);
            added.push(g - p);
          }
          for (const s of [plain, mine, added]) s.sort((a, b) => a - b);
          figures[`step-p50-${v.id}`] = {
            troupe: us(quantile(mine, 0.5)),
            baseline: us(quantile(plain, 0.5)),
          };
          figures[`added-p50-${v.id}`] = { troupe: us(quantile(added, 0.5)) };
          figures[`added-p99-${v.id}`] = { troupe: us(quantile(added, 0.99)) };

          const runs = ctx.count(v.id === 'jetstream' ? 20 : 100, v.id === 'jetstream' ? 50 : 300, budget);
          ctx.progress(`${v.id}: ${runs} ${FANOUT}-branch fan-outs, each after Promise.all`);
          const all: number[] = [];
          const fan: number[] = [];
          deadline = budget.deadline();
          for (let i = 0; i < runs && wallNow() < deadline; i++) {
            let t = performance.now();
            await plainFanout();
            all.push(performance.now() - t);
            t = performance.now();
            await v.fanout();
            fan.push(performance.now() - t);
          }
          all.sort((a, b) => a - b);
          fan.sort((a, b) => a - b);
          figures[`fanout-p50-${v.id}`] = {
            troupe: us(quantile(fan, 0.5)),
            baseline: us(quantile(all, 0.5)),
          };
        }

        ctx.progress('checkpoint bytes: one chain run on JetStream');
        jsLog.reset();
        const runs = graphRuns<S>(remote, 'chain');
        const runId = id();
        await runs.run(runId, input, { timeout: 60_000 });
        const history = await runs.history(runId, { states: true });
        const whole = history.reduce((a, c) => a + Buffer.byteLength(JSON.stringify(c.state)), 0);
        figures['checkpoint-bytes'] = { troupe: jsLog.bytes() / CHAIN, baseline: whole / CHAIN };
        return { figures };
      },
      async close() {
        await local.close();
        await remote.close();
        await jsLog.close();
        await memLog.close();
      },
    };
  },
};
