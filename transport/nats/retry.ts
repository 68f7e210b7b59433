// Failover retries, for tells and asks alike: mail to a virtual actor that found no owner (its shard is
// between nodes) is sent again, in order, until a node takes the shard or its time is up.

import type { Msg } from '@nats-io/transport-node';
import type { Clock, TimerHandle } from '../../runtime/index.js';
import { type Envelope, parseVirtualAddress } from '../../runtime/internal.js';
import type { StatusDispatcher } from './status.js';
import { type NodeSubjects, parseVirtualTell, Segment, virtualTokens } from './subjects.js';
import { AskRing, UnconfirmedRing } from './unconfirmed.js';

const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 500;
/** Tell publishes that may still bounce, at most (see {@link UnconfirmedRing}). */
const RING = 65_536;

/** Mail held for a target: one tell, a batch of tells, or an ask. */
interface Held {
  /** Send order: ids grow with every tell and ask to any virtual actor. */
  id: number;
  target: string;
  /** The target's subject tokens, for a tell's reply subject. */
  tokens: string;
  subject: string;
  /** One frame, or a batch of `count` frames (see codec's packBatch). */
  frame: Uint8Array;
  count: number;
  /**
   * An ask, retried until its deadline. The status of one made here comes back on its own reply subject
   * (`reply`); one passed on from another node (rerouted, forwarded) is kept here like a tell (`$nv`).
   */
  ask: Envelope | undefined;
  /** Set for an ask made here or other mail with a reply subject of its own; tells get theirs when published. */
  reply: string | undefined;
  /** When it first came back: the tell window counts from here, across retry rounds. */
  failedAt?: number;
}

interface Retrying {
  /** Mail waiting to go (again), by id, so in the order it was first sent. */
  queue: Held[];
  /** Start of the tell window. */
  since: number;
  delay: number;
  timer: TimerHandle | undefined;
  inFlight: boolean;
  /** Statuses that came back since the last resend went out. */
  bounced: number;
}

/** An ask encoded for the wire. */
export interface EncodedAsk {
  subject: string;
  frame: Uint8Array;
  reply: string;
}

/** What the retrier needs from the transport. */
export interface FailoverRetryOptions {
  clock: Clock;
  subjects: NodeSubjects;
  /** The retrier takes the `$nv` (tells) and `$r` (asks) statuses. */
  status: StatusDispatcher;
  /** How long tells to one target are retried from their first bounce; asks are retried until their deadline. */
  tellWindowMs: number;
  /** Publishes a frame with a reply subject. */
  publish(subject: string, frame: Uint8Array, reply: string): void;
  /** Resolves once the server has processed everything published before (its no-responders came back). */
  flush(): Promise<void>;
  /** Encodes an ask again, to resend it after a bounce. */
  encodeAsk(envelope: Envelope): EncodedAsk;
  /** `count` tells found no owner in time: dead letters (with their frame, or batch, when still kept). */
  undeliverable(target: string, frame: Uint8Array | undefined, count: number): void;
  /** An ask found no owner before its deadline: its asker gets a `NO_RESPONDERS` error reply. */
  askFailed(replyTo: string, correlationId: string): void;
}

/**
 * @internal Core NATS is at-most-once, but it does say when nobody subscribes: the server answers a publish
 * that carries a reply subject with a no-responders status. A virtual actor has no subscriber while its
 * shard moves between nodes (a failure, a join), so tells and asks to virtual actors are kept until a flush
 * round trip confirms them (every 100 ms). One that comes back is queued per target with every later tell
 * and ask to that target; the oldest is sent again with backoff (20 ms doubling to 500 ms) until a node takes
 * the shard (a flush round trip without a new status confirms it), then the rest. Tells give up after
 * `tellWindowMs` (dead letters), asks when their deadline leaves no room for another round (a `NO_RESPONDERS`
 * reply).
 */
export class FailoverRetry {
  readonly #o: FailoverRetryOptions;
  readonly #retrying = new Map<string, Retrying>();
  readonly #tells: UnconfirmedRing<Held>;
  readonly #asks: AskRing;
  #seq = 0;
  #closed = false;

  constructor(options: FailoverRetryOptions) {
    this.#o = options;
    this.#tells = new UnconfirmedRing(RING, options.clock, options.flush);
    this.#asks = new AskRing(options.clock, options.flush);
    options.status.onNoResponders(Segment.VirtualTell, (rest) => this.#tellBounced(rest));
    options.status.onNoResponders(Segment.Reply, (rest, msg) => this.#askBounced(rest, msg));
  }

  /**
   * Sends `count` tells (one frame, or a batch) to virtual address `target` on `subject`, or queues them
   * behind earlier mail being retried.
   */
  sendTells(target: string, tokens: string, subject: string, frame: Uint8Array, count: number): void {
    const held: Held = {
      id: ++this.#seq,
      target,
      tokens,
      subject,
      frame,
      count,
      ask: undefined,
      reply: undefined,
    };
    const retrying = this.#retrying.size === 0 ? undefined : this.#retrying.get(target);
    if (retrying) retrying.queue.push(held);
    else this.#publish(held);
  }

  /**
   * Sends an ask to a virtual actor, or queues it behind earlier mail to it being retried (same order). An
   * ask made on another node (mail held for an actor whose shard moved, rerouted by its old owner; a
   * forward) is retried by this node: its asker's transport may have confirmed it long ago, so a status
   * sent there would find nothing to send again.
   */
  sendAsk(envelope: Envelope, subject: string, frame: Uint8Array, reply: string): void {
    if (envelope.replyTo !== this.#o.subjects.replyTo) {
      const virtual = parseVirtualAddress(envelope.target);
      if (virtual !== undefined) {
        const held: Held = {
          id: ++this.#seq,
          target: envelope.target,
          tokens: virtualTokens(virtual.type, virtual.id),
          subject,
          frame,
          count: 1,
          ask: envelope,
          reply: undefined,
        };
        const queued = this.#retrying.size === 0 ? undefined : this.#retrying.get(envelope.target);
        if (queued) queued.queue.push(held);
        else this.#publish(held);
        return;
      }
    }
    const id = ++this.#seq;
    const retrying = this.#retrying.size === 0 ? undefined : this.#retrying.get(envelope.target);
    if (retrying) {
      retrying.queue.push({
        id,
        target: envelope.target,
        tokens: '',
        subject,
        frame,
        count: 1,
        ask: envelope,
        reply,
      });
      return;
    }
    this.#asks.add(envelope, id);
    this.#o.publish(subject, frame, reply);
  }

  /**
   * Sends other mail to a virtual actor (a system message) behind what is held for it, so it keeps its
   * place; it is not retried itself: its status comes back on `reply`.
   */
  sendInOrder(target: string, subject: string, frame: Uint8Array, reply: string): void {
    const retrying = this.#retrying.size === 0 ? undefined : this.#retrying.get(target);
    if (retrying) {
      const held: Held = {
        id: ++this.#seq,
        target,
        tokens: '',
        subject,
        frame,
        count: 1,
        ask: undefined,
        reply,
      };
      retrying.queue.push(held);
    } else this.#o.publish(subject, frame, reply);
  }

  close(): void {
    this.#closed = true;
    // Tells still waiting for an owner are not sent now: they are dead letters, not silently gone.
    // (A queued ask's asker fails it with SYSTEM_CLOSED as the system closes.)
    for (const [target, retrying] of this.#retrying) {
      if (retrying.timer !== undefined) this.#o.clock.clearTimeout(retrying.timer);
      for (const held of retrying.queue) {
        if (held.reply !== undefined) continue;
        if (held.ask !== undefined) this.#o.askFailed(held.ask.replyTo!, held.ask.correlationId!);
        else this.#o.undeliverable(target, held.frame, held.count);
      }
    }
    this.#retrying.clear();
    this.#tells.close();
    this.#asks.close();
  }

  /** The status of tells (or of an ask passed on) came back; `rest` follows `$nv.` in its reply subject. */
  #tellBounced(rest: string): void {
    const { publishId, address } = parseVirtualTell(rest);
    const held = this.#tells.take(publishId);
    const ask = held?.ask;
    if (ask !== undefined && this.#closed) {
      this.#o.askFailed(ask.replyTo!, ask.correlationId!);
      return;
    }
    if (held === undefined || this.#closed) {
      // Confirmed or overwritten already (or we are closing): all left to say is that it was not delivered.
      // The count is what this node kept, never the one in the subject: a forged status costs one letter.
      this.#o.undeliverable(address, held?.frame, held?.count ?? 1);
      return;
    }
    held.failedAt ??= this.#o.clock.now();
    this.#hold(held, held.failedAt);
  }

  /** The status of an ask came back; `rest` is its correlation id. */
  #askBounced(correlationId: string, msg: Msg): void {
    const kept = this.#closed ? undefined : this.#asks.take(correlationId);
    if (kept === undefined) {
      // Not to a virtual actor, or no longer kept: the asker learns at once that no one answers.
      this.#o.askFailed(this.#o.subjects.addressOf(msg.subject), correlationId);
      return;
    }
    const { envelope, order } = kept;
    const now = this.#o.clock.now();
    const delay = this.#retrying.get(envelope.target)?.delay ?? FIRST_DELAY_MS;
    let encoded: EncodedAsk | undefined;
    if (envelope.deadline !== undefined && now + delay < envelope.deadline) {
      try {
        encoded = this.#o.encodeAsk(envelope);
      } catch {
        // It encoded when first sent; if it no longer does, fail it as unanswered.
      }
    }
    if (encoded === undefined) {
      this.#o.askFailed(envelope.replyTo!, correlationId);
      return;
    }
    const { subject, frame, reply } = encoded;
    this.#hold(
      { id: order, target: envelope.target, tokens: '', subject, frame, count: 1, ask: envelope, reply },
      now,
    );
  }

  /** Queues bounced mail in send order behind its target's other held mail, and schedules a resend. */
  #hold(held: Held, failedAt: number): void {
    let retrying = this.#retrying.get(held.target);
    if (retrying) retrying.since = Math.min(retrying.since, failedAt);
    else {
      retrying = {
        queue: [],
        since: failedAt,
        delay: FIRST_DELAY_MS,
        timer: undefined,
        inFlight: false,
        bounced: 0,
      };
      this.#retrying.set(held.target, retrying);
    }
    retrying.bounced++;
    // Statuses come back in send order, but keep the queue sorted by id whatever happens.
    const queue = retrying.queue;
    let at = queue.length;
    while (at > 0 && queue[at - 1]!.id > held.id) at--;
    queue.splice(at, 0, held);
    this.#schedule(held.target, retrying);
  }

  #publish(held: Held): void {
    if (held.reply !== undefined) {
      if (held.ask !== undefined) this.#asks.add(held.ask, held.id);
      this.#o.publish(held.subject, held.frame, held.reply);
      return;
    }
    const publishId = this.#tells.add(held);
    this.#o.publish(
      held.subject,
      held.frame,
      this.#o.subjects.virtualTell(publishId, held.count, held.tokens),
    );
  }

  #schedule(target: string, retrying: Retrying): void {
    if (retrying.timer !== undefined || retrying.inFlight || this.#closed) return;
    this.#expire(retrying);
    if (retrying.queue.length === 0) {
      this.#retrying.delete(target);
      return;
    }
    retrying.timer = this.#o.clock.setTimeout(() => {
      retrying.timer = undefined;
      void this.#resend(target, retrying);
    }, retrying.delay);
    retrying.delay = Math.min(retrying.delay * 2, MAX_DELAY_MS);
  }

  /**
   * Takes out of the queue the asks whose deadline leaves no room for another round (they fail) and, once
   * the tell window has passed, the tells (dead letters); the window restarts for tells sent after.
   */
  #expire(retrying: Retrying): void {
    const now = this.#o.clock.now();
    const tellsExpired = now - retrying.since >= this.#o.tellWindowMs;
    const last = now + retrying.delay;
    const queue = retrying.queue;
    let kept = 0;
    for (const held of queue) {
      const ask = held.ask;
      if (ask !== undefined) {
        if (ask.deadline === undefined || last >= ask.deadline)
          this.#o.askFailed(ask.replyTo!, ask.correlationId!);
        else queue[kept++] = held;
      } else if (!tellsExpired) queue[kept++] = held;
      else if (held.reply === undefined) this.#o.undeliverable(held.target, held.frame, held.count);
      // Other mail goes out to meet its own fate (its status comes back to its sender).
      else this.#publish(held);
    }
    queue.length = kept;
    if (tellsExpired) retrying.since = now;
  }

  /**
   * Sends the oldest held mail again, alone (with any other mail before it, whose status does not come back
   * here); once a flush brings no new status back, the target is reachable and the rest go, in order.
   */
  async #resend(target: string, retrying: Retrying): Promise<void> {
    // Not the whole queue: a node may take the shard while the server routes it, and then the head would
    // bounce while the tail reached the new owner, ahead of the head's next try.
    const queue = retrying.queue;
    let probe = 0;
    while (probe < queue.length - 1 && queue[probe]!.reply !== undefined && queue[probe]!.ask === undefined)
      probe++;
    const batch = queue.splice(0, probe + 1);
    retrying.inFlight = true;
    retrying.bounced = 0;
    for (const held of batch) this.#publish(held);
    try {
      await this.#o.flush();
    } catch {
      // Closed meanwhile: close() has dealt with the queue.
    }
    retrying.inFlight = false;
    if (this.#closed || this.#retrying.get(target) !== retrying) return;
    if (retrying.bounced > 0) {
      this.#schedule(target, retrying);
      return;
    }
    // Delivered: send what queued up meanwhile and go back to sending directly.
    this.#retrying.delete(target);
    for (const held of retrying.queue) this.#publish(held);
  }
}
