// The activation directory's store: which node hosts a directory-placed virtual actor, read from and
// recorded in the namespace's KV bucket with compare-and-set, so owners racing over a shard move agree.

import { jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock, Membership, NodeInfo, PlacementStrategy } from '../../runtime/index.js';
import { directoryBucket, kvStream, type SubjectScheme } from './subjects.js';

const BUCKET_TIMEOUT_MS = 2000;

/** Same rule as `assertValidName`: a node id maps to one subject token. */
const NODE_ID = /^[A-Za-z0-9_\-:+=@~]{1,128}$/;
const isNodeId = (name: string): boolean => NODE_ID.test(name);

/** What the store works with, from the directory. */
export interface PlacementStoreOptions {
  connection: NatsConnection;
  subjects: SubjectScheme;
  membership: Membership;
  clock: Clock;
  /** Placements this owner made count towards a node's load for this long (its load figures lag). */
  recentMs: number;
  /** Whether mail may go to `node` (it is not known to be gone). */
  usable: (node: string) => boolean;
  onError: (key: string, error: unknown) => void;
}

/** @internal Places directory-placed actors: the recorded node while usable, else the strategy's choice. */
export class PlacementStore {
  readonly #o: PlacementStoreOptions;
  readonly #bucket: string;
  /** Node ids placed by this owner lately, with when: added to their reported load. */
  #recent: { node: string; at: number }[] = [];
  #kv: Promise<KV> | undefined;

  constructor(options: PlacementStoreOptions) {
    this.#o = options;
    this.#bucket = directoryBucket(options.subjects.namespace);
  }

  /**
   * The node for an actor: a usable node recorded in KV, else the strategy's choice, recorded with a
   * compare-and-set so that racing owners end with the same node. `avoid` is a host that just bounced.
   */
  async place(
    type: string,
    id: string,
    placement: PlacementStrategy,
    reply: string | undefined,
    avoid: string | undefined,
  ): Promise<string> {
    // KV keys allow only `[-/_=.a-zA-Z0-9]`; names may hold more.
    const key = Buffer.from(`${type}/${id}`).toString('base64url');
    const usable = (node: string): boolean =>
      node !== avoid && this.#o.usable(node) && this.#hosts(node, type);
    let kv: KV | undefined;
    try {
      kv = await this.#bucketOnce();
    } catch (err) {
      // No directory store: this owner still routes consistently; a later owner may place the actor anew.
      this.#o.onError(key, err);
      return this.#choose(type, id, placement, reply, avoid);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry: KvEntry | null = await kv.get(key);
      const recorded = entry?.operation === 'PUT' ? entry.string() : undefined;
      // KV is writable by any client: a recorded name that is no node id is garbage, not a place to publish.
      if (recorded !== undefined && isNodeId(recorded) && usable(recorded)) return recorded;
      const chosen = this.#choose(type, id, placement, reply, avoid);
      try {
        if (entry === null) await kv.create(key, chosen);
        else await kv.update(key, chosen, entry.revision);
        return chosen;
      } catch {
        // Another owner recorded a node first: read what it chose.
      }
    }
    throw new Error(`activation directory: no agreement on ${type}/${id} after 5 tries`);
  }

  /** True unless membership knows `node` and it does not host `type`. */
  #hosts(node: string, type: string): boolean {
    if (node === this.#o.membership.self.id) return true;
    const info = this.#o.membership.members().find((m) => m.id === node);
    return info === undefined || info.types.includes(type);
  }

  #choose(
    type: string,
    id: string,
    placement: PlacementStrategy,
    reply: string | undefined,
    avoid: string | undefined,
  ): string {
    const self = this.#o.membership.self.id;
    const members = this.#o.membership
      .members()
      .filter((m) => m.id === self || (m.id !== avoid && m.types.includes(type)));
    let chosen = self;
    try {
      const context = { self, members: this.#withRecent(members), origin: this.#o.subjects.originOf(reply) };
      chosen = placement.place(`${type}/${id}`, context) ?? self;
    } catch (err) {
      // A strategy that throws must not strand the mail: the shard's owner hosts the actor itself.
      this.#o.onError(`${type}/${id}`, err);
    }
    this.#recent.push({ node: chosen, at: this.#o.clock.now() });
    return chosen;
  }

  /** Members with this owner's recent placements added to their load, so a burst does not pile on one node. */
  #withRecent(members: NodeInfo[]): NodeInfo[] {
    const since = this.#o.clock.now() - this.#o.recentMs;
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
    const js = jetstream(this.#o.connection, { timeout: BUCKET_TIMEOUT_MS });
    const jsm = await js.jetstreamManager();
    const kvm = new Kvm(js);
    for (let attempt = 1; ; attempt++) {
      const exists = await jsm.streams.info(kvStream(this.#bucket)).then(
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
