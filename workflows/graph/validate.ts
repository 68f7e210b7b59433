// Static checks run by `build()`: names, targets, reachability from START, and a bound on every cycle.

import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { type CondEdge, END, type PlainEdge, START } from './types.js';

function checkBound(maxLoops: number | undefined, where: string): void {
  if (maxLoops !== undefined && !(Number.isInteger(maxLoops) && maxLoops > 0))
    throw new WorkflowError(WorkflowErrorCode.Invalid, `${where}: maxLoops must be a positive integer`, {
      data: { maxLoops },
    });
}

/** Throws the first problem found, as a coded {@link WorkflowError}. */
export function validateGraph(
  names: readonly string[],
  edges: readonly PlainEdge[],
  conds: readonly CondEdge<unknown>[],
): void {
  const nodes = new Set<string>();
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0)
      throw new WorkflowError(WorkflowErrorCode.Invalid, 'a node name must be a non-empty string', {
        data: { name },
      });
    if (name === START || name === END || nodes.has(name))
      throw new WorkflowError(WorkflowErrorCode.Duplicate, `node name "${name}" is taken`, {
        data: { node: name },
      });
    nodes.add(name);
  }
  const isSource = (n: string) => n === START || nodes.has(n);
  const isTarget = (n: string) => n === END || nodes.has(n);
  const missing = (n: string, what: string) =>
    new WorkflowError(WorkflowErrorCode.MissingTarget, `${what} "${n}" is not a node`, { data: { node: n } });
  // Graph for the analyses: bounded edges are kept apart, since only they may close a cycle.
  const all = new Map<string, Set<string>>();
  const unbounded = new Map<string, Set<string>>();
  const link = (from: string, to: string, bounded: boolean) => {
    for (const g of bounded ? [all] : [all, unbounded]) {
      const set = g.get(from) ?? new Set<string>();
      g.set(from, set);
      set.add(to);
    }
  };
  for (const e of edges) {
    checkBound(e.maxLoops, `edge ${e.from.join(',')} -> ${e.to}`);
    if (e.from.length === 0)
      throw new WorkflowError(WorkflowErrorCode.Invalid, `edge to "${e.to}" has no source`);
    for (const f of e.from) if (!isSource(f)) throw missing(f, 'edge source');
    if (!isTarget(e.to)) throw missing(e.to, 'edge target');
    for (const f of e.from) link(f, e.to, e.maxLoops !== undefined);
  }
  for (const c of conds) {
    checkBound(c.maxLoops, `conditional edge from ${c.from}`);
    if (typeof c.router !== 'function')
      throw new WorkflowError(
        WorkflowErrorCode.Invalid,
        `conditional edge from "${c.from}" needs a router function`,
      );
    if (!isSource(c.from)) throw missing(c.from, 'conditional edge source');
    // A router without declared targets may go anywhere: checked at run time instead.
    for (const t of c.targets ?? [...nodes, END]) {
      if (!isTarget(t)) throw missing(t, `conditional edge target (from "${c.from}")`);
      if (c.targets !== undefined) link(c.from, t, c.maxLoops !== undefined);
    }
  }
  if (!all.has(START))
    throw new WorkflowError(WorkflowErrorCode.Invalid, `no edge leaves START ("${START}")`);
  const seen = new Set<string>([START]);
  const stack = [START];
  for (let n = stack.pop(); n !== undefined; n = stack.pop())
    for (const t of all.get(n) ?? [])
      if (!seen.has(t)) {
        seen.add(t);
        stack.push(t);
      }
  // Routers without declared targets make any node reachable: skip the check rather than guess.
  const open = conds.some((c) => c.targets === undefined && seen.has(c.from));
  if (!open)
    for (const n of nodes)
      if (!seen.has(n))
        throw new WorkflowError(WorkflowErrorCode.Unreachable, `node "${n}" cannot be reached from START`, {
          data: { node: n },
        });
  const cycle = findCycle(unbounded);
  if (cycle)
    throw new WorkflowError(
      WorkflowErrorCode.UnboundedCycle,
      `cycle ${cycle.join(' -> ')} has no edge with a maxLoops bound`,
      { data: { cycle } },
    );
}

/** A cycle in `g` (as the list of its nodes, first repeated last), or undefined when `g` is acyclic. */
function findCycle(g: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 1 | 2>(); // 1: on the path, 2: done
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    path.push(n);
    for (const t of g.get(n) ?? []) {
      const s = state.get(t);
      if (s === 1) return [...path.slice(path.indexOf(t)), t];
      if (s === undefined) {
        const found = visit(t);
        if (found) return found;
      }
    }
    path.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of g.keys())
    if (!state.has(n)) {
      const found = visit(n);
      if (found) return found;
    }
  return undefined;
}
