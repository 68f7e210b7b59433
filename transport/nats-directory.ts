// The activation directory: where virtual actors placed by a non-deterministic strategy (least-loaded,
// prefer-local) live, decided once per actor by its shard's owner and recorded in NATS KV.

import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { Clock, Membership, NodeInfo, PlacementStrategy } from '../runtime/index.js';

/** Options of the directory, from the transport. */
export interface DirectoryOptions {
  /** Placements this owner made count towards a node's load for this long (its load figures lag). */
  recentMs: number;
}

interface Pending {
  msgs: Msg[];
}

const BUCKET_TIMEOUT_MS = 2000;

/** The reply-subject segment of forwarded frames: `<owner>.$fw.<host>.<sender's reply subject>`. */
export const FORWARD_SEGMENT = '$fw';

/**
 * @internal Routes the mail of non-deterministically placed virtual actors. NATS still delivers a virtual
 * actor's mail to its shard's owner (hash placement over the hosts); the owner looks the actor up here and
 * forwards the raw frame to the node hosting it (`troupe.<ns>.<node>.$va.<type>.<id>`). The server tells only
 * the publisher when nobody subscribes, so a forward carries a reply subject of the owner's naming the host
 * and the sender's own reply subject: when the host is gone the owner stops placing there at once and passes
 * the no-responders status on to the sender (an ask is re-sent, a tell becomes a dead letter there, as for
 * any actor between nodes). The first message places the actor: the owner
 * asks the strategy, writes the choice to KV (awaited, so a later owner of the shard finds it), and only then
 * forwards. Mail for one actor waits behind its lookup, so per-sender order holds. An entry is kept while
 * its node is alive (a passivated actor reactivates where it was); one naming a node that left or failed is
 * placed again.
 */
export class ActivationDirectory {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #bucket: string;
  readonly #membership: Membership;
  readonly #clock: Clock;
  readonly #options: DirectoryOptions;
  readonly #deliverHere: (msg: Msg) => void;
  readonly #onError: (key: string, error: unknown) => void;
  /** `type.shard` → id → node. Only the shard's owner fills it; dropped when the shard moves. */
  readonly #shards = new Map<string, Map<string, string>>();
  readonly #pending = new Map<string, Pending>();
  /** Node ids placed by this owner lately, with when: added to their reported load. */
  #recent: { node: string; at: number }[] = [];
  #alive = new Set<string>();
  /** Hosts a forward found gone before membership noticed; cleared if the node joins again. */
  readonly #gone = new Set<string>();
  #kv: Promise<KV> | undefined;
  #closed = false;
  /** Actors placed so far by this node (for tests and benches). */
  placed = 0;

  constructor(
    nc: NatsConnection,
    namespace: string,
    membership: Membership,
    clock: Clock,
    options: DirectoryOptions,
    deliverHere: (msg: Msg) => void,
    onError: (key: string, error: unknown) => void,
  ) {
    this.#nc = nc;
    this.#prefix = `troupe.${namespace}.`;
    this.#bucket = `troupe-dir-${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.#membership = membership;
    this.#clock = clock;
    this.#options = options;
    this.#deliverHere = deliverHere;
    this.#onError = onError;
    this.#refreshAlive();
    membership.onChange((event) => {
      if (event.type === 'joined') this.#gone.delete(event.node.id);
      this.#refreshAlive();
    });
  }

  #isAlive(node: string): boolean {
    return this.#alive.has(node) && !this.#gone.has(node);
  }

  #refreshAlive(): void {
    this.#alive = new Set(this.#membership.members().map((m) => m.id));
  }

  /** Routes a frame that arrived on shard `shardKey` (`type.shard`) for actor `type`/`id`. */
  route(shardKey: string, type: string, id: string, placement: PlacementStrategy, msg: Msg): void {
    const key = `${type}/${id}`;
    const waiting = this.#pending.get(key);
    if (waiting) {
      waiting.msgs.push(msg);
      return;
    }
    const node = this.#shards.get(shardKey)?.get(id);
    if (node !== undefined && this.#isAlive(node)) {
      this.#forward(node, type, id, msg);
      return;
    }
    const pending: Pending = { msgs: [msg] };
    this.#pending.set(key, pending);
    void this.#place(type, id, placement, msg.reply).then((chosen) => {
      this.#pending.delete(key);
      if (this.#closed) return;
      let entries = this.#shards.get(shardKey);
      if (!entries) {
        entries = new Map();
        this.#shards.set(shardKey, entries);
      }
      entries.set(id, chosen);
      try {
        for (const m of pending.msgs) this.#forward(chosen, type, id, m);
      } catch (err) {
        // The connection started draining or closed under us: what was not sent is lost, as on any exit.
        this.#onError(key, err);
      }
    });
  }

  /**
   * A forward found no subscriber (`rest` is what follows `$fw.` in its reply subject): its host is gone.
   * Place its actors anew from now on, and pass the status on to the sender.
   */
  forwardFailed(rest: string): void {
    const dot = rest.indexOf('.');
    const host = dot < 0 ? rest : rest.slice(0, dot);
    if (host !== this.#membership.self.id) this.#gone.add(host);
    if (dot < 0 || this.#nc.isClosed()) return;
    this.#nc.publish(rest.slice(dot + 1), new Uint8Array(0), {
      headers: headers(503, 'No Responders'),
    });
  }

  /** Forgets what this node knew of a shard's actors (it released or claimed the shard): KV stays the truth. */
  forgetShard(shardKey: string): void {
    this.#shards.delete(shardKey);
  }

  close(): void {
    this.#closed = true;
    this.#shards.clear();
  }

  #forward(node: string, type: string, id: string, msg: Msg): void {
    if (node === this.#membership.self.id) {
      this.#deliverHere(msg);
      return;
    }
    if (this.#nc.isClosed()) return;
    const self = this.#membership.self.id;
    const reply = `${this.#prefix}${self}.${FORWARD_SEGMENT}.${node}${msg.reply ? `.${msg.reply}` : ''}`;
    this.#nc.publish(`${this.#prefix}${node}.$va.${type}.${id}`, msg.data, { reply });
  }

  /** The node for a new (or orphaned) actor: its live KV entry, else the strategy's choice, recorded. */
  async #place(
    type: string,
    id: string,
    placement: PlacementStrategy,
    reply: string | undefined,
  ): Promise<string> {
    const self = this.#membership.self.id;
    // KV keys allow only `[-/_=.a-zA-Z0-9]`; names may hold more.
    const key = Buffer.from(`${type}/${id}`).toString('base64url');
    let kv: KV | undefined;
    try {
      kv = await this.#bucketOnce();
      const entry = await kv.get(key);
      if (entry?.operation === 'PUT') {
        const node = entry.string();
        const host = this.#membership.members().find((m) => m.id === node);
        if (host && !this.#gone.has(node) && (host.id === self || host.types.includes(type))) return node;
      }
    } catch (err) {
      this.#onError(key, err);
    }
    const members = this.#membership
      .members()
      .filter((m) => m.id === self || (m.types.includes(type) && !this.#gone.has(m.id)));
    let chosen = self;
    try {
      const context = { self, members: this.#withRecent(members), origin: originOf(reply, this.#prefix) };
      chosen = placement.place(`${type}/${id}`, context) ?? self;
    } catch (err) {
      // A strategy that throws must not strand the mail: the shard's owner hosts the actor itself.
      this.#onError(key, err);
    }
    this.#recent.push({ node: chosen, at: this.#clock.now() });
    this.placed++;
    try {
      await kv?.put(key, chosen);
    } catch (err) {
      // Not recorded: this owner still routes consistently; a later owner may place the actor anew.
      this.#onError(key, err);
    }
    return chosen;
  }

  /** Members with this owner's recent placements added to their load, so a burst does not pile on one node. */
  #withRecent(members: NodeInfo[]): NodeInfo[] {
    const since = this.#clock.now() - this.#options.recentMs;
    let drop = 0;
    while (drop < this.#recent.length && this.#recent[drop]!.at < since) drop++;
    if (drop > 0) this.#recent = this.#recent.slice(drop);
    if (this.#recent.length === 0) return members;
    const extra = new Map<string, number>();
    for (const r of this.#recent) extra.set(r.node, (extra.get(r.node) ?? 0) + 1);
    return members.map((m) => {
      const n = extra.get(m.id);
      return n === undefined ? m : { ...m, load: { ...m.load, actors: m.load.actors + n } };
    });
  }

  #bucketOnce(): Promise<KV> {
    this.#kv ??= this.#openBucket();
    this.#kv.catch(() => {
      this.#kv = undefined;
    });
    return this.#kv;
  }

  /**
   * Opens the bucket, creating it when missing. Nodes placing their first actors create it at the same
   * moment; a create that loses that race fails or (seen on nats-server 2.9) never hears back, so requests
   * time out early and the loser opens what the winner made.
   */
  async #openBucket(): Promise<KV> {
    const js = jetstream(this.#nc, { timeout: BUCKET_TIMEOUT_MS });
    const jsm = await js.jetstreamManager();
    const kvm = new Kvm(js);
    for (let attempt = 1; ; attempt++) {
      const exists = await jsm.streams.info(`KV_${this.#bucket}`).then(
        () => true,
        () => false,
      );
      if (exists) return kvm.open(this.#bucket);
      try {
        return await kvm.create(this.#bucket, { history: 1 });
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }
}

/** The node a message came from, read from its reply subject (`troupe.<ns>.<node>.$r…` or `….$nr…`). */
function originOf(reply: string | undefined, prefix: string): string | undefined {
  if (!reply?.startsWith(prefix)) return undefined;
  const end = reply.indexOf('.', prefix.length);
  return end < 0 ? undefined : reply.slice(prefix.length, end);
}
