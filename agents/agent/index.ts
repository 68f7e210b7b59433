// The agent actor: a kit shared by a fleet's agents, agents defined on it, delegation between them.

export type { AgentDefinition, AgentSpec } from './define.js';
export type { AgentDelegate, DelegateOptions } from './delegation.js';
export { agentTool, handoff } from './delegation.js';
export { AgentError, AgentErrorCode } from './errors.js';
export type { AgentKit, AgentKitOptions } from './kit.js';
export { agentKit } from './kit.js';
export type { AgentMemoryOptions } from './memory-options.js';
export type {
  AgentConfigChange,
  AgentEvent,
  AgentEventMessage,
  AgentFinishReason,
  AgentProtocol,
  AgentRunState,
  AgentRunStatus,
  AgentStatus,
  ApprovalAck,
} from './protocol.js';
export { Semaphore } from './semaphore.js';
