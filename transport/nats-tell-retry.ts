// Tells to virtual actors that found no owner (their shard is between nodes) are sent again, in order,
// instead of becoming dead letters at once.

import type { Clock, TimerHandle } from '../runtime/index.js';

/** The reply-subject segment of a virtual tell: `<node>.$nv.<id>.<target tokens>`. */
export const VIRTUAL_TELL_SEGMENT = '$nv';

const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 500;
/** A tell whose no-responders status has not come back after this long reached a subscriber. */
const SETTLED_AFTER_MS = 2000;

interface Held {
  id: number;
  target: string;
  /** The target's subject tokens, for the reply subject. */
  tokens: string;
  subject: string;
  frame: Uint8Array;
  sentAt: number;
  /** An ask's reply subject: it waits in the queue like a tell, but its status goes to the asker. */
  reply?: string | undefined;
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
  /** The tell could not be delivered within the window: a dead letter on this node (frame if still kept). */
  undeliverable(target: string, frame: Uint8Array | undefined): void;
}

/**
 * @internal Core NATS is at-most-once, but it does say when nobody subscribes: the server answers a publish
 * that carries a reply subject with a no-responders status. A virtual actor has no subscriber while its
 * shard moves between nodes (a failure, a join), so its tells are kept briefly after they go out: one that
 * comes back is queued per target with every later tell to that target, and the queue is sent again with
 * backoff until a node takes the shard (a flush round trip without a new status confirms it) or
 * `windowMs` has passed; then they are dead letters. Tells are kept only until their status could have come
 * back, so the cost on the way out is a map entry.
 */
export class VirtualTellRetry {
  readonly #deps: TellRetryDeps;
  readonly #prefix: string;
  readonly #windowMs: number;
  /** Sent tells whose status could still come back, by id (insertion order is send order). */
  readonly #sent = new Map<number, Held>();
  readonly #retrying = new Map<string, Retrying>();
  #seq = 0;
  #sweep: TimerHandle | undefined;
  #closed = false;
  /** Tells sent again so far (for tests and `troupe nodes`). */
  resent = 0;

  /** `nodePrefix` is `troupe.<ns>.<node>.`; `windowMs` bounds how long one target's tells are retried. */
  constructor(deps: TellRetryDeps, nodePrefix: string, windowMs: number) {
    this.#deps = deps;
    this.#prefix = nodePrefix;
    this.#windowMs = windowMs;
  }

  /** Sends a tell to virtual address `target` on `subject`, or queues it behind earlier ones being retried. */
  send(target: string, tokens: string, subject: string, frame: Uint8Array): void {
    const held: Held = { id: ++this.#seq, target, tokens, subject, frame, sentAt: 0 };
    const retrying = this.#retrying.get(target);
    if (retrying) retrying.queue.push(held);
    else this.#publish(held);
  }

  /**
   * True when tells to `target` wait for an owner: an ask to it then queues behind them (same sender, same
   * order) and goes out with them; if it finds no owner still, the asker re-sends it as usual.
   */
  queueAsk(target: string, tokens: string, subject: string, frame: Uint8Array, reply: string): boolean {
    const retrying = this.#retrying.get(target);
    if (!retrying) return false;
    retrying.queue.push({ id: ++this.#seq, target, tokens, subject, frame, sentAt: 0, reply });
    return true;
  }

  /** The no-responders status of a tell came back; `rest` follows `$nv.` in its reply subject. */
  failed(rest: string): void {
    const dot = rest.indexOf('.');
    const held = this.#sent.get(Number(rest.slice(0, dot)));
    if (!held || this.#closed) {
      // Forgotten already (or closing): what is left to say is that it was not delivered.
      this.#deps.undeliverable(rest.slice(dot + 1).replaceAll('.', '/'), held?.frame);
      return;
    }
    this.#sent.delete(held.id);
    let retrying = this.#retrying.get(held.target);
    if (!retrying) {
      const now = this.#deps.clock.now();
      retrying = {
        queue: [],
        since: now,
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
    if (this.#sweep !== undefined) this.#deps.clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    // Tells still waiting for an owner are not sent now: they are dead letters, not silently gone.
    for (const [target, retrying] of this.#retrying) {
      if (retrying.timer !== undefined) this.#deps.clock.clearTimeout(retrying.timer);
      for (const held of retrying.queue) this.#deps.undeliverable(target, held.frame);
    }
    // (A queued ask's asker fails it with SYSTEM_CLOSED as the system closes; its dead letter records it.)
    this.#retrying.clear();
    this.#sent.clear();
  }

  #publish(held: Held): void {
    if (held.reply !== undefined) {
      this.#deps.publish(held.subject, held.frame, held.reply);
      return;
    }
    held.sentAt = this.#deps.clock.now();
    this.#sent.set(held.id, held);
    this.#scheduleSweep();
    this.#deps.publish(
      held.subject,
      held.frame,
      `${this.#prefix}${VIRTUAL_TELL_SEGMENT}.${held.id}.${held.tokens}`,
    );
  }

  #schedule(target: string, retrying: Retrying): void {
    if (retrying.timer !== undefined || retrying.inFlight || this.#closed) return;
    const now = this.#deps.clock.now();
    if (now - retrying.since >= this.#windowMs) {
      this.#retrying.delete(target);
      for (const held of retrying.queue) {
        // An ask goes out to meet its own fate (no-responders, then the asker's deadline).
        if (held.reply !== undefined) this.#publish(held);
        else this.#deps.undeliverable(target, held.frame);
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
    this.resent += batch.length;
    for (const held of batch) this.#publish(held);
    try {
      await this.#deps.flush();
    } catch {
      // Closed meanwhile: close() has dropped everything.
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

  /** Forgets sent tells old enough that their status would have come back. */
  #scheduleSweep(): void {
    if (this.#sweep !== undefined || this.#closed) return;
    this.#sweep = this.#deps.clock.setTimeout(() => {
      this.#sweep = undefined;
      const before = this.#deps.clock.now() - SETTLED_AFTER_MS;
      for (const [id, held] of this.#sent) {
        if (held.sentAt > before) break;
        this.#sent.delete(id);
      }
      if (this.#sent.size > 0) this.#scheduleSweep();
    }, SETTLED_AFTER_MS);
  }
}
