// Durable graph runs, embedded (memory log, local transport) and on JetStream: each node's update and each
// step's cursor recorded as deltas, interrupts resumed with a value, time travel (history and fork), retry,
// timeout and error edges per node, and a run read back from its log by a second system.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, type AppendLog, createSystem, memoryAppendLog } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import {
  append,
  defineGraphRun,
  END,
  graph,
  graphRuns,
  replace,
  runKey,
  START,
  sum,
  type WorkflowError,
  WorkflowErrorCode,
} from '../../workflows/index.js';
import { recordedNodes } from '../helpers/graph-runs.js';

type S = { log: string[]; n: number; note: string; big: string };
const state = () => ({
  log: { reducer: append<string>(), default: () => [] as string[] },
  n: sum(),
  note: replace<string>(),
  big: replace<string>(),
});

async function rejection(p: Promise<unknown>): Promise<WorkflowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a rejection').toBeDefined();
  return err as WorkflowError;
}

const records = async (log: AppendLog, graphName: string, runId: string) =>
  (await log.read(runKey(graphName, runId))).map(
    (r) => JSON.parse(r.data) as { k: string; [k: string]: unknown },
  );

describe('durable graph runs, embedded', () => {
  let system: ActorSystem;
  let log: AppendLog;
  beforeAll(async () => {
    system = await createSystem({ nodeId: 'g1' });
    log = memoryAppendLog();
  });
  afterAll(async () => {
    await system.close();
  });

  it('runs to the end, recording each node once as a delta and each step', async () => {
    const ran: string[] = [];
    const g = graph<S>({ state: state() })
      .addNode('a', () => {
        ran.push('a');
        return { log: ['a'], n: 1, big: 'x'.repeat(10_000) };
      })
      .addNode('b', () => {
        ran.push('b');
        return { log: ['b'], n: 2 };
      })
      .addNode('c', () => {
        ran.push('c');
        return { log: ['c'], n: 3 };
      })
      .addNode('d', (s) => {
        ran.push('d');
        return { note: `sum ${s.n}` };
      })
      .addEdge(START, 'a')
      .addEdge('a', ['b', 'c'])
      .addEdge(['b', 'c'], 'd')
      .addEdge('d', END)
      .build();
    const type = defineGraphRun('fan', g, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    const out = await runs.run('r1', {});
    expect(out.status).toBe('done');
    expect(out.status === 'done' && out.state).toMatchObject({ log: ['a', 'b', 'c'], n: 6, note: 'sum 6' });
    expect(ran.sort()).toEqual(['a', 'b', 'c', 'd']);
    const all = await records(log, 'fan', 'r1');
    const kinds = all.map((r) => r.k);
    // The parallel step's branches each have a record; a one-node step carries its node in the step's record.
    expect(kinds.filter((k) => k === 'node')).toHaveLength(2);
    expect(recordedNodes(all).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(kinds.filter((k) => k === 'step')).toHaveLength(3);
    expect(kinds[0]).toBe('start');
    expect(kinds.at(-1)).toBe('end');
    // Deltas: the 10 kB field appears once (in a's record), never again in later records.
    const stored = await log.read(runKey('fan', 'r1'));
    const withBig = stored.filter((r) => r.data.includes('x'.repeat(10_000)));
    expect(withBig).toHaveLength(1);
    expect(stored.filter((r) => r.data.length > 1000)).toHaveLength(1);
    // Idempotent start: an existing run answers its status and runs nothing.
    const again = await runs.start('r1', {});
    expect(again.status).toBe('done');
    expect(ran).toHaveLength(4);
    // A second system reading the same log sees the same run.
    const other = await createSystem({ nodeId: 'g2' });
    try {
      other.register(type);
      const status = await graphRuns(other, type).status('r1');
      expect(status).toMatchObject({ status: 'done', step: 3, state: { n: 6, note: 'sum 6' } });
    } finally {
      await other.close();
    }
  });

  it('stops at an interrupt, lets its sibling finish, and resumes with the value', async () => {
    const calls: Record<string, number> = {};
    const count = (n: string) => {
      calls[n] = (calls[n] ?? 0) + 1;
    };
    const g = graph<S>({ state: state() })
      .addNode('ask', (_s, ctx) => {
        count('ask');
        const answer = ctx.interrupt<string>({ question: 'ship it?' });
        return { note: `human said ${answer}` };
      })
      .addNode('side', () => {
        count('side');
        return { log: ['side'] };
      })
      .addNode('after', () => {
        count('after');
        return { log: ['after'] };
      })
      .addEdge(START, ['ask', 'side'])
      .addEdge(['ask', 'side'], 'after')
      .addEdge('after', END)
      .build();
    const type = defineGraphRun('approval', g, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    const first = await runs.run('r1');
    expect(first).toMatchObject({
      status: 'interrupted',
      interrupts: [{ node: 'ask', payload: { question: 'ship it?' } }],
    });
    expect((await runs.status('r1')).status).toBe('interrupted');
    expect(calls).toEqual({ ask: 1, side: 1 });
    await rejection(runs.resume('r1', 'yes', { node: 'side' })).then((e) =>
      expect(e.code).toBe('GRAPH_RUN_STATE'),
    );
    const resumed = await runs.resume('r1', 'yes');
    expect(resumed.status).toBe('running');
    const done = await runs.result('r1');
    expect(done).toMatchObject({ status: 'done', state: { note: 'human said yes', log: ['side', 'after'] } });
    // The sibling that finished before the interrupt did not run again; the interrupted node ran once more.
    expect(calls).toEqual({ ask: 2, side: 1, after: 1 });
    await rejection(runs.resume('r1', 'again')).then((e) => expect(e.code).toBe('GRAPH_RUN_STATE'));
  });

  it('an in-process run() refuses an interrupt loudly rather than losing it', async () => {
    const g = graph<S>({ state: state() })
      .addNode('ask', (_s, ctx) => ({ note: ctx.interrupt<string>('?') }))
      .addEdge(START, 'ask')
      .addEdge('ask', END)
      .build();
    const err = await rejection(g.run({}));
    expect(err.code).toBe(WorkflowErrorCode.Interrupted);
  });

  it('lists checkpoints and forks a new run from one, the original untouched', async () => {
    const g = graph<S>({ state: state() })
      .addNode('one', () => ({ n: 1, log: ['one'] }))
      .addNode('two', (s) => ({ n: 10, log: [`two saw ${s.note ?? 'nothing'}`] }))
      .addNode('three', (s) => ({ note: `total ${s.n}` }))
      .addEdge(START, 'one')
      .addEdge('one', 'two')
      .addEdge('two', 'three')
      .addEdge('three', END)
      .build();
    const type = defineGraphRun('travel', g, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    await runs.run('orig');
    const history = await runs.history('orig', { states: true });
    expect(history.map((c) => [c.step, c.ran, c.next])).toEqual([
      [0, [], ['one']],
      [1, ['one'], ['two']],
      [2, ['two'], ['three']],
      [3, ['three'], []],
    ]);
    expect(history[1]?.state).toMatchObject({ n: 1, log: ['one'] });
    const forked = await runs.fork('orig', 1, 'fork1', { note: 'a patch', n: 100 });
    expect(forked).toMatchObject({ forkedFrom: { runId: 'orig', step: 1 }, step: 1, next: ['two'] });
    const out = await runs.result('fork1');
    expect(out).toMatchObject({
      status: 'done',
      state: { n: 111, log: ['one', 'two saw a patch'], note: 'total 111' },
    });
    const orig = await runs.status('orig');
    expect(orig.state).toMatchObject({ n: 11, note: 'total 11', log: ['one', 'two saw nothing'] });
    expect((await runs.history('fork1')).map((c) => c.step)).toEqual([1, 2, 3]);
    await rejection(runs.fork('orig', 9, 'fork2')).then((e) => expect(e.code).toBe('GRAPH_RUN_NOT_FOUND'));
    await rejection(runs.status('nope')).then((e) => expect(e.code).toBe('GRAPH_RUN_NOT_FOUND'));
  });

  it('retries a node, times one out, and routes a failure along its error edge', async () => {
    let flaky = 0;
    const g = graph<S>({ state: state() })
      .addNode(
        'flaky',
        () => {
          flaky++;
          if (flaky < 3) throw new Error(`flake ${flaky}`);
          return { log: ['flaky ok'] };
        },
        { retry: { attempts: 3, backoffMs: 5 } },
      )
      .addNode(
        'hang',
        (_s, ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
        {
          timeoutMs: 50,
          onError: 'recover',
        },
      )
      .addNode('recover', (_s, ctx) => ({ note: `recovered from ${ctx.error?.node}: ${ctx.error?.code}` }))
      .addNode('never', () => ({ log: ['never'] }))
      .addEdge(START, 'flaky')
      .addEdge('flaky', 'hang')
      .addEdge('hang', 'never')
      .addEdge('recover', END)
      .addEdge('never', END)
      .build();
    const type = defineGraphRun('faults', g, { log });
    system.register(type);
    const out = await graphRuns(system, type).run('r1');
    expect(out).toMatchObject({
      status: 'done',
      state: { log: ['flaky ok'], note: 'recovered from hang: GRAPH_NODE_TIMEOUT' },
    });
    expect(flaky).toBe(3);
    // The same graph in process behaves the same.
    flaky = 0;
    expect(await g.run({})).toMatchObject({ note: 'recovered from hang: GRAPH_NODE_TIMEOUT' });
  });

  it('a failing node without an error edge fails the run with a code; validation covers error edges', async () => {
    const g = graph<S>({ state: state() })
      .addNode('boom', () => {
        throw new Error('kaput');
      })
      .addEdge(START, 'boom')
      .addEdge('boom', END)
      .build();
    const type = defineGraphRun('failing', g, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    const err = await rejection(runs.run('r1'));
    expect(err.code).toBe(WorkflowErrorCode.NodeFailed);
    expect(err.message).toContain('kaput');
    expect(await runs.status('r1')).toMatchObject({
      status: 'failed',
      error: { code: 'GRAPH_NODE_FAILED', node: 'boom' },
    });
    const bad = () =>
      graph<S>({ state: state() })
        .addNode('x', () => undefined, { onError: 'ghost' })
        .addEdge(START, 'x')
        .addEdge('x', END)
        .build();
    expect(bad).toThrow(expect.objectContaining({ code: 'GRAPH_MISSING_TARGET' }));
    for (const options of [{ retry: { attempts: 0 } }, { timeoutMs: -1 }, { onError: 3 }]) {
      const build = () =>
        graph<S>({ state: state() })
          .addNode('x', () => undefined, options as never)
          .addEdge(START, 'x')
          .addEdge('x', END)
          .build();
      expect(build).toThrow(expect.objectContaining({ code: 'GRAPH_INVALID' }));
    }
    expect(() => defineGraphRun('bad', g, {} as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });

  it('cancels a waiting run; the waiting result rejects with GRAPH_CANCELLED', async () => {
    const g = graph<S>({ state: state() })
      .addNode('ask', (_s, ctx) => ({ note: ctx.interrupt<string>('?') }))
      .addEdge(START, 'ask')
      .addEdge('ask', END)
      .build();
    const type = defineGraphRun('cancelled', g, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    expect((await runs.run('r1')).status).toBe('interrupted');
    expect((await runs.cancel('r1')).status).toBe('cancelled');
    expect((await rejection(runs.result('r1'))).code).toBe(WorkflowErrorCode.Cancelled);
  });

  it('runs a durable subgraph as a child run: its interrupt stops the parent, and nothing in it starts over', async () => {
    const calls: Record<string, number> = {};
    const count = (n: string) => {
      calls[n] = (calls[n] ?? 0) + 1;
    };
    const inner = graph<S>({ state: state() })
      .addNode('x', () => {
        count('x');
        return { log: ['x'] };
      })
      .addNode('ask', (_s, ctx) => {
        count('ask');
        return { note: ctx.interrupt<string>('inner question') };
      })
      .addNode('y', (s) => {
        count('y');
        return { log: [`y after ${s.note}`] };
      })
      .addEdge(START, 'x')
      .addEdge('x', 'ask')
      .addEdge('ask', 'y')
      .addEdge('y', END)
      .build();
    const outer = graph<S>({ state: state() })
      .addNode('prep', () => ({ log: ['prep'] }))
      .addNode('sub', { run: 'inner', input: () => ({}), output: (child) => ({ log: (child as S).log }) })
      .addEdge(START, 'prep')
      .addEdge('prep', 'sub')
      .addEdge('sub', END)
      .build();
    system.register(defineGraphRun('inner', inner, { log }));
    const type = defineGraphRun('outer', outer, { log });
    system.register(type);
    const runs = graphRuns(system, type);
    const first = await runs.run('p1');
    expect(first).toMatchObject({
      status: 'interrupted',
      interrupts: [{ node: 'sub', payload: { subgraph: 'inner', runId: 'p1:sub:2' } }],
    });
    expect(calls).toEqual({ x: 1, ask: 1 });
    // The child is a run of its own, waiting too.
    expect((await graphRuns(system, 'inner').status('p1:sub:2')).status).toBe('interrupted');
    await runs.resume('p1', 'go');
    expect(await runs.result('p1')).toMatchObject({
      status: 'done',
      state: { log: ['prep', 'x', 'y after go'] },
    });
    // x ran once: resuming the parent re-ran its node, which found the child where it stopped.
    expect(calls).toEqual({ x: 1, ask: 2, y: 1 });
    expect((await rejection(outer.run({}))).code).toBe(WorkflowErrorCode.Unsupported);
  });

  it('rejects a run id used by another graph', async () => {
    const g = graph<S>({ state: state() })
      .addNode('x', () => undefined)
      .addEdge(START, 'x')
      .addEdge('x', END)
      .build();
    const mine = defineGraphRun('mine', g, { log });
    system.register(mine);
    await graphRuns(system, mine).run('shared');
    // A log record under another graph's key cannot be read as this graph's run.
    await log.append(
      runKey('theirs', 'x1'),
      JSON.stringify({
        k: 'start',
        graph: 'mine',
        input: {},
        at: 0,
        cursor: { step: 0, active: [], loops: {}, waiting: {}, ran: [], errors: {} },
      }),
    );
    const theirs = defineGraphRun('theirs', g, { log });
    system.register(theirs);
    expect((await rejection(graphRuns(system, theirs).status('x1'))).code).toBe('GRAPH_RUN_STATE');
  });
});

describe('durable graph runs on JetStream', () => {
  let nats: ServerProcess;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats.stop();
  });

  it('runs through durable step messages and keeps its log across a nats-server restart', async () => {
    const ns = `gr${randomBytes(3).toString('hex')}`;
    const transport = natsTransport({ servers: nats.url, namespace: ns });
    const system = await createSystem({ nodeId: 'n1', transport });
    const log = await natsAppendLog({ transport, name: 'graph-runs', namespace: ns });
    try {
      let ran = 0;
      const g = graph<S>({ state: state() })
        .addNode('inc', (s) => {
          ran++;
          return { n: 1, log: [`inc ${s.n ?? 0}`] };
        })
        .addNode('ask', (_s, ctx) => ({ note: ctx.interrupt<string>('go on?') }))
        .addEdge(START, 'inc')
        .addConditionalEdge('inc', (s) => ((s.n ?? 0) < 3 ? 'inc' : 'ask'), {
          targets: ['inc', 'ask'],
          maxLoops: 5,
        })
        .addEdge('ask', END)
        .build();
      // One message per step (no slice): every step goes through JetStream.
      const type = defineGraphRun('loop', g, { log, stepSliceMs: 0 });
      system.register(type);
      const runs = graphRuns(system, type);
      expect(await runs.run('r1', {}, { timeout: 20_000 })).toMatchObject({ status: 'interrupted' });
      expect(ran).toBe(3);
      await nats.restart();
      // The run waits in the log. A resume during the outage settles with a code; retried, it goes through.
      const codes: string[] = [];
      for (let i = 0; ; i++) {
        const r = await runs.resume('r1', 'yes', { timeout: 5_000 }).catch((e: { code?: string }) => e);
        if ((r as { status?: string }).status === 'running') break;
        codes.push(String((r as { code?: string }).code));
        if (i > 30) throw new Error(`resume kept failing: ${codes.join(', ')}`);
        await new Promise((res) => setTimeout(res, 250));
      }
      expect(codes.every((c) => c !== 'undefined')).toBe(true);
      expect(await runs.result('r1', { timeout: 20_000 })).toMatchObject({
        status: 'done',
        state: { n: 3, note: 'yes', log: ['inc 0', 'inc 1', 'inc 2'] },
      });
      expect(ran).toBe(3);
    } finally {
      await system.close();
      await log.close();
    }
  }, 60_000);
});
