// troupe/load: load tests of your own systems (HTTP, NATS, LLM endpoints, troupe actors) with virtual users as
// actors, run in one process or spread over the `troupe node --role load` fleet, figures merged exactly.

export type { LoadAgentOptions } from './agent/index.js';
export { loadAgent, startLoadAgent } from './agent/index.js';
export type {
  HistogramData,
  LoadAgentProtocol,
  ModuleRef,
  NodeSnapshot,
  RunPlan,
} from './agent/protocol.js';
export { LOAD_AGENT_NAME, LOAD_ROLE } from './agent/protocol.js';
export type { CoordinatorOptions } from './coordinator/coordinator.js';
export { runCoordinator } from './coordinator/coordinator.js';
export type { LoadFleet, WaitForNodesOptions } from './coordinator/fleet.js';
export { clusterFleet, embeddedFleet, waitForLoadNodes } from './coordinator/fleet.js';
export type { ExecutorOverrides } from './coordinator/overrides.js';
export { applyOverrides, parseDuration } from './coordinator/overrides.js';
export type { LoadProgress, ProgressLine, ProgressStream } from './coordinator/progress.js';
export { createProgressLine, formatProgress } from './coordinator/progress.js';
export { defineLoad } from './define.js';
export { LoadError, LoadErrorCode } from './errors.js';
export type {
  ConstantArrivalRateSpec,
  ConstantVusSpec,
  ExecutorSpec,
  LoadCaps,
  RampingArrivalRateSpec,
  RampingVusSpec,
  Stage,
} from './executors/index.js';
export {
  DEFAULT_LOAD_CAPS,
  executorDurationMs,
  executorMaxRatePerSec,
  executorMaxVus,
  isOpenModel,
  iterationsBy,
  loadCapsFromEnv,
  scheduledAt,
  targetVusAt,
  validateExecutor,
} from './executors/index.js';
export type {
  LoadMetricsHook,
  MergedFigures,
  NodeRecorder,
  Recorder,
  RecorderOptions,
} from './metrics/index.js';
export { createRecorder, mergeSnapshots } from './metrics/index.js';
export { importLoadTest, readModuleRef } from './module.js';
export type { LoadComparisonRow } from './report/compare.js';
export { compareLoadReports, renderLoadComparison } from './report/compare.js';
export { renderLoadHtml } from './report/html.js';
export { readLoadReport, validateLoadReport } from './report/read.js';
export type { CheckReport, LoadReport, NodeReport } from './report/report.js';
export { buildLoadReport, LOAD_REPORT_KIND, LOAD_REPORT_SCHEMA } from './report/report.js';
export { renderLoadSummary } from './report/text.js';
export type { TimelinePoint } from './report/timeline.js';
export type { RunLoadOptions } from './run.js';
export { runLoad } from './run.js';
export type {
  ActorClient,
  ActorTargetOptions,
  ClientOf,
  HttpClient,
  HttpRequest,
  HttpRequestOptions,
  HttpResponse,
  HttpTargetOptions,
  LlmChatOptions,
  LlmChatResult,
  LlmClient,
  LlmTargetOptions,
  NatsClient,
  NatsPayload,
  NatsReply,
  NatsTargetOptions,
  OpenedTarget,
  TargetContext,
  TargetFactory,
  VirtualActorTarget,
} from './targets/index.js';
export { actor, http, isLoopbackHost, llm, natsTarget } from './targets/index.js';
export type { LoadTest } from './test.js';
export type { Threshold, ThresholdOp, ThresholdResult } from './thresholds.js';
export { evaluateThresholds, parseThreshold } from './thresholds.js';
export type { VuContext } from './vu/context.js';
