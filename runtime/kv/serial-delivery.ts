// The handler loop of one subscriber: events one at a time, each retried with backoff until it succeeds or its
// attempts run out (then a dead letter). Both topic buses use it for fast topics, and the in-process bus for
// durable ones too.

import type { Clock } from '../core/clock.js';
import {
  type DeadLetterBuffer,
  handlerFailed,
  type ResolvedSubscribeOptions,
  TopicError,
  TopicErrorCode,
  type TopicHandler,
  type TopicMessage,
  topicBackoff,
} from '../ports/topics.js';

/** An event without the per-subscription attempt count. */
export type Stored = Omit<TopicMessage, 'attempt'>;

/** @internal How one handler call ended after its attempts. */
export type Outcome = 'done' | 'dead' | 'stopped';

/** A subscriber's stop flag, whose `stop()` also cuts short a backoff in progress (so close() does not wait it out). */
export class Stopper {
  stopped = false;
  readonly #clock: Clock;
  #timer: unknown;
  #wake: (() => void) | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = this.#clock.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
    });
  }

  stop(): void {
    this.stopped = true;
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#wake = undefined;
    this.#clock.clearTimeout(this.#timer);
    wake();
  }
}

/**
 * Runs `handler` for one event, retrying with backoff until it resolves or `maxAttempts` ran (then the event is
 * dead-lettered). Stopping `stopper` ends the retries early.
 */
export async function attemptEvent(
  name: string,
  handler: TopicHandler,
  event: Stored,
  options: ResolvedSubscribeOptions,
  deadLetters: DeadLetterBuffer,
  stopper: Stopper,
): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const message: TopicMessage = { ...event, attempt };
    try {
      await handler(message);
      return 'done';
    } catch (err) {
      if (attempt >= options.maxAttempts) {
        deadLetters.add(
          { subscription: name, message, error: handlerFailed(name, message, err) },
          options.onDeadLetter,
        );
        return 'dead';
      }
    }
    if (stopper.stopped) return 'stopped';
    await stopper.sleep(topicBackoff(options, attempt));
    if (stopper.stopped) return 'stopped';
  }
}

/**
 * @internal The handler loop of a fast subscription: events queue in arrival order (at most `maxPending`, more
 * are dead-lettered as `TOPIC_SLOW_CONSUMER`) and the handler gets them one at a time.
 */
export class SerialDelivery {
  readonly #name: string;
  readonly #handler: TopicHandler;
  readonly #options: ResolvedSubscribeOptions;
  readonly #deadLetters: DeadLetterBuffer;
  readonly #queue: Stored[] = [];
  #head = 0;
  #running: Promise<void> | undefined;
  readonly #stopper: Stopper;

  constructor(
    name: string,
    handler: TopicHandler,
    options: ResolvedSubscribeOptions,
    clock: Clock,
    deadLetters: DeadLetterBuffer,
  ) {
    this.#name = name;
    this.#handler = handler;
    this.#options = options;
    this.#deadLetters = deadLetters;
    this.#stopper = new Stopper(clock);
  }

  push(event: Stored): void {
    if (this.#stopper.stopped) return;
    if (this.#queue.length - this.#head >= this.#options.maxPending) {
      const message = { ...event, attempt: 1 };
      this.#deadLetters.add(
        {
          subscription: this.#name,
          message,
          error: new TopicError(
            TopicErrorCode.SlowConsumer,
            `subscription ${this.#name} has ${this.#options.maxPending} events waiting: dropped one of ${event.topic}`,
          ),
        },
        this.#options.onDeadLetter,
      );
      return;
    }
    this.#queue.push(event);
    this.#running ??= this.#run();
  }

  /** Stops taking events and waits for the one in flight; what is queued is dropped. */
  async stop(): Promise<void> {
    this.#stopper.stop();
    await this.#running;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopper.stopped && this.#head < this.#queue.length) {
        const event = this.#queue[this.#head++] as Stored;
        // Compact now and then so a long-lived queue does not keep every event it ever held.
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        await attemptEvent(this.#name, this.#handler, event, this.#options, this.#deadLetters, this.#stopper);
      }
    } finally {
      this.#running = undefined;
      // An event pushed while the last handler was finishing.
      if (!this.#stopper.stopped && this.#head < this.#queue.length) this.#running = this.#run();
    }
  }
}
