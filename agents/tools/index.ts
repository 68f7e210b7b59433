// Tools for agents: definitions with zod schemas, a registry per system, permissions, fleet-wide rate limits,
// execution with coded outcomes, and the audit log.

export type {
  AuditEntry,
  AuditLog,
  AuditLogOptions,
  AuditQuery,
  AuditRecord,
  ModelAuditRecord,
  SecurityAuditEntry,
  SecurityAuditRecord,
  ToolAuditRecord,
} from './audit.js';
export { AUDIT_LOG_NAME, argsHash, auditLog, canonicalJson } from './audit.js';
export type { AuditDenialsOptions, DenialAudit } from './audit-denials.js';
export { auditDenials, DEFAULT_MAX_PENDING_DENIALS, DENIAL_CODES, denialRecord } from './audit-denials.js';
export type { AnyTool, Tool, ToolContext, ToolSpec } from './define.js';
export { defineTool, needsApproval, parametersOf } from './define.js';
export type { ToolCallContext, ToolCallRequest } from './execute.js';
export { callNeedsApproval, executeTool } from './execute.js';
export type { ToolFailure, ToolIssue, ToolOutcome } from './outcome.js';
export { formatOutcome, ToolError, ToolErrorCode } from './outcome.js';
export type { AgentPermissions } from './permissions.js';
export { scopeGranted } from './permissions.js';
export type { RateLimit, TakeResult } from './rate-limit.js';
export { TokenBuckets } from './rate-limit.js';
export type { ToolRegistryOptions } from './registry.js';
export { ToolRegistry } from './registry.js';
export type { RetrievalToolOptions } from './retrieval.js';
export { retrievalTool } from './retrieval.js';
