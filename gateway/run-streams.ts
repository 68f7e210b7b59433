// Agent runs streamed over SSE, resumable through any gateway sharing the log: the gateway that starts a run
// subscribes a collector to the agent for that run, and the collector appends every event, in order, to the
// log under `stream:<agent>:<runId>`. The collector is a virtual actor hosted by the gateways (one activation
// per run, at a stable address the agent keeps telling), so when the gateway hosting it dies, the agent's next
// events activate it on another gateway and the stream goes on to its end. What a gateway appends it also hands
// to its own readers at once (stream-handoff.ts); readers catch up from the log only after a gap or a quiet
// spell (run-reader.ts), so a reconnect, on any instance, loses and repeats nothing.
// The SSE id of an event is its log sequence (increasing per log, so per key too).

import type { AgentEventMessage, AgentProtocol } from '../agents/index.js';
import {
  type ActorSystem,
  type AppendLog,
  defineActor,
  type Logger,
  type LogRecord,
} from '../runtime/index.js';
import { readRunStream } from './run-reader.js';
import { handoffFor, type StreamHandoff } from './stream-handoff.js';

/** The log key of a run's events. */
export const streamKey = (agent: string, runId: string): string => `stream:${agent}:${runId}`;

const TERMINAL = new Set(['finished', 'failed']);
/** A run started here this recently counts as fresh for a reader from its start: no first read. */
const FRESH_MS = 5000;
/** Runs remembered as started here. */
const MAX_FRESH = 1024;

const KIND_PREFIX = '{"kind":"';

/** What an event kind may be: it becomes an SSE `event:` line, so never a line break forging another field. */
const KIND_NAME = /^[\w.-]{1,64}$/;

/**
 * The `kind` of a stored event, or undefined (also for a kind that is not a plain name). The collector stores
 * each event with `kind` as its first key, so the kind is read off the front of the text (no parse of a record
 * per SSE write); any other shape is parsed.
 */
export function eventKind(data: string): string | undefined {
  if (data.startsWith(KIND_PREFIX)) {
    const end = data.indexOf('"', KIND_PREFIX.length);
    const kind = data.slice(KIND_PREFIX.length, end);
    // A plain name: no escape inside it, and the closing quote is followed by the next key or the object's end.
    if (end > 0 && !kind.includes('\\') && (data[end + 1] === ',' || data[end + 1] === '}'))
      return KIND_NAME.test(kind) ? kind : undefined;
  }
  try {
    const kind = (JSON.parse(data) as { kind?: unknown } | null)?.kind;
    return typeof kind === 'string' && KIND_NAME.test(kind) ? kind : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a stored event ends its run's stream. */
export function isTerminal(record: LogRecord): boolean {
  return TERMINAL.has(eventKind(record.data) ?? '');
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

/** A collector's run, read once from its address when it activates. */
interface CollectedRun {
  agent: string;
  runId: string;
  key: string;
}

/** The collector type: appends each event of its run to the log, in order (one message at a time). */
function collector(system: ActorSystem) {
  return defineActor<{ agentEvent: AgentEventMessage }, CollectedRun | null>({
    init: (ctx) => {
      const run = runOf(ctx.self.address);
      return run === undefined ? null : { agent: run[0], runId: run[1], key: streamKey(run[0], run[1]) };
    },
    handlers: {
      agentEvent: async (message, ctx) => {
        const run = ctx.state;
        const streams = hosts.get(system)?.[0];
        if (run === null || streams === undefined) return;
        const { type: _t, agent: _a, ...event } = message;
        if (event.runId !== run.runId) return;
        await streams.append(run.key, JSON.stringify(event));
        if (TERMINAL.has(event.kind)) {
          system.ref<AgentProtocol>(run.agent).tell({ type: 'unsubscribe', to: ctx.self.address });
          // Its run is over: the collector goes now rather than at passivation, so a busy gateway does not keep
          // (and sweep) one idle activation per recent run. A late event activates it again, as after passivation.
          ctx.stop();
        }
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
  readonly #handoff: StreamHandoff;
  /** Aborted on close: every reader ends. */
  readonly #closing = new AbortController();
  /** When this instance started each recent run, by log key (the oldest forgotten past {@link MAX_FRESH}). */
  readonly #startedAt = new Map<string, number>();

  constructor(options: RunStreamsOptions) {
    this.#o = { pollMs: 100, runTimeoutMs: 600_000, ...options };
    this.#handoff = handoffFor(options.log);
    const streams = hosts.get(options.system);
    if (streams === undefined) {
      hosts.set(options.system, [this]);
      options.system.register(STREAM_TYPE, collector(options.system), { passivateAfterMs: 60_000 });
    } else streams.push(this);
  }

  /**
   * Starts run `runId` of `agent` with its events collected; the run's answer arrives as its `finished` event.
   * `minted`: this gateway made `runId` just now, so the agent reads no journal for it.
   */
  start(agent: string, input: AgentProtocol['run']['input'], runId: string, minted = false): void {
    const { system, log, logger } = this.#o;
    const key = streamKey(agent, runId);
    const agentRef = system.ref<AgentProtocol>(agent);
    const to = collectorAddress(agent, runId);
    this.#startedAt.delete(key);
    this.#startedAt.set(key, Date.now());
    if (this.#startedAt.size > MAX_FRESH)
      this.#startedAt.delete(this.#startedAt.keys().next().value as string);
    agentRef.tell({ type: 'subscribe', to, runId });
    const run: AgentProtocol['run'] = minted ? { input, runId, fresh: true } : { input, runId };
    agentRef.ask({ type: 'run', ...run }, { timeout: this.#o.runTimeoutMs }).catch((err: unknown) => {
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

  /** @internal Stores one event of a run (the collector's job) and hands it to this process's readers. */
  async append(key: string, data: string): Promise<void> {
    // Rides out a log outage with backoff; the collector's mailbox keeps later events in order meanwhile.
    await this.#handoff.append(key, data, {
      closed: () => this.#closing.signal.aborted,
      logger: this.#o.logger,
    });
  }

  /** The records of a run after `afterSeq`, then new ones as they come, until the run's end or `signal`. */
  events(agent: string, runId: string, afterSeq: number, signal: AbortSignal): AsyncGenerator<LogRecord> {
    const key = streamKey(agent, runId);
    const started = this.#startedAt.get(key);
    return readRunStream({
      log: this.#o.log,
      handoff: this.#handoff,
      key,
      afterSeq,
      // The GET that follows a POST here: its first read would find nothing yet, and costs the log a round trip
      // while the run is starting.
      fresh: afterSeq === 0 && started !== undefined && Date.now() - started < FRESH_MS,
      signal: AbortSignal.any([signal, this.#closing.signal]),
      pollMs: this.#o.pollMs,
      logger: this.#o.logger,
      isTerminal,
    });
  }

  /** Stops collecting; readers end. */
  async close(): Promise<void> {
    this.#closing.abort();
    const streams = hosts.get(this.#o.system);
    const at = streams?.indexOf(this) ?? -1;
    if (at >= 0) streams?.splice(at, 1);
  }
}
