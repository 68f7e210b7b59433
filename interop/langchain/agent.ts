// A LangChain.js runnable or a compiled LangGraph.js graph as a troupe actor that speaks the troupe agent's public
// protocol (`run`, `status`): spawn it, supervise it, register it as a virtual actor like any actor.

import { randomUUID } from 'node:crypto';
import { BaseMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { ChatMessage } from '../../models/index.js';
import {
  type ActorDefinition,
  defineActor,
  InvalidOptionsError,
  type MailboxOptions,
  type Replier,
  type Reply,
  type SupervisionOptions,
  type TimerHandle,
} from '../../runtime/index.js';
import { InteropError, InteropErrorCode, invalidMessage } from '../errors.js';
import { fromLangChainMessage, fromLangChainMessages, toLangChainMessages } from './messages.js';

/** What `langchainAgent` needs of a runnable: LangChain's `Runnable.invoke` (compiled graphs have it too). */
export interface InvokableRunnable {
  // biome-ignore lint/suspicious/noExplicitAny: a runnable's input type is the user's, checked by LangChain.
  invoke(input: any, options?: Partial<RunnableConfig>): Promise<unknown>;
}

/** A run as the input and output mappers see it. */
export interface LangChainRunInfo {
  runId: string;
  tenant?: string;
  /** The run's input as troupe messages (a string input is one user message). */
  messages: ChatMessage[];
}

export type LangChainRunState = 'running' | 'finished' | 'failed';

export interface LangChainRunStatus {
  runId: string;
  state: LangChainRunState;
  startedAt: number;
  endedAt?: number;
  error?: { code: string; message: string };
}

export interface LangChainAgentStatus {
  agent: string;
  framework: 'langchain';
  runs: LangChainRunStatus[];
}

/** The public messages of the troupe agent that an adapted runnable can serve. */
export type LangChainAgentProtocol = {
  /** Answers with the final answer: the last message's text (see `output`). */
  run: { input: string | ChatMessage[]; runId?: string; tenant?: string } & Reply<unknown>;
  status: Reply<LangChainAgentStatus>;
  /** Told to itself after a failed run when `crashOnFailure` is set (never send it yourself). */
  $failed: { runId: string; message: string };
  /** Told to itself while runs are in flight, so an idle-looking virtual actor is not passivated mid-run. */
  $alive: object;
};

export interface LangChainAgentOptions {
  /** The agent's name: its actor type label, the runs' `runName`, and `status().agent`. */
  name: string;
  /** A LangChain.js Runnable (RunnableLambda, a chat-model chain, ...) or a compiled LangGraph.js graph. */
  runnable: InvokableRunnable;
  /**
   * What the runnable is invoked with: `messages` (the input as a `BaseMessage[]`), `state` (`{ messages }`, the
   * shape of a graph built on `MessagesAnnotation`), or a function of the messages.
   * @defaultValue `state` for a compiled LangGraph graph, `messages` otherwise
   */
  input?: 'messages' | 'state' | ((messages: BaseMessage[], run: LangChainRunInfo) => unknown);
  /**
   * What `run` answers: `text` (the text of the last message of the result, the result itself when it is a
   * string or holds no message), `messages` (the result's messages as troupe messages), or a function.
   * @defaultValue `text`
   */
  output?: 'text' | 'messages' | ((result: unknown, run: LangChainRunInfo) => unknown);
  /**
   * Passed to every `invoke` (callbacks, tags, recursionLimit, timeout...). The adapter sets `signal` (the actor's
   * lifetime), `configurable.thread_id` (the run id, unless given here) and `metadata.troupe_run_id`.
   */
  config?: Omit<RunnableConfig, 'signal'>;
  /**
   * Settled runs remembered for `status` and for answering a repeated runId without running again.
   * @defaultValue 100
   */
  keepRuns?: number;
  /**
   * A run that fails (`INTEROP_FAILED`) also crashes the actor, after its asker got the error, so a supervisor
   * (or `supervision`) decides what follows: restart, stop, escalate. Without it the actor just serves on.
   * @defaultValue false
   */
  crashOnFailure?: boolean;
  /**
   * While a run is in flight the actor tells itself a message this often: a run holds no handler, so without it
   * a virtual actor would look idle and be passivated (aborting the run) after its `passivateAfterMs`. Keep it
   * below that. 0 turns it off.
   * @defaultValue 10000
   */
  keepAliveMs?: number;
  supervision?: SupervisionOptions;
  mailbox?: MailboxOptions;
}

interface RunEntry {
  status: LangChainRunStatus;
  output?: unknown;
  waiters: Replier<unknown>[];
}

export interface LangChainAgentState {
  runs: Map<string, RunEntry>;
  /** The keep-alive timer, while runs are in flight. */
  beat: TimerHandle | undefined;
}

export type LangChainAgentDefinition = ActorDefinition<LangChainAgentProtocol, LangChainAgentState>;

const RUN_ID = /^[-_.:=a-zA-Z0-9]{1,200}$/;
const DEFAULT_KEEP_RUNS = 100;
const DEFAULT_KEEP_ALIVE_MS = 10_000;

/**
 * Runs a LangChain.js runnable or a compiled LangGraph.js graph as a troupe actor. `run` takes the troupe agent's
 * input (a string or troupe chat messages), invokes the runnable with LangChain messages and the actor's abort
 * signal (stopping or terminating the actor aborts the run), and answers with the result converted back. A run
 * does not hold the mailbox: `status` is served while it runs. Failures reach the asker as `INTEROP_FAILED`
 * (the runnable's error is the `cause`), `INTEROP_ABORTED` or `INTEROP_INVALID_MESSAGE`; the actor keeps going.
 *
 * @example
 * const graph = new StateGraph(MessagesAnnotation).addNode('answer', answer).addEdge(START, 'answer').compile();
 * system.register('researcher', langchainAgent({ name: 'researcher', runnable: graph }));
 * const answer = await system.virtual('researcher', 'r1').ask({ type: 'run', input: 'hello' }, { timeout: 60_000 });
 */
export function langchainAgent(options: LangChainAgentOptions): LangChainAgentDefinition {
  const { name, runnable } = options;
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionsError('name', 'expected a non-empty string');
  if (typeof runnable?.invoke !== 'function')
    throw new InvalidOptionsError('runnable', 'expected a LangChain Runnable or a compiled LangGraph graph');
  const keepRuns = options.keepRuns ?? DEFAULT_KEEP_RUNS;
  if (!Number.isInteger(keepRuns) || keepRuns < 0)
    throw new InvalidOptionsError('keepRuns', `expected a non-negative integer, got ${String(keepRuns)}`);
  const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  if (!Number.isFinite(keepAliveMs) || keepAliveMs < 0)
    throw new InvalidOptionsError(
      'keepAliveMs',
      `expected a non-negative number, got ${String(keepAliveMs)}`,
    );
  const inputMode = options.input ?? (isCompiledGraph(runnable) ? 'state' : 'messages');
  const outputMode = options.output ?? 'text';

  return defineActor<LangChainAgentProtocol, LangChainAgentState>({
    type: name,
    ...(options.supervision === undefined ? {} : { supervision: options.supervision }),
    ...(options.mailbox === undefined ? {} : { mailbox: options.mailbox }),
    init: () => ({ runs: new Map(), beat: undefined }),
    onStop: (ctx) => {
      if (ctx.state?.beat !== undefined) ctx.clock.clearTimeout(ctx.state.beat);
      for (const entry of ctx.state?.runs.values() ?? []) {
        if (entry.status.state !== 'running') continue;
        settle(
          entry,
          ctx.clock.now(),
          new InteropError(
            InteropErrorCode.Aborted,
            `agent ${name} stopped during run ${entry.status.runId}`,
          ),
        );
      }
    },
    handlers: {
      run: (msg, ctx) => {
        const replier = ctx.deferReply();
        const runId = msg.runId ?? randomUUID();
        if (typeof runId !== 'string' || !RUN_ID.test(runId))
          return replier?.fail(
            new InvalidOptionsError('runId', 'expected 1-200 characters of [-_.:=a-zA-Z0-9]'),
          );
        const known = ctx.state.runs.get(runId);
        if (known?.status.state === 'finished') return replier?.reply(known.output);
        if (known?.status.state === 'running') {
          if (replier !== undefined) known.waiters.push(replier);
          return;
        }
        const info: LangChainRunInfo = { runId, messages: [] };
        if (msg.tenant !== undefined) info.tenant = msg.tenant;
        let input: unknown;
        try {
          info.messages = inputMessages(msg.input);
          const lc = toLangChainMessages(info.messages);
          input =
            inputMode === 'messages' ? lc : inputMode === 'state' ? { messages: lc } : inputMode(lc, info);
        } catch (err) {
          return replier?.fail(asInvalid(err));
        }
        const entry: RunEntry = {
          status: { runId, state: 'running', startedAt: ctx.clock.now() },
          waiters: replier === undefined ? [] : [replier],
        };
        ctx.state.runs.delete(runId);
        ctx.state.runs.set(runId, entry);
        const { signal, clock, self, state } = ctx;
        const finish = (error: InteropError | undefined, output?: unknown): void => {
          settle(entry, clock.now(), error, output);
          forgetOld(state, keepRuns);
          if (error?.code === InteropErrorCode.Failed && options.crashOnFailure === true)
            self.tell({ type: '$failed', runId, message: error.message });
        };
        if (keepAliveMs > 0 && state.beat === undefined) {
          const beat = (): void => {
            state.beat = undefined;
            if (![...state.runs.values()].some((e) => e.status.state === 'running')) return;
            self.tell({ type: '$alive' });
            state.beat = clock.setTimeout(beat, keepAliveMs);
          };
          state.beat = clock.setTimeout(beat, keepAliveMs);
        }
        // Outside the handler: the mailbox keeps serving `status` (and further runs) while the runnable works.
        void Promise.resolve()
          .then(() => runnable.invoke(input, runConfig(options, name, runId, signal)))
          .then(
            (result) => {
              let output: unknown;
              try {
                output = convertOutput(result, outputMode, info);
              } catch (err) {
                return finish(asInvalid(err));
              }
              finish(undefined, output);
            },
            (err: unknown) =>
              finish(
                signal.aborted
                  ? new InteropError(InteropErrorCode.Aborted, `run ${runId} of ${name} was aborted`, {
                      cause: signal.reason ?? err,
                    })
                  : new InteropError(
                      InteropErrorCode.Failed,
                      `run ${runId} of ${name} failed: ${messageOf(err)}`,
                      {
                        cause: err,
                      },
                    ),
              ),
          );
      },
      $alive: () => {},
      $failed: (msg) => {
        throw new InteropError(InteropErrorCode.Failed, msg.message, { data: { runId: msg.runId } });
      },
      status: (_msg, ctx) => ({
        agent: name,
        framework: 'langchain',
        runs: [...ctx.state.runs.values()].map((e) => ({ ...e.status })),
      }),
    },
  });
}

/** Ends a run once: replies to (or fails) everyone waiting for it. */
function settle(entry: RunEntry, now: number, error: InteropError | undefined, output?: unknown): void {
  if (entry.status.state !== 'running') return;
  entry.status.endedAt = now;
  const waiters = entry.waiters.splice(0);
  if (error === undefined) {
    entry.status.state = 'finished';
    entry.output = output;
    for (const w of waiters) w.reply(output);
  } else {
    entry.status.state = 'failed';
    entry.status.error = { code: error.code, message: error.message };
    for (const w of waiters) w.fail(error);
  }
}

/** Drops the oldest settled runs beyond `keep` (a Map iterates in insertion order). */
function forgetOld(state: LangChainAgentState, keep: number): void {
  let settled = 0;
  for (const e of state.runs.values()) if (e.status.state !== 'running') settled++;
  for (const [runId, e] of state.runs) {
    if (settled <= keep) break;
    if (e.status.state === 'running') continue;
    state.runs.delete(runId);
    settled--;
  }
}

function runConfig(
  options: LangChainAgentOptions,
  name: string,
  runId: string,
  signal: AbortSignal,
): Partial<RunnableConfig> {
  const config = options.config ?? {};
  return {
    ...config,
    signal,
    runName: config.runName ?? name,
    configurable: { thread_id: runId, ...config.configurable },
    metadata: { ...config.metadata, troupe_run_id: runId, troupe_agent: name },
  };
}

function inputMessages(input: unknown): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  if (!Array.isArray(input)) throw invalidMessage('input', 'expected a string or an array of chat messages');
  for (const [i, m] of input.entries()) {
    const role = (m as { role?: unknown } | null)?.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool')
      throw invalidMessage(`input[${i}].role`, `unsupported role ${JSON.stringify(role)}`);
  }
  return input as ChatMessage[];
}

function convertOutput(
  result: unknown,
  mode: NonNullable<LangChainAgentOptions['output']>,
  info: LangChainRunInfo,
): unknown {
  if (typeof mode === 'function') return mode(result, info);
  const messages = messagesOf(result);
  if (mode === 'messages') {
    if (messages === undefined) throw invalidMessage('result', 'holds no messages');
    return fromLangChainMessages(messages);
  }
  if (typeof result === 'string') return result;
  const last = messages?.at(-1);
  if (last === undefined) return result;
  const message = fromLangChainMessage(last, 'result');
  if (typeof message.content === 'string') return message.content;
  if (message.content === null) return '';
  return message.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** The messages a result holds: a message, an array of them, or a state with `messages`. */
function messagesOf(result: unknown): BaseMessage[] | undefined {
  if (BaseMessage.isInstance(result)) return [result];
  if (Array.isArray(result) && result.length > 0 && result.every((m) => BaseMessage.isInstance(m)))
    return result as BaseMessage[];
  const state = result as { messages?: unknown } | null;
  if (typeof state === 'object' && state !== null && Array.isArray(state.messages))
    return state.messages.filter((m) => BaseMessage.isInstance(m));
  return undefined;
}

/** A compiled LangGraph graph (Pregel), told apart without importing @langchain/langgraph. */
function isCompiledGraph(runnable: object): boolean {
  return 'channels' in runnable && 'nodes' in runnable && 'streamMode' in runnable;
}

function asInvalid(err: unknown): InteropError {
  return err instanceof InteropError
    ? err
    : new InteropError(InteropErrorCode.InvalidMessage, messageOf(err), { cause: err });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
