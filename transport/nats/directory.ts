// The activation directory: where virtual actors placed by a non-deterministic strategy (least-loaded,
// prefer-local) live, decided once per actor by its shard's owner and recorded in NATS KV.

import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { Clock, Membership, PlacementStrategy, TimerHandle } from '../../runtime/index.js';
import { PlacementStore } from './placement-store.js';
import type { StatusDispatcher } from './status.js';
import { Segment, type SubjectScheme } from './subjects.js';
import { UnconfirmedRing } from './unconfirmed.js';

/** What the directory works with, from the transport. */
export interface DirectoryOptions {
  connection: NatsConnection;
  subjects: SubjectScheme;
  membership: Membership;
  clock: Clock;
  /** The directory takes the `$fw` statuses: forwards that found no subscriber. */
  status: StatusDispatcher;
  /** Placements this owner made count towards a node's load for this long (its load figures lag). */
  recentMs: number;
  /** Delivers a frame for an actor placed on this node. */
  deliverHere: (msg: Msg) => void;
  /** Something failed for `key` (an actor or a directory entry): reported, never thrown. */
  onError: (key: string, error: unknown) => void;
}

/** Forwards that may still bounce, at most. */
const RING = 65_536;
const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 500;

/** A message for one actor, with its order of arrival at this owner. */
interface Routed {
  seq: number;
  msg: Msg;
}

/** A forward on its way: what to do again if it bounces. */
interface Forward extends Routed {
  shardKey: string;
  type: string;
  id: string;
  host: string;
}

/** An actor whose mail is held here: while it is placed, or while its host does not answer. */
interface Held {
  shardKey: string;
  type: string;
  id: string;
  /** Waiting mail, in order of arrival. */
  msgs: Routed[];
  /** `placing`: a lookup or placement is under way; `blocked`: `host` bounced a forward. */
  phase: 'placing' | 'blocked';
  host: string | undefined;
  delay: number;
  timer: TimerHandle | undefined;
  /** Forwards bounced since the last resend went out. */
  bounced: number;
  inFlight: boolean;
}

/**
 * @internal Routes the mail of non-deterministically placed virtual actors. NATS still delivers a virtual
 * actor's mail to its shard's owner (hash placement over the hosts); the owner looks the actor up here and
 * forwards the raw frame to the node hosting it (`troupe.<ns>.<node>.$va.<type>.<id>`).
 *
 * - **Placing.** The first message places the actor: the owner reads KV, and if no live node is recorded,
 *   asks the strategy and records its choice with a compare-and-set (`create`, or `update` at the revision
 *   read), so two owners racing over a shard move agree on one node. Mail for the actor waits meanwhile, so
 *   per-sender order holds. An entry naming a node this owner has not seen is used as it is: a forward that
 *   finds nobody says so.
 * - **A host that does not answer.** Forwards carry a reply subject of the owner's and are kept until a
 *   flush confirms them, so a no-responders status brings the frame back here. The actor's mail is then held
 *   in order (bounced frames go back in their place) and sent to the same host again with backoff, since a
 *   blip (a reconnect) must not start a second instance; once membership says the host failed or left, or
 *   it is a node membership never knew, the owner waits for every earlier bounce to be in (a flush), places
 *   the actor anew and sends the held mail there, oldest first.
 * - **Entries** stay while their node is alive, so a passivated actor reactivates where it lived.
 */
export class ActivationDirectory {
  readonly #nc: NatsConnection;
  readonly #subjects: SubjectScheme;
  readonly #membership: Membership;
  readonly #clock: Clock;
  readonly #store: PlacementStore;
  readonly #deliverHere: (msg: Msg) => void;
  readonly #onError: (key: string, error: unknown) => void;
  readonly #ring: UnconfirmedRing<Forward>;
  /** `type.shard` → id → node. Only the shard's owner fills it; dropped when the shard moves. */
  readonly #shards = new Map<string, Map<string, string>>();
  readonly #held = new Map<string, Held>();
  /** The strategy of each type routed here, for placing an actor again after its host went away. */
  readonly #placements = new Map<string, PlacementStrategy>();
  #alive = new Set<string>();
  /** Nodes membership saw fail or leave (until they join again). */
  readonly #departed = new Set<string>();
  #seq = 0;
  #closed = false;

  constructor(options: DirectoryOptions) {
    const { connection: nc, membership, clock } = options;
    this.#nc = nc;
    this.#subjects = options.subjects;
    this.#membership = membership;
    this.#clock = clock;
    this.#store = new PlacementStore({
      connection: nc,
      subjects: options.subjects,
      membership,
      clock,
      recentMs: options.recentMs,
      usable: (node) => this.#usable(node),
      onError: options.onError,
    });
    this.#deliverHere = options.deliverHere;
    this.#onError = options.onError;
    this.#ring = new UnconfirmedRing(RING, clock, () => nc.flush());
    options.status.onNoResponders(Segment.Forward, (rest) => this.#forwardFailed(rest));
    this.#refreshAlive();
    membership.onChange((event) => {
      this.#refreshAlive();
      if (event.type === 'joined') this.#departed.delete(event.node.id);
      if (event.type === 'failed' || event.type === 'left') {
        this.#departed.add(event.node.id);
        // Mail held for its actors can be placed elsewhere now.
        for (const [key, held] of this.#held) {
          if (held.phase === 'blocked' && held.host === event.node.id) this.#retry(key, held, true);
        }
      }
    });
  }

  #refreshAlive(): void {
    this.#alive = new Set(this.#membership.members().map((m) => m.id));
  }

  /** Whether mail may go to `node`: alive, or not known to be gone (a node this owner has not seen yet). */
  #usable(node: string): boolean {
    return node === this.#membership.self.id || !this.#departed.has(node);
  }

  /** Routes a frame that arrived on shard `shardKey` (`type.shard`) for actor `type`/`id`. */
  route(shardKey: string, type: string, id: string, placement: PlacementStrategy, msg: Msg): void {
    const key = `${type}/${id}`;
    const routed: Routed = { seq: ++this.#seq, msg };
    const held = this.#held.get(key);
    if (held) {
      held.msgs.push(routed);
      return;
    }
    const node = this.#shards.get(shardKey)?.get(id);
    if (node !== undefined && this.#usable(node)) {
      this.#forward(node, shardKey, type, id, routed);
      return;
    }
    this.#startPlacing(key, { shardKey, type, id }, [routed], placement, undefined);
  }

  /** A forward found no subscriber (`rest` follows `$fw.` in its reply subject). */
  #forwardFailed(rest: string): void {
    const fwd = this.#ring.take(Number(rest));
    if (fwd === undefined || this.#closed) return;
    const key = `${fwd.type}/${fwd.id}`;
    let held = this.#held.get(key);
    if (!held) {
      held = {
        shardKey: fwd.shardKey,
        type: fwd.type,
        id: fwd.id,
        msgs: [],
        phase: 'blocked',
        host: fwd.host,
        delay: FIRST_DELAY_MS,
        timer: undefined,
        bounced: 0,
        inFlight: false,
      };
      this.#held.set(key, held);
    }
    held.bounced++;
    insertBySeq(held.msgs, fwd);
    if (held.phase === 'blocked' && held.timer === undefined && !held.inFlight) this.#retry(key, held, false);
  }

  /** Forgets what this node knew of a shard's actors (it released or claimed the shard): KV stays the truth. */
  forgetShard(shardKey: string): void {
    this.#shards.delete(shardKey);
  }

  /** Stops routing. Held mail is bounced to its senders, which send it again (to the shard's next owner). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#shards.clear();
    for (const held of this.#held.values()) {
      if (held.timer !== undefined) this.#clock.clearTimeout(held.timer);
      for (const { msg } of held.msgs) this.#bounceToSender(msg);
    }
    this.#held.clear();
    this.#ring.close();
  }

  #bounceToSender(msg: Msg): void {
    if (!msg.reply || this.#nc.isClosed()) return;
    try {
      this.#nc.publish(msg.reply, new Uint8Array(0), { headers: headers(503, 'No Responders') });
    } catch {
      // Draining: nothing more can be said.
    }
  }

  #forward(node: string, shardKey: string, type: string, id: string, routed: Routed): void {
    if (node === this.#membership.self.id) {
      this.#deliverHere(routed.msg);
      return;
    }
    if (this.#nc.isClosed()) return;
    const fwdId = this.#ring.add({ ...routed, shardKey, type, id, host: node });
    const signed = routed.msg.headers;
    this.#nc.publish(this.#subjects.forwarded(node, type, id), routed.msg.data, {
      // A signed frame keeps its sender's signature: the host verifies the sender, not this forwarder.
      ...(signed && { headers: signed }),
      reply: this.#subjects.forwardReply(this.#membership.self.id, fwdId),
    });
  }

  /** Sends held mail to `node` in order and stops holding it (mail that bounces again is held anew). */
  #release(key: string, held: Held, node: string): void {
    let entries = this.#shards.get(held.shardKey);
    if (!entries) {
      entries = new Map();
      this.#shards.set(held.shardKey, entries);
    }
    entries.set(held.id, node);
    this.#held.delete(key);
    try {
      for (const routed of held.msgs) this.#forward(node, held.shardKey, held.type, held.id, routed);
    } catch (err) {
      // The connection started draining or closed under us: what was not sent is lost, as on any exit.
      this.#onError(key, err);
    }
  }

  #startPlacing(
    key: string,
    actor: { shardKey: string; type: string; id: string },
    msgs: Routed[],
    placement: PlacementStrategy | undefined,
    avoid: string | undefined,
  ): void {
    const held: Held = {
      ...actor,
      msgs,
      phase: 'placing',
      host: undefined,
      delay: FIRST_DELAY_MS,
      timer: undefined,
      bounced: 0,
      inFlight: false,
    };
    this.#held.set(key, held);
    if (placement) this.#placements.set(actor.type, placement);
    const strategy = placement ?? this.#placements.get(actor.type)!;
    void this.#store
      .place(actor.type, actor.id, strategy, held.msgs[0]?.msg.reply, avoid)
      .catch((err: unknown) => {
        this.#onError(key, err);
        return this.#membership.self.id;
      })
      .then((chosen) => {
        if (this.#closed || this.#held.get(key) !== held) return;
        this.#release(key, held, chosen);
      });
  }

  /**
   * Held mail for an actor whose host bounced: once the host is known gone, place the actor anew (after a
   * flush, so every earlier bounce is back in its place first); until then send it to the host again.
   */
  #retry(key: string, held: Held, now: boolean): void {
    if (this.#closed || held.inFlight) return;
    if (held.timer !== undefined) {
      if (!now) return;
      this.#clock.clearTimeout(held.timer);
      held.timer = undefined;
    }
    const host = held.host!;
    const gone = this.#departed.has(host) || !this.#alive.has(host);
    /** After a flush round trip (every bounce of what was sent before is in), if still holding. */
    const afterFlush = (then: () => void): void => {
      void this.#nc
        .flush()
        .catch(() => undefined)
        .then(() => {
          held.inFlight = false;
          if (!this.#closed && this.#held.get(key) === held) then();
        });
    };
    const run = (): void => {
      held.timer = undefined;
      if (this.#closed || this.#held.get(key) !== held) return;
      held.inFlight = true;
      held.bounced = 0;
      if (gone) {
        afterFlush(() => {
          this.#held.delete(key);
          this.#startPlacing(key, held, held.msgs, undefined, host);
        });
        return;
      }
      // The oldest alone, the rest once it is through: a host that comes back while a batch is on its way
      // would get the tail, and the bounced head after it.
      const head = held.msgs.shift();
      if (head !== undefined) this.#forward(host, held.shardKey, held.type, held.id, head);
      afterFlush(() => {
        if (held.bounced > 0) this.#retry(key, held, false);
        else this.#release(key, held, host);
      });
    };
    if (gone) run();
    else {
      held.timer = this.#clock.setTimeout(run, held.delay);
      held.delay = Math.min(held.delay * 2, MAX_DELAY_MS);
    }
  }
}

/** Inserts `routed` into `list` (sorted by arrival) at its place. */
function insertBySeq(list: Routed[], routed: Routed): void {
  let at = list.length;
  while (at > 0 && list[at - 1]!.seq > routed.seq) at--;
  list.splice(at, 0, routed);
}
