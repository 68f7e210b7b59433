// Shard ownership over NATS: each node subscribes to the shards of virtual actors that placement gives it.

import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Clock, Membership, TimerHandle } from '../../runtime/index.js';
import { type HostedType, parseVirtualAddress, shardOf, type TransportSink } from '../../runtime/internal.js';
import type { ActivationDirectory } from './directory.js';
import type { DurableMailboxes } from './durable.js';
import type { FrameSecurity } from './security.js';
import { isShardKey, ownerWithout, placeShards } from './shard-placement.js';
import { type SubjectScheme, shardKey } from './subjects.js';

/** What the shard owner works with: the connection, the cluster view and the node's other parts. */
export interface ShardOwnerOptions {
  connection: NatsConnection;
  subjects: SubjectScheme;
  nodeId: string;
  membership: Membership;
  sink: TransportSink;
  /** Delivers a frame that arrived on an owned shard. */
  onFrame: (msg: Msg) => void;
  /** Shards per virtual actor type; must be the same on every node. */
  shards: number;
  /** Most shards a node gives up per interval when a node joins: rebalancing without a storm. */
  moveBatch: number;
  moveIntervalMs: number;
  /** How long a node waits for the previous owner's release notice before claiming a shard anyway. */
  claimGraceMs: number;
  clock: Clock;
  durable?: DurableMailboxes | undefined;
  directory?: ActivationDirectory | undefined;
  /** A shard could not be consumed or routed (`shard` is `type.shard`, or `rebalance`). */
  onError?: ((shard: string, error: unknown) => void) | undefined;
  /** A rebalance claimed or released shards; `owned` is how many this node holds now (for the log). */
  onMoved?: ((claimed: number, released: number, owned: number) => void) | undefined;
  /**
   * Set for a signed transport: release notices are stamped and signed, and one counts only when signed by
   * the node it names as releaser (`by`), fresh (no replay), and only for a shard that node held as far as
   * this node knows.
   */
  security?: FrameSecurity | undefined;
}

/**
 * @internal Keeps this node subscribed to exactly the shards placement gives it. Releases are bounded per
 * interval and announced; a shard is claimed once its previous owner released it, left or failed (or after a
 * grace period), so two nodes rarely hold one shard at once.
 */
export class ShardOwner {
  readonly #nc: NatsConnection;
  readonly #subjects: SubjectScheme;
  readonly #self: string;
  readonly #membership: Membership;
  readonly #sink: TransportSink;
  readonly #onFrame: (msg: Msg) => void;
  readonly #options: ShardOwnerOptions;
  readonly #clock: Clock;
  readonly #durable: DurableMailboxes | undefined;
  readonly #onDurableError: (shard: string, error: unknown) => void;
  readonly #directory: ActivationDirectory | undefined;
  readonly #owned = new Map<string, Subscription>();
  /** Shards whose release was announced, with who announced it (`by`, as the notice says). */
  readonly #released = new Map<string, unknown>();
  readonly #security: FrameSecurity | undefined;
  readonly #desiredSince = new Map<string, number>();
  #previousOwner = new Map<string, string | undefined>();
  #types: HostedType[] = [];
  /** Cache for isDurable; dropped whenever the types or the membership change. */
  #durableTypes: Set<string> | undefined;
  #timer: TimerHandle | undefined;
  #notices: Subscription | undefined;
  #running = false;
  #again = false;
  #closed = false;
  /** Shards handed over so far (for tests and `troupe nodes`). */
  moves = 0;
  /** Shards taken over so far. */
  claims = 0;
  /** Shards placement gave this node at the last rebalance that it has not claimed yet (readiness). */
  pending = 0;

  constructor(options: ShardOwnerOptions) {
    this.#options = options;
    this.#nc = options.connection;
    this.#subjects = options.subjects;
    this.#self = options.nodeId;
    this.#membership = options.membership;
    this.#sink = options.sink;
    this.#onFrame = options.onFrame;
    this.#clock = options.clock;
    this.#durable = options.durable;
    this.#directory = options.directory;
    this.#onDurableError = options.onError ?? (() => undefined);
    this.#security = options.security;
  }

  /** Shard number of a virtual actor. */
  shardOf(type: string, id: string): number {
    return shardOf(`${type}/${id}`, this.#options.shards);
  }

  /** True when `type` is durable here or on any member (asked on every send: kept as a set). */
  isDurable(type: string): boolean {
    if (this.#durableTypes === undefined) {
      this.#durableTypes = new Set(this.#types.filter((t) => t.durable).map((t) => t.type));
      for (const m of this.#membership.members()) for (const t of m.durable) this.#durableTypes.add(t);
    }
    return this.#durableTypes.has(type);
  }

  /** Subject a virtual address is published to. */
  subjectOf(type: string, id: string): string {
    return this.#subjects.virtual(shardKey(type, id, this.#options.shards), id);
  }

  /** Shards this node holds now. */
  owned(): string[] {
    return [...this.#owned.keys()].sort();
  }

  start(): void {
    this.#notices = this.#nc.subscribe(this.#subjects.shardNotices, {
      callback: (_err, msg) => {
        try {
          const notice = JSON.parse(new TextDecoder().decode(msg.data)) as {
            released?: unknown;
            by?: unknown;
            stamp?: unknown;
          };
          // Only a notice naming one of our types' shards counts: anyone can publish here, and what is
          // remembered must stay bounded by the shards there are.
          if (
            typeof notice.released === 'string' &&
            notice.by !== this.#self &&
            isShardKey(notice.released, this.#types, this.#options.shards)
          ) {
            // Signed: a node announces only its own releases (a forged one would let a node claim a shard
            // its owner still serves), and only fresh ones (a replayed one would free a shard again).
            const security = this.#security;
            const by = typeof notice.by === 'string' ? notice.by : '';
            if (security !== undefined && !security.controlFrom(msg, by, 'shards', notice.stamp)) return;
            this.#released.set(notice.released, notice.by);
            this.schedule();
          }
        } catch {
          // Not a notice: ignore.
        }
      },
    });
    this.#membership.onChange(() => {
      this.#durableTypes = undefined;
      this.schedule();
    });
    const tick = (): void => {
      if (this.#closed) return;
      this.schedule();
      this.#timer = this.#clock.setTimeout(tick, this.#options.moveIntervalMs);
    };
    this.#timer = this.#clock.setTimeout(tick, this.#options.moveIntervalMs);
  }

  setTypes(types: HostedType[]): void {
    this.#types = types;
    this.#durableTypes = undefined;
    this.#membership.setTypes(
      types.map((t) => t.type),
      types.filter((t) => t.durable).map((t) => t.type),
    );
    this.schedule();
  }

  /** Runs a rebalance now, or right after the one in progress. */
  schedule(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#rebalance()
      .catch((err: unknown) => this.#onDurableError('rebalance', err))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.schedule();
        }
      });
  }

  async #rebalance(): Promise<void> {
    const members = this.#membership.members();
    const alive = new Set(members.map((m) => m.id));
    const { desired, owners } = placeShards(this.#types, members, this.#self, this.#options.shards);
    // Give up shards that belong elsewhere now, a bounded batch at a time.
    let released = 0;
    for (const key of [...this.#owned.keys()]) {
      if (desired.has(key)) continue;
      if (released >= this.#options.moveBatch) break;
      released++;
      await this.#release(key);
    }
    const now = this.#clock.now();
    let claimed = 0;
    for (const key of desired) {
      if (this.#owned.has(key)) continue;
      if (!this.#desiredSince.has(key)) this.#desiredSince.set(key, now);
      // Who held it before: from the last view, or (first time round) the owner were this node absent.
      const previous = this.#previousOwner.has(key)
        ? this.#previousOwner.get(key)
        : ownerWithout(key, this.#types, members, this.#self);
      const free =
        previous === undefined ||
        previous === this.#self ||
        !alive.has(previous) ||
        this.#releasedBy(key, previous) ||
        now - this.#desiredSince.get(key)! >= this.#options.claimGraceMs;
      if (free) {
        this.#claim(key);
        if (this.#owned.has(key)) claimed++;
      }
    }
    if (claimed > 0 || released > 0) this.#options.onMoved?.(claimed, released, this.#owned.size);
    for (const key of this.#desiredSince.keys())
      if (!desired.has(key) || this.#owned.has(key)) this.#desiredSince.delete(key);
    let pending = 0;
    for (const key of desired) if (!this.#owned.has(key)) pending++;
    this.pending = pending;
    // Remember who owned what under this view, keeping what we knew for shards still waiting to be claimed.
    for (const [key, owner] of owners) {
      if (!desired.has(key) || this.#owned.has(key)) this.#previousOwner.set(key, owner);
      else if (!this.#previousOwner.has(key)) this.#previousOwner.set(key, owner);
    }
  }

  /**
   * True when shard `key`'s release was announced. Signed, only its previous owner's release counts: another
   * node (holding a valid key) may not free a shard it never held.
   */
  #releasedBy(key: string, previous: string): boolean {
    if (this.#security === undefined) return this.#released.has(key);
    return this.#released.get(key) === previous;
  }

  #claim(key: string): void {
    if (this.#closed || this.#nc.isClosed() || this.#nc.isDraining()) return;
    this.#released.delete(key);
    this.claims++;
    const [type, shard] = key.split('.') as [string, string];
    const placement = this.#types.find((t) => t.type === type)?.placement;
    const directory = placement && !placement.deterministic ? this.#directory : undefined;
    directory?.forgetShard(key);
    const idAt = this.#subjects.virtualIdAt(key);
    this.#owned.set(
      key,
      this.#nc.subscribe(this.#subjects.shardWildcard(key), {
        callback: (err, msg) => {
          if (err) {
            // The server refused the subscription (permissions): give the shard up rather than read garbage.
            this.#owned.delete(key);
            this.#onDurableError(key, err);
            return;
          }
          // A throw in a subscription callback would stop nats.js reading the connection: contain it.
          try {
            if (directory) directory.route(key, type, msg.subject.slice(idAt), placement!, msg);
            else this.#onFrame(msg);
          } catch (err) {
            this.#onDurableError(key, err);
          }
        },
      }),
    );
    if (this.#durable && this.#types.some((t) => t.type === type && t.durable)) {
      this.#durable
        .claim(type, Number(shard), () => this.#owned.has(key) && !this.#closed)
        .catch((err: unknown) => this.#onDurableError(key, err));
    }
  }

  async #release(key: string): Promise<void> {
    const sub = this.#owned.get(key);
    this.#owned.delete(key);
    // Drain, not unsubscribe: nats.js drops at once what arrives for a closed subscription, so mail the server
    // routed here before it processed the UNSUB (no no-responders status for it: it had a subscriber) would
    // vanish. Draining delivers it until a flush round trip confirms the server has stopped routing to us;
    // then the shard's actors are passivated, so it reaches them (or is held and rerouted), never nothing.
    await this.#unsubscribe(sub);
    this.#directory?.forgetShard(key);
    const [type, shard] = key.split('.') as [string, string];
    await this.#durable?.release(type, Number(shard));
    await this.#sink.passivate((address) => {
      const parsed = parseVirtualAddress(address);
      return (
        parsed !== undefined &&
        parsed.type === type &&
        shardKey(type, parsed.id, this.#options.shards) === key
      );
    });
    this.moves++;
    if (!this.#nc.isClosed()) {
      const notice = { released: `${type}.${shard}`, by: this.#self };
      const security = this.#security;
      if (security === undefined) this.#nc.publish(this.#subjects.shardNotices, JSON.stringify(notice));
      else {
        // Stamped (send time, incarnation, sequence) and signed over the exact bytes sent.
        const frame = security.controlFrame(notice);
        this.#nc.publish(this.#subjects.shardNotices, frame.data, { headers: frame.headers });
      }
    }
  }

  /** Stops a shard subscription once the server has stopped routing to it and what it routed was handled. */
  async #unsubscribe(sub: Subscription | undefined): Promise<void> {
    if (sub === undefined) return;
    if (this.#nc.isClosed() || sub.isClosed()) return;
    // A flush waits out a disconnection: past the claim grace the next owner takes the shard anyway.
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, this.#options.claimGraceMs);
    });
    try {
      await Promise.race([sub.drain(), timeout]);
    } catch {
      // The connection closed meanwhile: nothing more arrives.
    } finally {
      this.#clock.clearTimeout(timer!);
      if (!sub.isClosed() && !this.#nc.isClosed()) sub.unsubscribe();
    }
  }

  /** Releases every shard (announcing each), for a graceful exit. */
  async releaseAll(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const keys = [...this.#owned.keys()];
    for (const key of keys) await this.#release(key);
    if (keys.length > 0) this.#options.onMoved?.(0, keys.length, this.#owned.size);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#durable?.close();
    this.#directory?.close();
    if (!this.#nc.isClosed()) {
      for (const sub of this.#owned.values()) sub.unsubscribe();
      this.#notices?.unsubscribe();
    }
    this.#owned.clear();
  }
}
