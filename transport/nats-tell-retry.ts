// Tells to virtual actors that found no owner (their shard is between nodes) are sent again, in order,
// instead of becoming dead letters at once.

import type { Clock, TimerHandle } from '../runtime/index.js';
import { UnconfirmedRing } from './nats-unconfirmed.js';

/**
 * The reply-subject segment of a virtual tell: `<node>.$nv.<publish id>.<tells>.<target tokens>` (one NATS
 * message may carry a batch of tells to one actor).
 */
export const VIRTUAL_TELL_SEGMENT = '$nv';

const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 500;
/** Publishes that may still bounce, at most (see {@link UnconfirmedRing}). */
const RING = 65_536;

interface Held {
  /** Send order: ids grow with every tell (and queued ask) to any target. */
  id: number;
  target: string;
  /** The target's subject tokens, for the reply subject. */
  tokens: string;
  subject: string;
  /** One frame, or a batch of `count` frames (see codec's packBatch). */
  frame: Uint8Array;
  count: number;
  /** An ask's reply subject: it waits in the queue like a tell, but its status goes to the asker. */
  reply?: string | undefined;
  /** When it first came back: the retry window counts from here, across retry rounds. */
  failedAt?: number;
}

interface Retrying {
  /** Tells waiting to go (again), by id, so in the order they were first sent. */
  queue: Held[];
  since: number;
  delay: number;
  timer: TimerHandle | undefined;
  inFlight: boolean;
  /** Statuses that came back since the last resend went out. */
  bounced: number;
}

/** What the retrier needs from the transport. */
export interface TellRetryDeps {
  clock: Clock;
  /** Publishes a frame with a reply subject. */
  publish(subject: string, frame: Uint8Array, reply: string): void;
  /** Resolves once the server has processed everything published before (its no-responders came back). */
  flush(): Promise<void>;
  /**
   * `count` tells could not be delivered within the window: dead letters on this node (with their frame, or
   * batch, when still kept).
   */
  undeliverable(target: string, frame: Uint8Array | undefined, count: number): void;
}

/**
 * @internal Core NATS is at-most-once, but it does say when nobody subscribes: the server answers a publish
 * that carries a reply subject with a no-responders status. A virtual actor has no subscriber while its
 * shard moves between nodes (a failure, a join), so tells are kept until a flush round trip confirms them
 * (every 100 ms): one that comes back is queued per target with every later tell to that target, and the
 * queue is sent again with backoff until a node takes the shard (a flush round trip without a new status
 * confirms it) or `windowMs` has passed; then they are dead letters.
 */
export class VirtualTellRetry {
  readonly #deps: TellRetryDeps;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #retrying = new Map<string, Retrying>();
  readonly #ring: UnconfirmedRing<Held>;
  #seq = 0;
  #closed = false;

  /** `nodePrefix` is `troupe.<ns>.<node>.`; `windowMs` bounds how long one target's tells are retried. */
  constructor(deps: TellRetryDeps, nodePrefix: string, windowMs: number) {
    this.#deps = deps;
    this.#prefix = nodePrefix;
    this.#windowMs = windowMs;
    this.#ring = new UnconfirmedRing(RING, deps.clock, deps.flush);
  }

  /**
   * Sends `count` tells (one frame, or a batch) to virtual address `target` on `subject`, or queues them
   * behind earlier ones being retried.
   */
  send(target: string, tokens: string, subject: string, frame: Uint8Array, count: number): void {
    const id = ++this.#seq;
    const retrying = this.#retrying.size === 0 ? undefined : this.#retrying.get(target);
    const held: Held = { id, target, tokens, subject, frame, count };
    if (retrying) retrying.queue.push(held);
    else this.#publish(held);
  }

  /**
   * True when tells to `target` wait for an owner: an ask to it then queues behind them (same sender, same
   * order) and goes out with them; if it finds no owner still, the asker re-sends it as usual.
   */
  queueAsk(target: string, subject: string, frame: Uint8Array, reply: string): boolean {
    if (this.#retrying.size === 0) return false;
    const retrying = this.#retrying.get(target);
    if (!retrying) return false;
    retrying.queue.push({ id: ++this.#seq, target, tokens: '', subject, frame, count: 1, reply });
    return true;
  }

  /** The no-responders status of a tell came back; `rest` follows `$nv.` in its reply subject. */
  failed(rest: string): void {
    const dot = rest.indexOf('.');
    const dot2 = rest.indexOf('.', dot + 1);
    const held = this.#ring.take(Number(rest.slice(0, dot)));
    if (held === undefined || this.#closed) {
      // Confirmed or overwritten already (or we are closing): all left to say is that it was not delivered.
      // The count is what this node kept, never the one in the subject: a forged status costs one letter.
      this.#deps.undeliverable(rest.slice(dot2 + 1).replaceAll('.', '/'), held?.frame, held?.count ?? 1);
      return;
    }
    held.failedAt ??= this.#deps.clock.now();
    let retrying = this.#retrying.get(held.target);
    if (retrying) retrying.since = Math.min(retrying.since, held.failedAt);
    else {
      retrying = {
        queue: [],
        since: held.failedAt,
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

  close(): void {
    this.#closed = true;
    // Tells still waiting for an owner are not sent now: they are dead letters, not silently gone.
    // (A queued ask's asker fails it with SYSTEM_CLOSED as the system closes.)
    for (const [target, retrying] of this.#retrying) {
      if (retrying.timer !== undefined) this.#deps.clock.clearTimeout(retrying.timer);
      for (const held of retrying.queue)
        if (held.reply === undefined) this.#deps.undeliverable(target, held.frame, held.count);
    }
    this.#retrying.clear();
    this.#ring.close();
  }

  #publish(held: Held): void {
    if (held.reply !== undefined) {
      this.#deps.publish(held.subject, held.frame, held.reply);
      return;
    }
    const pubId = this.#ring.add(held);
    this.#deps.publish(
      held.subject,
      held.frame,
      `${this.#prefix}${VIRTUAL_TELL_SEGMENT}.${pubId}.${held.count}.${held.tokens}`,
    );
  }

  #schedule(target: string, retrying: Retrying): void {
    if (retrying.timer !== undefined || retrying.inFlight || this.#closed) return;
    if (this.#deps.clock.now() - retrying.since >= this.#windowMs) {
      this.#retrying.delete(target);
      for (const held of retrying.queue) {
        // An ask goes out to meet its own fate (no-responders, then the asker's deadline).
        if (held.reply !== undefined) this.#publish(held);
        else this.#deps.undeliverable(target, held.frame, held.count);
      }
      return;
    }
    retrying.timer = this.#deps.clock.setTimeout(() => {
      retrying.timer = undefined;
      void this.#resend(target, retrying);
    }, retrying.delay);
    retrying.delay = Math.min(retrying.delay * 2, MAX_DELAY_MS);
  }

  /** Sends the queue again; once a flush brings no new status back, the target is reachable and the rest go. */
  async #resend(target: string, retrying: Retrying): Promise<void> {
    const batch = retrying.queue;
    retrying.queue = [];
    retrying.inFlight = true;
    retrying.bounced = 0;
    for (const held of batch) this.#publish(held);
    try {
      await this.#deps.flush();
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
