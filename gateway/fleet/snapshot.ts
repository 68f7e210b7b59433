// One picture of the fleet for the fleet page: its nodes with their supervision trees (what `troupe ps` lists),
// the agents' registry cards, the recent dead letters, and links into the trace viewer.

import type { AgentCard, AgentRegistry } from '../../agents/index.js';
import type { ActorInfo, ActorSystem, NodeDeadLetter } from '../../runtime/index.js';

/** An actor and the actors it parents, as the page draws them. */
export interface FleetActor {
  address: string;
  type: string;
  status: string;
  supervisor: boolean;
  restarts: number;
  mailbox: number;
  processed: number;
  lastError?: string;
  /** Where to look for its traces (a search, since an actor carries no one trace id). */
  traces?: string;
  children: FleetActor[];
}

export interface FleetNode {
  id: string;
  actors: number;
  /** Top-level actors (and actors whose parent was not listed), with their descendants. */
  tree: FleetActor[];
}

export interface FleetAgent {
  name: string;
  address: string;
  node: string;
  model: string;
  /** The agent actor's state from `ps` (running, paused, ...), else `stale` or `listed` from its card. */
  status: string;
  load: number;
  p50LatencyMs: number;
  successRate: number;
  costPer1kTokens: { input: number; output: number };
  updatedAt: number;
  traces?: string;
}

export interface FleetDeadLetter {
  at: number;
  node: string;
  address: string;
  reason: string;
  type?: string;
  sender?: string;
  error?: string;
  traceId?: string;
  traces?: string;
}

export interface FleetSnapshot {
  at: number;
  /** The gateway's own node (left out of `nodes`). */
  self: string;
  nodes: FleetNode[];
  /** Undefined when the gateway has no registry. */
  agents: FleetAgent[] | undefined;
  deadLetters: FleetDeadLetter[];
}

export interface TraceLinks {
  /** A trace's page, `{traceId}` replaced: e.g. `http://jaeger:16686/trace/{traceId}`. */
  traceUrl?: string;
  /** A search for an actor's traces, `{address}` replaced. @defaultValue derived from traceUrl (Jaeger search by `troupe.actor.address`) */
  traceSearchUrl?: string;
}

export interface CollectOptions extends TraceLinks {
  system: ActorSystem;
  registry?: AgentRegistry;
  /** How long nodes have to answer. */
  waitMs: number;
  /** Most dead letters kept (the newest). */
  maxDeadLetters: number;
  now: () => number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A trace id a message carries (`traceId`, or a W3C `traceparent`, at the top or under `trace`/`headers`). */
export function traceIdOf(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  for (const candidate of [m, m.trace, m.headers, m.meta]) {
    if (typeof candidate !== 'object' || candidate === null) continue;
    const c = candidate as Record<string, unknown>;
    if (typeof c.traceId === 'string' && TRACE_ID.test(c.traceId) && !/^0+$/.test(c.traceId))
      return c.traceId;
    const tp = typeof c.traceparent === 'string' ? TRACEPARENT.exec(c.traceparent) : null;
    if (tp?.[1] !== undefined && !/^0+$/.test(tp[1])) return tp[1];
  }
  return undefined;
}

/** The search URL template: the given one, or Jaeger's search derived from a `.../trace/{traceId}` URL. */
export function searchTemplate(links: TraceLinks): string | undefined {
  if (links.traceSearchUrl !== undefined) return links.traceSearchUrl;
  const base = links.traceUrl?.split('/trace/')[0];
  if (base === undefined || base === links.traceUrl) return undefined;
  return `${base}/search?service=troupe&tags={tags}`;
}

export function traceLink(template: string | undefined, traceId: string): string | undefined {
  return template?.replaceAll('{traceId}', encodeURIComponent(traceId));
}

export function searchLink(template: string | undefined, address: string): string | undefined {
  return template
    ?.replaceAll('{address}', encodeURIComponent(address))
    .replaceAll('{tags}', encodeURIComponent(JSON.stringify({ 'troupe.actor.address': address })));
}

const nodeOf = (a: ActorInfo): string => a.node ?? a.address.slice(0, a.address.indexOf('/'));

function trees(actors: ActorInfo[], search: string | undefined): FleetActor[] {
  const byAddress = new Map<string, FleetActor>();
  for (const a of actors)
    byAddress.set(a.address, {
      address: a.address,
      type: a.type,
      status: a.status,
      supervisor: a.isSupervisor,
      restarts: a.restarts,
      mailbox: a.mailboxDepth,
      processed: a.processed,
      ...(a.lastError === undefined ? {} : { lastError: `${a.lastError.code}: ${a.lastError.message}` }),
      ...(search === undefined ? {} : { traces: searchLink(search, a.address) as string }),
      children: [],
    });
  const roots: FleetActor[] = [];
  for (const a of actors) {
    const self = byAddress.get(a.address) as FleetActor;
    // `parent` is a path on the same node; `supervisor` an address. Either finds the parent's entry.
    const parent =
      (a.supervisor !== undefined ? byAddress.get(a.supervisor) : undefined) ??
      (a.parent !== undefined
        ? (byAddress.get(`${nodeOf(a)}/${a.parent}`) ?? byAddress.get(a.parent))
        : undefined);
    if (parent !== undefined && parent !== self) parent.children.push(self);
    else roots.push(self);
  }
  return roots;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Asks the fleet for one snapshot (nodes, actors, dead letters and cards in parallel). */
export async function collectSnapshot(options: CollectOptions): Promise<FleetSnapshot> {
  const { system, registry, waitMs } = options;
  const search = searchTemplate(options);
  const [actors, letters, listed, cards] = await Promise.all([
    system.ps({ timeoutMs: waitMs }),
    system.clusterDeadLetters({ timeoutMs: waitMs }),
    system.transport?.nodes?.(waitMs) ?? Promise.resolve([] as string[]),
    registry?.list(),
  ]);
  const self = system.nodeId;
  const perNode = new Map<string, ActorInfo[]>();
  for (const id of listed) if (id !== self) perNode.set(id, []);
  for (const a of actors) {
    const node = nodeOf(a);
    if (node === self) continue;
    const list = perNode.get(node) ?? [];
    list.push(a);
    perNode.set(node, list);
  }
  const nodes: FleetNode[] = [...perNode.entries()]
    .sort(([a], [b]) => byString(a, b))
    .map(([id, list]) => {
      list.sort((a, b) => byString(a.address, b.address));
      return { id, actors: list.length, tree: trees(list, search) };
    });
  const status = new Map(actors.map((a) => [a.address, a.status]));
  const now = options.now();
  const agents = cards
    ?.map((c: AgentCard): FleetAgent => {
      const traces = searchLink(search, c.address);
      return {
        name: c.name,
        address: c.address,
        node: c.node,
        model: c.model,
        status:
          status.get(c.address) ??
          (registry !== undefined && now - c.updatedAt > registry.staleAfterMs ? 'stale' : 'listed'),
        load: c.load,
        p50LatencyMs: c.p50LatencyMs,
        successRate: c.successRate,
        costPer1kTokens: c.costPer1kTokens,
        updatedAt: c.updatedAt,
        ...(traces === undefined ? {} : { traces }),
      };
    })
    .sort((a, b) => byString(a.name, b.name) || byString(a.address, b.address));
  const traceTemplate = options.traceUrl;
  const deadLetters = letters
    .filter((l) => l.node !== self)
    .sort((a, b) => a.at - b.at)
    .slice(-options.maxDeadLetters)
    .map((l: NodeDeadLetter): FleetDeadLetter => {
      const traceId = traceIdOf(l.message);
      const type = (l.message as { type?: unknown } | undefined)?.type;
      const traces =
        traceId !== undefined ? traceLink(traceTemplate, traceId) : searchLink(search, l.address);
      return {
        at: l.at,
        node: l.node,
        address: l.address,
        reason: l.reason,
        ...(typeof type === 'string' ? { type } : {}),
        ...(l.sender === undefined ? {} : { sender: l.sender }),
        ...(l.error === undefined ? {} : { error: `${l.error.code}: ${l.error.message}` }),
        ...(traceId === undefined ? {} : { traceId }),
        ...(traces === undefined ? {} : { traces }),
      };
    });
  return { at: now, self, nodes, agents, deadLetters };
}
