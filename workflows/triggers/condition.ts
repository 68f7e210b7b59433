// Condition triggers: a predicate over an event stream (and a window of recent events) that sends a message to
// an actor when it holds: how proactive agents start work. The loop survives its own failures: a predicate
// that throws or a send that fails is logged (rate-limited) and the next event is looked at as usual.

import {
  type ActorSystem,
  type AnyActorRef,
  type Clock,
  InvalidOptionsError,
  KeyValueError,
  type KeyValueStore,
  KvErrorCode,
  kvToken,
  type Logger,
} from '../../runtime/index.js';
import { parseExpression } from '../graph/index.js';
import { LogGate } from './log-gate.js';
import { EventWindow, type TriggerWindow, type WindowOptions } from './window.js';

/** Stops a subscription. */
export type Unsubscribe = () => void | Promise<void>;

/**
 * Any stream of events: calls `handler` for each and returns how to stop. A source that acknowledges (a durable
 * topic) should ack once the handler's promise settles: the trigger resolves it after its send, and never
 * rejects it.
 *
 * @example
 * const source: EventSource<Order> = (handler) => {
 *   emitter.on('order', handler);
 *   return () => emitter.off('order', handler);
 * };
 */
export type EventSource<E> = (handler: (event: E) => Promise<void>) => Unsubscribe | Promise<Unsubscribe>;

/** Where a trigger sends, and what. */
export interface TriggerSend {
  /** An address (`$v/<type>/<id>` for a virtual actor) or a ref. */
  readonly to: string | AnyActorRef;
  readonly message: { readonly type: string };
  /** Dedupes the message in a durable mailbox (JetStream's window) when the same event comes twice. */
  readonly messageId?: string;
}

/** Counts of what a trigger did. */
export interface TriggerStats {
  /** Events seen. */
  events: number;
  /** Events for which the condition held. */
  matched: number;
  /** Matches dropped because the trigger was cooling down (here or, with `kv`, on another node). */
  cooling: number;
  /** Messages sent. */
  sent: number;
  /** Conditions that threw, `send` builders that threw, sends that failed. */
  errors: number;
}

/** The state a string condition is evaluated over. */
export interface ConditionState<E> {
  readonly event: E;
  readonly window: Omit<TriggerWindow<E>, 'events'>;
}

/** Options of {@link conditionTrigger}. */
export interface ConditionTriggerOptions<E> {
  /** The node that sends (resolves addresses). */
  system: ActorSystem;
  source: EventSource<E>;
  /**
   * When to send: a predicate, or a condition in the graphs' expression language over
   * `{ event, window: { count, sum, min, max, avg } }` (e.g. `event.level == "error" && window.count >= 5`),
   * parsed once, never `eval`'d.
   */
  when: string | ((event: E, window: TriggerWindow<E>) => boolean | Promise<boolean>);
  /** What to send when it holds (one message, several, or none). */
  send: (
    event: E,
    window: TriggerWindow<E>,
  ) =>
    | TriggerSend
    | readonly TriggerSend[]
    | undefined
    | Promise<TriggerSend | readonly TriggerSend[] | undefined>;
  /** Names the trigger in logs and, with `kv`, its shared cooldown key. @defaultValue `trigger` */
  name?: string;
  /** After sending, matches within this many ms are dropped. @defaultValue 0 */
  cooldownMs?: number;
  /** Recent events the condition sees. @defaultValue just the current event */
  window?: WindowOptions;
  /** Empties the window after each send, so a count starts again. @defaultValue false */
  resetWindowOnSend?: boolean;
  /**
   * Shares the cooldown through a store (claimed by compare-and-set under `triggers.<name>.cooldown`), so one
   * trigger running on several nodes over a broadcast source sends once per cooldown, and a restarted node
   * keeps cooling down. Without it, the cooldown and the window live in this process only.
   */
  kv?: KeyValueStore;
  /** @defaultValue the system's clock */
  clock?: Clock;
  /** @defaultValue the system's logger */
  logger?: Logger;
}

const NAME = /^[-_a-zA-Z0-9]{1,100}$/;

/** A running condition trigger. Create with {@link conditionTrigger}. */
export class ConditionTrigger<E> {
  readonly name: string;
  readonly stats: TriggerStats = { events: 0, matched: 0, cooling: 0, sent: 0, errors: 0 };
  readonly #o: ConditionTriggerOptions<E>;
  readonly #when: (event: E, window: TriggerWindow<E>) => boolean | Promise<boolean>;
  readonly #window: EventWindow<E>;
  readonly #clock: Clock;
  readonly #gate: LogGate;
  readonly #cooldownMs: number;
  readonly #cooldownKey: string;
  #coolUntil = 0;
  /** Events are looked at one at a time, in arrival order: the window and the cooldown need it. */
  #chain: Promise<void> = Promise.resolve();
  #unsubscribe: Unsubscribe | undefined;
  #closed = false;

  /** @internal Use {@link conditionTrigger}. */
  constructor(options: ConditionTriggerOptions<E>) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected { system, source, when, send }');
    const { system, source, when, send } = options;
    if (typeof system !== 'object' || system === null || typeof system.ref !== 'function')
      throw new InvalidOptionsError('system', 'expected an ActorSystem');
    if (typeof source !== 'function')
      throw new InvalidOptionsError('source', 'expected (handler) => unsubscribe');
    if (typeof send !== 'function')
      throw new InvalidOptionsError('send', 'expected (event, window) => { to, message }');
    if (typeof when === 'string') {
      const test = parseExpression(when); // GRAPH_EXPR_* for a bad condition, now rather than per event
      this.#when = (event, window) => {
        const { events: _events, ...aggregates } = window;
        return Boolean(test({ event, window: aggregates } satisfies ConditionState<E>));
      };
    } else if (typeof when === 'function') this.#when = when;
    else throw new InvalidOptionsError('when', 'expected a predicate or a condition string');
    this.name = options.name ?? 'trigger';
    if (typeof this.name !== 'string' || !NAME.test(this.name))
      throw new InvalidOptionsError('name', 'expected 1 to 100 characters of [-_a-zA-Z0-9]');
    const cooldownMs = options.cooldownMs ?? 0;
    if (typeof cooldownMs !== 'number' || !Number.isFinite(cooldownMs) || cooldownMs < 0)
      throw new InvalidOptionsError('cooldownMs', 'expected a non-negative number');
    this.#cooldownMs = cooldownMs;
    if (
      options.kv !== undefined &&
      (typeof options.kv !== 'object' || typeof options.kv?.update !== 'function')
    )
      throw new InvalidOptionsError('kv', 'expected a KeyValueStore');
    this.#cooldownKey = `triggers.${kvToken(this.name)}.cooldown`;
    this.#window = new EventWindow<E>(options.window);
    this.#clock = options.clock ?? system.clock;
    this.#gate = new LogGate(
      options.logger ?? system.logger.child({ component: 'trigger', trigger: this.name }),
      this.#clock,
    );
    this.#o = options;
  }

  /** @internal Subscribes to the source. */
  async start(): Promise<void> {
    const unsubscribe = await this.#o.source((event) => this.#offer(event));
    if (typeof unsubscribe !== 'function')
      throw new InvalidOptionsError('source', 'expected the source to return an unsubscribe function');
    this.#unsubscribe = unsubscribe;
    if (this.#closed) await this.#stop();
  }

  /** Stops listening now; an event being handled finishes in the background. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stop();
  }

  /** Stops listening, then waits for the events already received to be handled. */
  async drain(): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    if (!wasClosed) await this.#stop();
    await this.#chain;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  async #stop(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    try {
      await unsubscribe?.();
    } catch (err) {
      this.#gate.warn('unsubscribe', 'trigger source did not unsubscribe cleanly', () => ({ err }));
    }
  }

  #offer(event: E): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const turn = this.#chain.then(() => this.#handle(event));
    this.#chain = turn;
    return turn;
  }

  /** One event: never rejects, so one bad event cannot stop the loop. */
  async #handle(event: E): Promise<void> {
    this.stats.events++;
    const now = this.#clock.now();
    const window = this.#window.add(event, now);
    let holds: boolean;
    try {
      holds = Boolean(await this.#when(event, window));
    } catch (err) {
      this.stats.errors++;
      this.#gate.warn('condition', 'trigger condition threw; event skipped', () => ({ err }));
      return;
    }
    if (!holds) return;
    this.stats.matched++;
    if (!(await this.#takeCooldown(now))) {
      this.stats.cooling++;
      return;
    }
    let sends: readonly TriggerSend[];
    try {
      const built = await this.#o.send(event, window);
      sends = built === undefined ? [] : Array.isArray(built) ? built : [built as TriggerSend];
    } catch (err) {
      this.stats.errors++;
      this.#gate.warn('send-builder', 'trigger send builder threw; event skipped', () => ({ err }));
      return;
    }
    if (this.#o.resetWindowOnSend === true) this.#window.clear();
    for (const s of sends) {
      try {
        const to = typeof s.to === 'string' ? s.to : s.to.address;
        await this.#o.system
          .ref(to)
          .send(s.message, s.messageId === undefined ? {} : { messageId: s.messageId });
        this.stats.sent++;
      } catch (err) {
        this.stats.errors++;
        this.#gate.warn('send', 'trigger message not sent', () => ({ err }));
      }
    }
  }

  /** True when this match may send: not cooling down here, nor (with `kv`) on another node. */
  async #takeCooldown(now: number): Promise<boolean> {
    if (this.#cooldownMs === 0) return true;
    if (now < this.#coolUntil) return false;
    const until = now + this.#cooldownMs;
    const kv = this.#o.kv;
    if (kv !== undefined) {
      try {
        const entry = await kv.get(this.#cooldownKey);
        const stored =
          entry === undefined ? 0 : Number((JSON.parse(entry.value) as { until?: unknown }).until);
        if (Number.isFinite(stored) && stored > now) {
          this.#coolUntil = stored;
          return false;
        }
        await kv.update(this.#cooldownKey, JSON.stringify({ until }), entry?.revision ?? 0);
      } catch (err) {
        if (
          err instanceof KeyValueError &&
          (err.code === KvErrorCode.RevisionMismatch || err.code === KvErrorCode.Exists)
        )
          return false; // another node took this cooldown first
        // A store outage: sending twice is better than never starting the work.
        this.#gate.warn('cooldown', 'trigger cooldown store failed; sending anyway', () => ({ err }));
      }
    }
    this.#coolUntil = until;
    return true;
  }
}

/**
 * Starts a condition trigger: every event of `source` is added to the window and tested; when `when` holds (and
 * the trigger is not cooling down) the messages `send` builds are sent. Events are handled one at a time, in
 * order. A throwing condition, builder or send is counted in `stats.errors`, logged at most once per kind per
 * 5 s, and the loop goes on.
 *
 * The window and the cooldown live in this process (a restart starts them empty) unless `kv` is given, which
 * keeps the cooldown in the store. For one firing per event across a fleet, feed the trigger from a queue
 * group or a durable subscription (each event reaches one node), or give `messageId` in `send`.
 *
 * @example
 * const trigger = await conditionTrigger({
 *   system,
 *   source: (handler) => bus.subscribe('alerts.>', handler).then((s) => () => s.unsubscribe()),
 *   when: 'event.severity >= 3 && window.count >= 5',
 *   window: { ms: 60_000 },
 *   cooldownMs: 300_000,
 *   send: (event) => ({ to: '$v/oncall/primary', message: { type: 'investigate', alert: event } }),
 * });
 */
export async function conditionTrigger<E>(options: ConditionTriggerOptions<E>): Promise<ConditionTrigger<E>> {
  const trigger = new ConditionTrigger(options);
  await trigger.start();
  return trigger;
}
