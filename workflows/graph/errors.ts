// Workflow failures as TroupeErrors with stable codes, so a caller (or a remote asker) can match on `code`.

import { TroupeError } from '../../runtime/index.js';

export const WorkflowErrorCode = {
  /** A node cannot be reached from the start. */
  Unreachable: 'GRAPH_UNREACHABLE',
  /** A cycle has no edge with a declared `maxLoops` bound. */
  UnboundedCycle: 'GRAPH_UNBOUNDED_CYCLE',
  /** An edge names a node that does not exist. */
  MissingTarget: 'GRAPH_MISSING_TARGET',
  /** Two nodes share a name (or a node takes a reserved one). */
  Duplicate: 'GRAPH_DUPLICATE',
  /** The definition is malformed (bad name, bad bound, no entry edge, unknown node type, bad update...). */
  Invalid: 'GRAPH_INVALID',
  /** A run went round a bounded edge more often than its `maxLoops`, or took more than `maxSteps` steps. */
  LoopLimit: 'GRAPH_LOOP_LIMIT',
  /** A node threw; `cause` is its error, `data.node` its name. */
  NodeFailed: 'GRAPH_NODE_FAILED',
  /** A node attempt ran past its `timeoutMs`. */
  NodeTimeout: 'GRAPH_NODE_TIMEOUT',
  /** A node asked for human input (`ctx.interrupt`) in a run that cannot wait for it (an in-process `run()`). */
  Interrupted: 'GRAPH_INTERRUPTED',
  /** No durable run has this id (or no checkpoint this step, for a fork). */
  RunNotFound: 'GRAPH_RUN_NOT_FOUND',
  /** `resume` of a run that is not waiting at an interrupt, or a run id reused for another graph. */
  RunState: 'GRAPH_RUN_STATE',
  /** The run was cancelled. */
  Cancelled: 'GRAPH_CANCELLED',
  /** The run's signal was aborted. */
  Aborted: 'GRAPH_ABORTED',
  /** An agent node ran without an `invokeAgent` to call the agent with. */
  Unsupported: 'GRAPH_UNSUPPORTED_NODE',
  /** A condition expression does not parse. */
  ExprSyntax: 'GRAPH_EXPR_SYNTAX',
  /** A condition expression names a forbidden property (`__proto__`, `constructor`, `prototype`). */
  ExprForbidden: 'GRAPH_EXPR_FORBIDDEN',
  /** A condition expression is too long or too deeply nested. */
  ExprTooComplex: 'GRAPH_EXPR_TOO_COMPLEX',
} as const;

export type WorkflowErrorCode = (typeof WorkflowErrorCode)[keyof typeof WorkflowErrorCode];

export class WorkflowError extends TroupeError {
  override readonly name = 'WorkflowError';
  constructor(code: WorkflowErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
