// Unit tests of the workflow graph builder: validation codes, reducers, branching, fan-out and joins, bounded
// loops, JSON definitions and the safe expression language.

import { describe, expect, it } from 'vitest';
import {
  append,
  END,
  evaluate,
  type GraphDefinition,
  type GraphRegistry,
  graph,
  graphFromJson,
  type JsonState,
  parseExpression,
  replace,
  START,
  sum,
  WorkflowError,
  WorkflowErrorCode,
} from '../../workflows/graph/index.js';

type S = { n: number; log: string[]; verdict: string };
const spec = () => ({
  n: sum(),
  log: { reducer: append<string>(), default: () => [] },
  verdict: replace<string>(),
});
const noop = () => undefined;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowError);
    return (err as WorkflowError).code;
  }
  return undefined;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<WorkflowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(WorkflowError.is(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  return err as WorkflowError;
}

describe('graph validation', () => {
  it('accepts a minimal graph', () => {
    const g = graph<S>({ state: spec() }).addNode('a', noop).addEdge(START, 'a').addEdge('a', END).build();
    expect(g.nodes).toEqual(['a']);
  });

  it('rejects duplicate and reserved names with GRAPH_DUPLICATE', () => {
    const dup = graph<S>({ state: spec() }).addNode('a', noop).addNode('a', noop).addEdge(START, 'a');
    expect(codeOf(() => dup.build())).toBe(WorkflowErrorCode.Duplicate);
    const reserved = graph<S>({ state: spec() }).addNode(END, noop).addEdge(START, END);
    expect(codeOf(() => reserved.build())).toBe(WorkflowErrorCode.Duplicate);
  });

  it('rejects edges to and from unknown nodes with GRAPH_MISSING_TARGET', () => {
    const to = graph<S>({ state: spec() }).addNode('a', noop).addEdge(START, 'a').addEdge('a', 'nope');
    expect(codeOf(() => to.build())).toBe(WorkflowErrorCode.MissingTarget);
    const from = graph<S>({ state: spec() }).addNode('a', noop).addEdge(START, 'a').addEdge('ghost', 'a');
    expect(codeOf(() => from.build())).toBe(WorkflowErrorCode.MissingTarget);
    const cond = graph<S>({ state: spec() })
      .addNode('a', noop)
      .addEdge(START, 'a')
      .addConditionalEdge('a', () => 'b', { targets: ['b', END] });
    expect(codeOf(() => cond.build())).toBe(WorkflowErrorCode.MissingTarget);
  });

  it('rejects unreachable nodes with GRAPH_UNREACHABLE', () => {
    const g = graph<S>({ state: spec() })
      .addNode('a', noop)
      .addNode('island', noop)
      .addEdge(START, 'a')
      .addEdge('island', END);
    const err = (() => {
      try {
        g.build();
      } catch (e) {
        return e as WorkflowError;
      }
      return undefined;
    })();
    expect(err?.code).toBe(WorkflowErrorCode.Unreachable);
    expect(err?.data).toEqual({ node: 'island' });
  });

  it('rejects cycles without a bound with GRAPH_UNBOUNDED_CYCLE, and accepts them with maxLoops', () => {
    const build = (maxLoops?: number) =>
      graph<S>({ state: spec() })
        .addNode('a', noop)
        .addNode('b', noop)
        .addEdge(START, 'a')
        .addEdge('a', 'b')
        .addConditionalEdge(
          'b',
          () => END,
          maxLoops === undefined ? { targets: ['a', END] } : { targets: ['a', END], maxLoops },
        )
        .build();
    expect(codeOf(() => build())).toBe(WorkflowErrorCode.UnboundedCycle);
    expect(codeOf(() => build(3))).toBeUndefined();
    const self = graph<S>({ state: spec() }).addNode('a', noop).addEdge(START, 'a').addEdge('a', 'a');
    expect(codeOf(() => self.build())).toBe(WorkflowErrorCode.UnboundedCycle);
  });

  it('rejects malformed definitions with GRAPH_INVALID', () => {
    const noEntry = graph<S>({ state: spec() }).addNode('a', noop).addEdge('a', END);
    expect(codeOf(() => noEntry.build())).toBe(WorkflowErrorCode.Invalid);
    const badBound = graph<S>({ state: spec() })
      .addNode('a', noop)
      .addEdge(START, 'a')
      .addEdge('a', 'a', { maxLoops: 0 });
    expect(codeOf(() => badBound.build())).toBe(WorkflowErrorCode.Invalid);
    const badNode = graph<S>({ state: spec() })
      .addNode('a', 42 as never)
      .addEdge(START, 'a');
    expect(codeOf(() => badNode.build())).toBe(WorkflowErrorCode.Invalid);
    const emptyName = graph<S>({ state: spec() }).addNode('', noop).addEdge(START, '');
    expect(codeOf(() => emptyName.build())).toBe(WorkflowErrorCode.Invalid);
  });
});

describe('graph execution', () => {
  it('merges partial updates through each field reducer', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('a', () => ({ n: 2, log: ['a'], verdict: 'first' }))
      .addNode('b', () => ({ n: 3, log: ['b'], verdict: 'second' }))
      .addEdge(START, 'a')
      .addEdge('a', 'b')
      .addEdge('b', END)
      .build();
    const out = await g.run({ n: 10, log: ['in'] });
    expect(out).toEqual({ n: 15, log: ['in', 'a', 'b'], verdict: 'second' });
  });

  it('rejects an update to an undeclared field', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('a', () => ({ bogus: 1 }) as never)
      .addEdge(START, 'a')
      .build();
    const err = await rejectsWith(g.run(), WorkflowErrorCode.Invalid);
    expect(err.data).toEqual({ node: 'a', field: 'bogus' });
  });

  it('branches on a conditional edge (the 3-node decision graph)', async () => {
    // classify -> approve | reject
    const decision = graph<{ amount: number; verdict: string; log: string[] }>({
      state: { amount: replace(), verdict: replace(), log: { reducer: append(), default: () => [] } },
    })
      .addNode('classify', (s) => ({ log: [`classify ${s.amount}`] }))
      .addNode('approve', () => ({ verdict: 'approved', log: ['approve'] }))
      .addNode('reject', () => ({ verdict: 'rejected', log: ['reject'] }))
      .addEdge(START, 'classify')
      .addConditionalEdge('classify', (s) => (s.amount <= 100 ? 'approve' : 'reject'), {
        targets: ['approve', 'reject'],
      })
      .addEdge(['approve'], END)
      .addEdge('reject', END)
      .build();
    expect(await decision.run({ amount: 50 })).toMatchObject({
      verdict: 'approved',
      log: ['classify 50', 'approve'],
    });
    expect(await decision.run({ amount: 500 })).toMatchObject({
      verdict: 'rejected',
      log: ['classify 500', 'reject'],
    });
  });

  it('fans out to parallel branches that run concurrently and joins them', async () => {
    let running = 0;
    let peak = 0;
    const branch = (name: string, ms: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return { log: [name], n: 1 };
    };
    const joined: string[][] = [];
    const g = graph<S>({ state: spec() })
      .addNode('split', () => ({ log: ['split'] }))
      .addNode('x', branch('x', 40))
      .addNode('y', branch('y', 10))
      .addNode('y2', branch('y2', 10))
      .addNode('z', branch('z', 20))
      .addNode('join', (s) => {
        joined.push([...s.log]);
        return { verdict: `joined ${s.n}` };
      })
      .addEdge(START, 'split')
      .addEdge('split', ['x', 'y', 'z'])
      .addEdge('y', 'y2')
      .addEdge(['x', 'y2', 'z'], 'join')
      .addEdge('join', END)
      .build();
    const out = await g.run();
    expect(peak).toBe(3);
    expect(joined).toHaveLength(1); // the join ran once, after every branch
    expect(new Set(joined[0])).toEqual(new Set(['split', 'x', 'y', 'y2', 'z']));
    expect(out.verdict).toBe('joined 4');
  });

  it('fans out from a router returning several targets', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('a', noop)
      .addNode('b', () => ({ log: ['b'] }))
      .addNode('c', () => ({ log: ['c'] }))
      .addEdge(START, 'a')
      .addConditionalEdge('a', () => ['b', 'c'], { targets: ['b', 'c'] })
      .build();
    expect((await g.run()).log.sort()).toEqual(['b', 'c']);
  });

  it('loops within the declared bound and fails past it', async () => {
    const loop = (until: number) =>
      graph<S>({ state: spec() })
        .addNode('work', () => ({ n: 1 }))
        .addEdge(START, 'work')
        .addConditionalEdge('work', (s) => (s.n < until ? 'work' : END), {
          targets: ['work', END],
          maxLoops: 3,
        })
        .build();
    expect((await loop(4).run()).n).toBe(4);
    const err = await rejectsWith(loop(10).run(), WorkflowErrorCode.LoopLimit);
    expect(err.data).toMatchObject({ from: 'work', to: 'work', maxLoops: 3 });
  });

  it('guards routers without declared targets with maxSteps', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('spin', noop)
      .addEdge(START, 'spin')
      .addConditionalEdge('spin', () => 'spin')
      .build();
    await rejectsWith(g.run({}, { maxSteps: 5 }), WorkflowErrorCode.LoopLimit);
    const ghost = graph<S>({ state: spec() })
      .addNode('a', noop)
      .addEdge(START, 'a')
      .addConditionalEdge('a', () => 'ghost')
      .build();
    await rejectsWith(ghost.run(), WorkflowErrorCode.MissingTarget);
  });

  it('aborts on the signal and cancels running nodes', async () => {
    const ac = new AbortController();
    let sawAbort = false;
    const g = graph<S>({ state: spec() })
      .addNode('slow', (_s, ctx) => {
        return new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve(undefined);
          });
        });
      })
      .addEdge(START, 'slow')
      .build();
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await rejectsWith(g.run({}, { signal: ac.signal }), WorkflowErrorCode.Aborted);
    expect(sawAbort).toBe(true);
  });

  it('wraps node errors with GRAPH_NODE_FAILED and the node name', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('boom', () => {
        throw new Error('kaput');
      })
      .addEdge(START, 'boom')
      .build();
    const err = await rejectsWith(g.run(), WorkflowErrorCode.NodeFailed);
    expect(err.data).toEqual({ node: 'boom' });
    expect((err.cause as Error).message).toBe('kaput');
  });

  it('runs agent nodes through invokeAgent, and refuses them without it', async () => {
    const g = graph<S>({ state: spec() })
      .addNode('ask', { agent: 'agents/critic' })
      .addEdge(START, 'ask')
      .build();
    await rejectsWith(g.run(), WorkflowErrorCode.Unsupported);
    const out = await g.run({}, { invokeAgent: async (address) => ({ verdict: `from ${address}` }) });
    expect(out.verdict).toBe('from agents/critic');
  });

  it('runs a subgraph node and folds its updates through the parent reducers', async () => {
    const inner = graph<S>({ state: spec() })
      .addNode('i1', () => ({ log: ['i1'], n: 1 }))
      .addNode('i2', () => ({ log: ['i2'], n: 1 }))
      .addEdge(START, 'i1')
      .addEdge('i1', 'i2')
      .build();
    const outer = graph<S>({ state: spec() })
      .addNode('before', () => ({ log: ['before'], n: 1 }))
      .addNode('sub', inner)
      .addEdge(START, 'before')
      .addEdge('before', 'sub')
      .build();
    expect(await outer.run()).toMatchObject({ n: 3, log: ['before', 'i1', 'i2'] });
  });
});

describe('JSON definitions', () => {
  const registry: GraphRegistry = {
    nodes: {
      add: (config) => () => ({
        score: (config as { by: number }).by,
        log: [`add ${(config as { by: number }).by}`],
      }),
      say: (config, name) => () => ({ verdict: String(config), log: [name] }),
    },
  };
  const def: GraphDefinition = {
    state: { score: 'sum', log: { reducer: 'append', default: [] }, verdict: 'replace' },
    nodes: [
      { name: 'score', type: 'add', config: { by: 7 } },
      { name: 'high', type: 'say', config: 'high' },
      { name: 'low', type: 'say', config: 'low' },
      { name: 'again', type: 'add', config: { by: 1 } },
    ],
    edges: [
      { from: '__start__', to: 'score' },
      { from: 'again', to: 'score', maxLoops: 5 },
    ],
    conditionalEdges: [
      {
        from: 'score',
        branches: [
          { when: 'score >= 10 && !(verdict == "skip")', to: 'high' },
          { when: 'score < 3', to: 'low' },
        ],
        otherwise: 'again',
      },
    ],
  };

  it('builds and runs, and survives a round trip through JSON text', async () => {
    const direct = await graphFromJson(def, registry).run({ score: 1 });
    const parsed = JSON.parse(JSON.stringify(def)) as GraphDefinition;
    const again = await graphFromJson(parsed, registry).run({ score: 1 });
    // 1 + 7 = 8 -> again (9) -> score (16) -> high
    expect(direct).toEqual({ score: 16, verdict: 'high', log: ['add 7', 'add 1', 'add 7', 'high'] });
    expect(again).toEqual(direct);
    expect((await graphFromJson(parsed, registry).run({ score: -10 })).verdict).toBe('low');
    // Defaults are fresh per run.
    expect((await graphFromJson(parsed, registry).run({ score: -10 })).log).toEqual(['add 7', 'low']);
  });

  it('validates like the builder, with codes', () => {
    const bad = (patch: Partial<GraphDefinition>) =>
      codeOf(() => graphFromJson({ ...def, ...patch }, registry));
    expect(bad({ nodes: [...def.nodes, { name: 'orphan', type: 'say' }] })).toBe(
      WorkflowErrorCode.Unreachable,
    );
    expect(bad({ nodes: [...def.nodes, { name: 'x', type: 'constructor' }] })).toBe(
      WorkflowErrorCode.Invalid,
    );
    expect(bad({ nodes: [...def.nodes, { name: 'x', type: 'nope' }] })).toBe(WorkflowErrorCode.Invalid);
    expect(bad({ state: { score: 'toString' } })).toBe(WorkflowErrorCode.Invalid);
    expect(
      bad({
        edges: [
          { from: '__start__', to: 'score' },
          { from: 'again', to: 'score' },
        ],
      }),
    ).toBe(WorkflowErrorCode.UnboundedCycle);
    expect(bad({ edges: [{ from: '__start__', to: 'scor' }] })).toBe(WorkflowErrorCode.MissingTarget);
    expect(bad({ nodes: [...def.nodes, { name: 'high', type: 'say' }] })).toBe(WorkflowErrorCode.Duplicate);
    expect(
      bad({ conditionalEdges: [{ from: 'score', branches: [{ when: 'process.exit()', to: 'high' }] }] }),
    ).toBe(WorkflowErrorCode.ExprSyntax);
  });

  it('runs agent nodes from JSON', async () => {
    const g = graphFromJson(
      {
        state: { verdict: 'replace' },
        nodes: [{ name: 'judge', agent: 'agents/judge' }],
        edges: [{ from: '__start__', to: 'judge' }],
      },
      registry,
    );
    const out = await g.run({}, { invokeAgent: async (a) => ({ verdict: a }) as Partial<JsonState> });
    expect(out.verdict).toBe('agents/judge');
  });
});

describe('expression language', () => {
  const state = { a: 3, s: 'x', ok: true, deep: { list: [1, 2], name: 'n' }, nil: null };

  it('evaluates paths, literals, comparisons and logic with precedence', () => {
    expect(evaluate('a == 3', state)).toBe(true);
    expect(evaluate('a != 3', state)).toBe(false);
    expect(evaluate('a < 4 && a <= 3 && a > 2 && a >= 3', state)).toBe(true);
    expect(evaluate('s == "x" && s == \'x\'', state)).toBe(true);
    expect(evaluate('deep.name == "n" && ok', state)).toBe(true);
    expect(codeOf(() => parseExpression('deep.list.1 == 2'))).toBe(WorkflowErrorCode.ExprSyntax); // no index access
  });

  it('handles precedence, negation, parentheses, missing paths and null', () => {
    expect(evaluate('false || true && false', state)).toBe(false);
    expect(evaluate('(false || true) && true', state)).toBe(true);
    expect(evaluate('!ok || !!ok', state)).toBe(true);
    expect(evaluate('missing.path == null', state)).toBe(false); // undefined is not null
    expect(evaluate('nil == null', state)).toBe(true);
    expect(evaluate('!missing', state)).toBe(true);
    expect(evaluate('s < 3', state)).toBe(false); // no coercion across types
    expect(evaluate('"a" < "b"', state)).toBe(true);
    expect(evaluate('deep.name.length > 0', state)).toBe(false); // own properties only
    expect(evaluate('a >= 2.5', state)).toBe(true);
    expect(evaluate('a > -1 && -2.5 < a', state)).toBe(true);
  });

  it('rejects bad syntax with GRAPH_EXPR_SYNTAX', () => {
    for (const src of [
      '',
      'a ==',
      'a == == 3',
      '(a',
      'a)',
      '"open',
      'a +  1',
      'a = 3',
      'a.',
      '3 4',
      'a == 3;',
    ])
      expect(
        codeOf(() => parseExpression(src)),
        src,
      ).toBe(WorkflowErrorCode.ExprSyntax);
  });

  it('rejects malicious input with codes and never evaluates code', () => {
    const calls = [
      'process.exit()',
      'require("fs")',
      'globalThis.process.exit(1)',
      'a.toString()',
      'eval("1")',
      'Function("return 1")()',
      '`x`',
      'a[0]',
      'a => a',
      'x; process.exit()',
    ];
    for (const src of calls)
      expect(
        codeOf(() => parseExpression(src)),
        src,
      ).toBe(WorkflowErrorCode.ExprSyntax);
    for (const src of [
      'constructor',
      '__proto__',
      'a.constructor.name == "Object"',
      'prototype',
      'x.__proto__.y',
    ])
      expect(
        codeOf(() => parseExpression(src)),
        src,
      ).toBe(WorkflowErrorCode.ExprForbidden);
    // Names of globals are only state fields.
    expect(evaluate('process == null', {})).toBe(false);
    expect(parseExpression('process')({})).toBeUndefined();
    expect(parseExpression('toString')({})).toBeUndefined();
    expect(parseExpression('hasOwnProperty')({ a: 1 })).toBeUndefined();
  });

  it('rejects oversized and deeply nested input with GRAPH_EXPR_TOO_COMPLEX', () => {
    expect(codeOf(() => parseExpression(`${'a || '.repeat(300)}a`))).toBe(WorkflowErrorCode.ExprTooComplex);
    expect(codeOf(() => parseExpression(`${'('.repeat(40)}a${')'.repeat(40)}`))).toBe(
      WorkflowErrorCode.ExprTooComplex,
    );
    expect(codeOf(() => parseExpression(`${'!'.repeat(40)}a`))).toBe(WorkflowErrorCode.ExprTooComplex);
  });
});
