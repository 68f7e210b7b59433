// Supervision: supervisors as actors, strategies, restart intensity and backoff, deciders and child specs.

export type { BackoffOptions, ResolvedBackoffOptions } from './backoff.js';
export { Backoff, DEFAULT_BACKOFF, resolveBackoffOptions } from './backoff.js';
export type { AnyActorDefinition, ChildSpec, ResolvedChildSpec, RestartType } from './child-spec.js';
export { DEFAULT_SHUTDOWN_TIMEOUT_MS, resolveChildSpec } from './child-spec.js';
export type { DeciderRule, ErrorMatcher } from './decider.js';
export { alwaysEscalate, alwaysRestart, alwaysResume, alwaysStop, decider } from './decider.js';
export { SupervisorError, SupervisorErrorCode } from './errors.js';
export type { IntensityOptions, ResolvedIntensityOptions } from './intensity.js';
export {
  DEFAULT_MAX_RESTARTS,
  DEFAULT_RESTART_WINDOW_MS,
  RestartIntensity,
  resolveIntensityOptions,
} from './intensity.js';
export type { RestartPolicyOptions } from './restart-policy.js';
export { restartPolicy } from './restart-policy.js';
export type { StrategyName, SupervisorStrategy } from './strategy.js';
export { oneForAll, oneForOne, restForOne, strategyOf } from './strategy.js';
export type {
  DynamicSupervisorOptions,
  DynamicSupervisorProtocol,
  SupervisedChildInfo,
  SupervisorCommonOptions,
  SupervisorOptions,
  SupervisorProtocol,
  SupervisorState,
} from './supervisor.js';
export { defineDynamicSupervisor, defineSupervisor } from './supervisor.js';
