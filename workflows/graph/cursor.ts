// Where a run stands between supersteps, and the pure routing that moves it on: which nodes the finished ones
// lead to through plain edges (joins wait for all their sources), routers and error edges, with loop bounds.

import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { END, type GraphParts, type NodeFailure, START } from './types.js';

type Bag = Record<string, unknown>;

/**
 * @internal Where a run stands between supersteps; plain JSON, so a durable run can record it. `step` counts
 * the supersteps done; `active` runs next.
 */
export interface Cursor {
  step: number;
  active: string[];
  /** Traversals of bounded edges, by edge id. */
  loops: Record<string, number>;
  /** Join edges: the sources finished so far, by edge id. */
  waiting: Record<string, string[]>;
  /** Nodes that ran at least once (a bound counts returns to them). */
  ran: string[];
  /** Failures handed to the targets of error edges in the next step. */
  errors: Record<string, NodeFailure>;
}

/** @internal What one node produced in a step: its updates, or the failure its error edge routes. */
export interface NodeOutcome {
  updates: Bag[];
  error?: NodeFailure;
}

/** @internal The cursor before the first step: the targets of START. */
export function firstCursor<S>(graph: GraphParts<S>, state: Bag): Cursor {
  const cursor: Cursor = { step: 0, active: [], loops: {}, waiting: {}, ran: [], errors: {} };
  return follow(graph, state, cursor, [START], new Map());
}

/** @internal The cursor after step `cursor.step + 1`, once its nodes' updates are in `state`. */
export function nextCursor<S>(
  graph: GraphParts<S>,
  state: Bag,
  cursor: Cursor,
  outcomes: ReadonlyMap<string, NodeOutcome>,
): Cursor {
  const names = cursor.active;
  const ran = new Set(cursor.ran);
  for (const n of names) ran.add(n);
  const next: Cursor = {
    step: cursor.step + 1,
    active: [],
    loops: { ...cursor.loops },
    waiting: Object.fromEntries(Object.entries(cursor.waiting).map(([k, v]) => [k, [...v]])),
    ran: [...ran],
    errors: {},
  };
  return follow(graph, state, next, names, outcomes);
}

/** Where finished nodes lead: plain edges (joins wait for all their sources), routers, error edges. */
function follow<S>(
  graph: GraphParts<S>,
  state: Bag,
  cursor: Cursor,
  finished: readonly string[],
  outcomes: ReadonlyMap<string, NodeOutcome>,
): Cursor {
  const next = new Set<string>();
  const ran = new Set(cursor.ran);
  const take = (id: string, maxLoops: number | undefined, to: string, from: string) => {
    // A bound counts loops: traversals back to a node this run already ran (END and first visits are free).
    if (maxLoops !== undefined && ran.has(to)) {
      const n = (cursor.loops[id] ?? 0) + 1;
      if (n > maxLoops)
        throw new WorkflowError(
          WorkflowErrorCode.LoopLimit,
          `edge ${from} -> ${to} taken more than its maxLoops (${maxLoops})`,
          { data: { from, to, maxLoops } },
        );
      cursor.loops[id] = n;
    }
    if (to !== END) next.add(to);
  };
  for (const n of finished) {
    const failure = outcomes.get(n)?.error;
    if (failure !== undefined) {
      // The error edge replaces the node's other edges.
      const target = graph.options.get(n)?.onError as string;
      if (target !== END) cursor.errors[target] = failure;
      take(`x:${n}`, undefined, target, n);
      continue;
    }
    graph.edges.forEach((e, i) => {
      if (!e.from.includes(n)) return;
      if (e.from.length === 1) {
        take(`e${i}`, e.maxLoops, e.to, n);
        return;
      }
      const done = new Set(cursor.waiting[`e${i}`] ?? []);
      done.add(n);
      if (done.size === e.from.length) {
        delete cursor.waiting[`e${i}`];
        take(`e${i}`, e.maxLoops, e.to, e.from.join('+'));
      } else cursor.waiting[`e${i}`] = [...done];
    });
    graph.conds.forEach((c, i) => {
      if (c.from !== n) return;
      const picked = c.router(state as S);
      for (const t of typeof picked === 'string' ? [picked] : picked) {
        if ((t !== END && !graph.nodes.has(t)) || (c.targets !== undefined && !c.targets.includes(t)))
          throw new WorkflowError(
            WorkflowErrorCode.MissingTarget,
            `router of "${n}" returned unknown "${t}"`,
            {
              data: { node: n, target: t },
            },
          );
        take(`c${i}`, c.maxLoops, t, n);
      }
    });
  }
  cursor.active = [...next];
  return cursor;
}
