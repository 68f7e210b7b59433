// The adapter entry (as nats.js keeps internal_mod.ts apart from mod.ts): what runner and transport packages build
// on, beyond the public surface of index.ts.

export { hash32, nodeInfo, rendezvous, shardOf } from './cluster/placement.js';
export type { ResolvedVirtualActorOptions } from './cluster/virtual.js';
export {
  isVirtualType,
  parseVirtualAddress,
  resolveVirtualActorOptions,
  VIRTUAL_NODE,
  virtualAddress,
} from './cluster/virtual.js';
export { withDeadline } from './core/deadline.js';
export { Deque } from './core/deque.js';
export type { Delivery, Envelope } from './core/envelope.js';
export {
  assertHeaders,
  assertValidAddress,
  assertValidName,
  EnvelopeKind,
  ERROR_HEADER,
  errorReply,
  isErrorReply,
  MAX_HEADERS,
  nodeOf,
  pathOf,
  REPLY_SEGMENT,
} from './core/envelope.js';
export type { LogLimiterOptions } from './core/log-limiter.js';
export { DEFAULT_LOG_WINDOW_MS, LogLimiter } from './core/log-limiter.js';
export { defaultLogger, isLogLevel, loggerOption, serializeError } from './core/logger.js';
export {
  assertOptionsObject,
  clockOption,
  intOption,
  numberOption,
} from './core/options.js';
export { OrderedSteps } from './core/steps.js';
export { isPromiseLike } from './core/thenable.js';
// The topic buses' shared parts: the NATS bus delivers and retries like the memory one.
export { SerialDelivery } from './kv/serial-delivery.js';
export {
  assertBeforeSeq,
  assertLogKey,
  assertLogRecord,
  maxRecordBytesOption,
  readBounds,
} from './ports/append-log.js';
// ---- envelopes, addresses, contracts and helpers for transports ----
export type { Codec } from './ports/codec.js';
export { assertKvKey } from './ports/kv.js';
export { assertStateKey, assertStateValue } from './ports/state.js';
export type { ResolvedSubscribeOptions } from './ports/topics.js';
export {
  DeadLetterBuffer,
  durablePatternsOption,
  handlerFailed,
  maxEventBytesOption,
  resolveSubscribeOptions,
  topicBackoff,
} from './ports/topics.js';
export { tracingOption } from './ports/tracing.js';
export type { HostedType, Rejected, TransportSink } from './ports/transport.js';
export { NODE_SEGMENT } from './system/address.js';
export type { ResolvedSystemOptions } from './system/options.js';
export { resolveSystemOptions } from './system/options.js';
// ---- tasks: contracts and execution for runner authors ----
export type { ResolvedTaskOptions } from './tasks/definition.js';
export { isTaskDefinition, MAX_TASK_PRIORITY, resolveTaskOptions } from './tasks/definition.js';
export { asTaskError, taskCancelled, taskErrorFromWire } from './tasks/errors.js';
export type { ExecuteTaskOptions } from './tasks/execution.js';
export { backoffDelay, executeTask } from './tasks/execution.js';
// ---- tasks: what a runner needs to run jobs as the in-process pool does ----
export type { HandlerModule, HandlerThreads } from './tasks/handlers.js';
export { handlerOf, loadHandler, moduleHandler } from './tasks/handlers.js';
export { DEFAULT_IDEMPOTENCY_KEYS, SharedRuns } from './tasks/idempotency.js';
export { assertTaskInput, assertTaskOutput, nonJsonAt } from './tasks/json.js';
export type { ResolvedTaskPoolOptions } from './tasks/pool.js';
export { resolveTaskPoolOptions, TaskPool } from './tasks/pool.js';
export type { ResolvedRunOptions } from './tasks/runner.js';
export { assertTaskRef, checkRun, resolveRunOptions } from './tasks/runner.js';
export { defaultThreadCount, ThreadPool } from './tasks/threads.js';
export type { QueuedTrace, RunTrace } from './tasks/tracing.js';
export { traceEnqueue, traceRun } from './tasks/tracing.js';
