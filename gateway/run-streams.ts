// Agent runs streamed over SSE, resumable through any gateway sharing the log: the gateway that starts a run
// subscribes a collector to the agent for that run, and the collector appends every event, in order, to the
// log under `stream:<agent>:<runId>`. The collector is a virtual actor hosted by the gateways (one activation
// per run, at a stable address the agent keeps telling), so when the gateway hosting it dies, the agent's next
// events activate it on another gateway and the stream goes on to its end. Readers (on any instance) only ever tail that log: the events after
// the client's last id first, then new ones as they are appended, so a reconnect loses and repeats nothing.
// The SSE id of an event is its log sequence (increasing per log, so per key too).

import type { AgentEventMessage, AgentProtocol } from '../agents/index.js';
import {
  type ActorSystem,
  type AppendLog,
  defineActor,
  type Logger,
  type LogRecord,
} from '../runtime/index.js';

/** The log key of a run's events. */
export const streamKey = (agent: string, runId: string): string => `stream:${agent}:${runId}`;

const TERMINAL = new Set(['finished', 'failed']);
/** About 15 s of retries before an event is given up (logged). */
const APPEND_ATTEMPTS = 12;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Whether a stored event ends its run's stream. */
export function isTerminal(record: LogRecord): boolean {
  try {
    return TERMINAL.has((JSON.parse(record.data) as { kind?: string }).kind ?? '');
  } catch {
    return false;
  }
}

/** The virtual type of the collectors; gateways of one namespace host it (and must share the stream log). */
export const STREAM_TYPE = 'gateway-run-stream';

/** The gateways of each system: the first open one stores what that system's collectors receive. */
const hosts = new WeakMap<ActorSystem, RunStreams[]>();

/** The collector of a run: a virtual actor whose id names the agent and the run. */
function collectorAddress(agent: string, runId: string): string {
  return `$v/${STREAM_TYPE}/${Buffer.from(JSON.stringify([agent, runId])).toString('base64url')}`;
}

function runOf(address: string): [string, string] | undefined {
  try {
    const id = address.slice(address.lastIndexOf('/') + 1);
    const value = JSON.parse(Buffer.from(id, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string')
      return [value[0], value[1]];
  } catch {}
  return undefined;
}

/** The collector type: appends each event of its run to the log, in order (one message at a time). */
function collector(system: ActorSystem) {
  return defineActor<{ agentEvent: AgentEventMessage }>({
    handlers: {
      agentEvent: async (message, ctx) => {
        const run = runOf(ctx.self.address);
        const streams = hosts.get(system)?.[0];
        if (run === undefined || streams === undefined) return;
        const [agent, runId] = run;
        const { type: _t, agent: _a, ...event } = message;
        if (event.runId !== runId) return;
        await streams.append(streamKey(agent, runId), JSON.stringify(event));
        if (TERMINAL.has(event.kind))
          system.ref<AgentProtocol>(agent).tell({ type: 'unsubscribe', to: ctx.self.address });
      },
    },
  });
}

export interface RunStreamsOptions {
  system: ActorSystem;
  log: AppendLog;
  logger: Logger;
  /** How often a reader looks for new records another instance appended. @defaultValue 100 */
  pollMs?: number;
  /** Deadline of the run ask. @defaultValue 600000 */
  runTimeoutMs?: number;
}

export class RunStreams {
  readonly #o: Required<RunStreamsOptions>;
  /** Wakes local readers of a key as soon as this instance appended to it. */
  readonly #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  constructor(options: RunStreamsOptions) {
    this.#o = { pollMs: 100, runTimeoutMs: 600_000, ...options };
    const streams = hosts.get(options.system);
    if (streams === undefined) {
      hosts.set(options.system, [this]);
      options.system.register(STREAM_TYPE, collector(options.system), { passivateAfterMs: 60_000 });
    } else streams.push(this);
  }

  /** Starts run `runId` of `agent` with its events collected; the run's answer arrives as its `finished` event. */
  start(agent: string, input: AgentProtocol['run']['input'], runId: string): void {
    const { system, log, logger } = this.#o;
    const key = streamKey(agent, runId);
    const agentRef = system.ref<AgentProtocol>(agent);
    const to = collectorAddress(agent, runId);
    agentRef.tell({ type: 'subscribe', to, runId });
    agentRef.ask({ type: 'run', input, runId }, { timeout: this.#o.runTimeoutMs }).catch((err: unknown) => {
      const e = err as { code?: string; message?: string };
      logger.warn('gateway: streamed run ended with an error', { agent, runId, code: e.code ?? 'ERROR' });
      // A run that never started sends no `failed` event: record one so readers end.
      void log
        .read(key)
        .then((records) =>
          records.some(isTerminal)
            ? undefined
            : this.append(
                key,
                JSON.stringify({ kind: 'failed', runId, code: e.code ?? 'ERROR', message: e.message ?? '' }),
              ),
        )
        .catch(() => {})
        .finally(() => agentRef.tell({ type: 'unsubscribe', to }));
    });
  }

  /** @internal Stores one event of a run (the collector's job). */
  async append(key: string, data: string): Promise<void> {
    await this.#append(key, data);
  }

  async #append(key: string, data: string): Promise<void> {
    // Ride out a log outage (a NATS restart) with backoff; the collector's mailbox keeps later events in order.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#o.log.append(key, data);
        break;
      } catch (err) {
        if (attempt >= APPEND_ATTEMPTS || this.#closed) {
          this.#o.logger.error('gateway: could not store a stream event', {
            key,
            code: (err as { code?: string }).code ?? 'ERROR',
          });
          return;
        }
        await sleep(Math.min(100 * 2 ** (attempt - 1), 2000));
      }
    }
    for (const wake of this.#waiters.get(key) ?? []) wake();
  }

  /** The records of a run after `afterSeq`, then new ones as they come, until the run's end or `signal`. */
  async *events(
    agent: string,
    runId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<LogRecord> {
    const key = streamKey(agent, runId);
    let last = afterSeq;
    while (!signal.aborted && !this.#closed) {
      let records: LogRecord[];
      try {
        records = await this.#o.log.read(key, { fromSeq: last + 1 });
      } catch (err) {
        // The log is out (LOG_UNAVAILABLE during a NATS restart): keep the client and try again.
        this.#o.logger.debug('gateway: stream read failed, retrying', {
          key,
          code: (err as { code?: string }).code ?? 'ERROR',
        });
        await this.#wait(key, signal, Math.max(this.#o.pollMs, 250));
        continue;
      }
      for (const record of records) {
        if (record.seq <= last) continue;
        last = record.seq;
        yield record;
        if (isTerminal(record)) return;
      }
      if (records.length === 0) await this.#wait(key, signal);
    }
  }

  #wait(key: string, signal: AbortSignal, ms = this.#o.pollMs): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(key) ?? new Set();
      this.#waiters.set(key, set);
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        set.delete(finish);
        if (set.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      timer.unref();
      signal.addEventListener('abort', finish, { once: true });
      set.add(finish);
    });
  }

  /** Stops collecting; readers end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const set of this.#waiters.values()) for (const wake of set) wake();
    const streams = hosts.get(this.#o.system);
    streams?.splice(streams.indexOf(this), 1);
  }
}
