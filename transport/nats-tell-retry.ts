// Tells to virtual actors that found no owner (their shard is between nodes) are sent again, in order,
// instead of becoming dead letters at once.

import type { Clock, TimerHandle } from '../runtime/index.js';

/**
 * The reply-subject segment of a virtual tell: `<node>.$nv.<publish id>.<tells>.<target tokens>` (one NATS
 * message may carry a batch of tells to one actor).
 */
export const VIRTUAL_TELL_SEGMENT = '$nv';

const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 500;
/**
 * Publishes remembered. A no-responders status comes back within a round trip; one that arrives after this
 * many later tells finds its slot reused and becomes a dead letter without the message.
 */
const RING = 16_384;

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
 * shard moves between nodes (a failure, a join), so the last {@link RING} tells sent are remembered in a
 * ring (no allocation, nothing to sweep): one that comes back is queued per target with every later tell to
 * that target, and the queue is sent again with backoff until a node takes the shard (a flush round trip
 * without a new status confirms it) or `windowMs` has passed; then they are dead letters.
 */
export class VirtualTellRetry {
  readonly #deps: TellRetryDeps;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #retrying = new Map<string, Retrying>();
  // The ring, as parallel arrays indexed by publish id: a slot is valid while its id matches.
  readonly #pubIds = new Float64Array(RING);
  readonly #orders = new Float64Array(RING);
  readonly #counts = new Uint32Array(RING);
  readonly #frames: (Uint8Array | undefined)[] = new Array(RING);
  readonly #subjects: string[] = new Array(RING);
  readonly #targets: string[] = new Array(RING);
  readonly #tokens: string[] = new Array(RING);
  #seq = 0;
  #published = 0;
  #closed = false;
  /** Tells sent again so far (for tests and `troupe nodes`). */
  resent = 0;

  /** `nodePrefix` is `troupe.<ns>.<node>.`; `windowMs` bounds how long one target's tells are retried. */
  constructor(deps: TellRetryDeps, nodePrefix: string, windowMs: number) {
    this.#deps = deps;
    this.#prefix = nodePrefix;
    this.#windowMs = windowMs;
  }

  /**
   * Sends `count` tells (one frame, or a batch) to virtual address `target` on `subject`, or queues them
   * behind earlier ones being retried.
   */
  send(target: string, tokens: string, subject: string, frame: Uint8Array, count: number): void {
    const id = ++this.#seq;
    const retrying = this.#retrying.size === 0 ? undefined : this.#retrying.get(target);
    if (retrying) retrying.queue.push({ id, target, tokens, subject, frame, count });
    else this.#publish(id, target, tokens, subject, frame, count);
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
    const pubId = Number(rest.slice(0, dot));
    const slot = pubId % RING;
    const frame = this.#frames[slot];
    if (this.#pubIds[slot] !== pubId || frame === undefined || this.#closed) {
      // Its slot was reused (or we are closing): what is left to say is that it was not delivered.
      const count = Math.min(Number(rest.slice(dot + 1, dot2)) || 1, 1_000_000);
      this.#deps.undeliverable(rest.slice(dot2 + 1).replaceAll('.', '/'), undefined, count);
      return;
    }
    this.#frames[slot] = undefined;
    const held: Held = {
      id: this.#orders[slot]!,
      target: this.#targets[slot]!,
      tokens: this.#tokens[slot]!,
      subject: this.#subjects[slot]!,
      frame,
      count: this.#counts[slot]!,
    };
    let retrying = this.#retrying.get(held.target);
    if (!retrying) {
      retrying = {
        queue: [],
        since: this.#deps.clock.now(),
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
    this.#frames.fill(undefined);
  }

  #publish(
    order: number,
    target: string,
    tokens: string,
    subject: string,
    frame: Uint8Array,
    count: number,
  ): void {
    const pubId = ++this.#published;
    const slot = pubId % RING;
    this.#pubIds[slot] = pubId;
    this.#orders[slot] = order;
    this.#counts[slot] = count;
    this.#frames[slot] = frame;
    this.#subjects[slot] = subject;
    this.#targets[slot] = target;
    this.#tokens[slot] = tokens;
    this.#deps.publish(subject, frame, `${this.#prefix}${VIRTUAL_TELL_SEGMENT}.${pubId}.${count}.${tokens}`);
  }

  #publishHeld(held: Held): void {
    if (held.reply !== undefined) this.#deps.publish(held.subject, held.frame, held.reply);
    else this.#publish(held.id, held.target, held.tokens, held.subject, held.frame, held.count);
  }

  #schedule(target: string, retrying: Retrying): void {
    if (retrying.timer !== undefined || retrying.inFlight || this.#closed) return;
    if (this.#deps.clock.now() - retrying.since >= this.#windowMs) {
      this.#retrying.delete(target);
      for (const held of retrying.queue) {
        // An ask goes out to meet its own fate (no-responders, then the asker's deadline).
        if (held.reply !== undefined) this.#publishHeld(held);
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
    this.resent += batch.length;
    for (const held of batch) this.#publishHeld(held);
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
    for (const held of retrying.queue) this.#publishHeld(held);
  }
}
