// Empty frames on a node's subjects, dispatched by `$`-segment: each component registers the segment whose
// no-responders statuses (or requests) it handles, so this file knows none of them.

import type { Msg } from '@nats-io/transport-node';

/** Handles an empty frame; `rest` is what follows `<segment>.` in the subject (empty when nothing does). */
export type StatusHandler = (rest: string, msg: Msg) => void;

/** What the server sends a publisher whose message found no subscriber. */
const NO_RESPONDERS = 503;

/**
 * @internal Routes the empty frames that arrive on `<node>.<segment>…`: no-responders statuses (code 503) to
 * the component that registered the segment, and requests (the node-id probe) to theirs. What no one claims
 * goes to `unclaimed` (a dead letter: anyone may publish an empty frame anywhere).
 */
export class StatusDispatcher {
  readonly #nodePrefix: string;
  readonly #statuses = new Map<string, StatusHandler>();
  readonly #requests = new Map<string, StatusHandler>();
  readonly #unclaimed: (msg: Msg) => void;

  constructor(nodePrefix: string, unclaimed: (msg: Msg) => void) {
    this.#nodePrefix = nodePrefix;
    this.#unclaimed = unclaimed;
  }

  /** `handler` receives the no-responders statuses of publishes whose reply subject is `<node>.<segment>.…`. */
  onNoResponders(segment: string, handler: StatusHandler): void {
    this.#statuses.set(segment, handler);
  }

  /** `handler` receives every empty frame on `<node>.<segment>` (a request, whatever its headers). */
  onRequest(segment: string, handler: StatusHandler): void {
    this.#requests.set(segment, handler);
  }

  dispatch(msg: Msg): void {
    const subject = msg.subject;
    // Shard subscriptions hand their frames here too: only this node's own subjects carry statuses.
    if (!subject.startsWith(this.#nodePrefix)) {
      this.#unclaimed(msg);
      return;
    }
    const start = this.#nodePrefix.length;
    const dot = subject.indexOf('.', start);
    const segment = dot < 0 ? subject.slice(start) : subject.slice(start, dot);
    const rest = dot < 0 ? '' : subject.slice(dot + 1);
    const request = this.#requests.get(segment);
    if (request !== undefined && dot < 0) {
      request(rest, msg);
      return;
    }
    const status = this.#statuses.get(segment);
    if (status !== undefined && dot >= 0 && msg.headers?.code === NO_RESPONDERS) {
      status(rest, msg);
      return;
    }
    this.#unclaimed(msg);
  }
}
