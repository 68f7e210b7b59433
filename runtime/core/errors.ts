// Error classes for the runtime: every error has a stable string `code` so it survives a trip across processes.

/** Codes of the errors the runtime raises. */
export const ErrorCode = {
  AskTimeout: 'ASK_TIMEOUT',
  AskAborted: 'ASK_ABORTED',
  ActorNotFound: 'ACTOR_NOT_FOUND',
  ActorStopped: 'ACTOR_STOPPED',
  ActorCrashed: 'ACTOR_CRASHED',
  NameTaken: 'NAME_TAKEN',
  InvalidName: 'INVALID_NAME',
  InvalidOptions: 'INVALID_OPTIONS',
  InvalidMessage: 'INVALID_MESSAGE',
  Unhandled: 'UNHANDLED',
  NoResponders: 'NO_RESPONDERS',
  SystemClosed: 'SYSTEM_CLOSED',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  MalformedFrame: 'MALFORMED_FRAME',
  Expired: 'EXPIRED',
  Remote: 'REMOTE_ERROR',
  /**
   * A handler, hook or task threw (or failed an ask with) an error that is not a troupe error: its wire form
   * under this code keeps its name, message, stack and causes. `REMOTE_ERROR` is left for failures of unknown
   * origin (a transport's, or a wire error without a code).
   */
  HandlerError: 'HANDLER_ERROR',
  NoReply: 'NO_REPLY',
  StashFull: 'STASH_FULL',
  LateReply: 'LATE_REPLY',
  NameInUse: 'NODE_ID_IN_USE',
  MailboxFull: 'MAILBOX_FULL',
  HandlerTimeout: 'HANDLER_TIMEOUT',
  RestartLimit: 'RESTART_LIMIT',
  TaskFailed: 'TASK_FAILED',
  TaskTimeout: 'TASK_TIMEOUT',
  TaskCancelled: 'TASK_CANCELLED',
  TaskLost: 'TASK_LOST',
  UnknownTask: 'UNKNOWN_TASK',
  NoTaskRunner: 'NO_TASK_RUNNER',
  InvalidTaskInput: 'INVALID_TASK_INPUT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The plain shape an error takes on the wire; rebuilt into a {@link TroupeError} on arrival. */
export interface WireError {
  code: string;
  message: string;
  data?: unknown;
  /** The stack where it was raised (at most {@link MAX_WIRE_STACK} characters). */
  stack?: string;
  /** What caused it, {@link MAX_WIRE_CAUSES} levels deep at most. */
  cause?: WireError;
}

/** Longest stack a wire error carries, per error in its chain, in characters. */
export const MAX_WIRE_STACK = 4096;
/** Most causes a wire error carries below itself. */
export const MAX_WIRE_CAUSES = 3;
/** Most characters of stacks and cause messages one wire error carries in all (its own message aside). */
export const MAX_WIRE_ERROR_TEXT = 16_384;

/** Options of {@link TroupeError.toWire}. */
export interface ToWireOptions {
  /**
   * Code given to an error that is not a troupe error.
   * @defaultValue `HANDLER_ERROR`
   */
  code?: string;
  /**
   * Carry stacks (listings such as `ps` leave them out).
   * @defaultValue true
   */
  stack?: boolean;
}

function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max))}… (${text.length} chars)`;
}

/** The wire form of `err`, with what is left of `budget` for stacks and causes. */
function wireOf(
  err: unknown,
  options: ToWireOptions | undefined,
  budget: { left: number },
  depth: number,
): WireError {
  let wire: WireError;
  let cause: unknown;
  if (err instanceof TroupeError) {
    wire =
      err.data === undefined
        ? { code: err.code, message: err.message }
        : { code: err.code, message: err.message, data: err.data };
    cause = err.cause;
  } else if (err instanceof Error) {
    wire = { code: options?.code ?? ErrorCode.HandlerError, message: `${err.name}: ${err.message}` };
    cause = err.cause;
  } else if (isWireError(err)) {
    // Already plain (a cause rebuilt from the wire keeps its shape): copied, within the budget.
    wire = { code: err.code, message: String(err.message) };
    if (err.data !== undefined) wire.data = err.data;
    if (typeof err.stack === 'string' && options?.stack !== false) wire.stack = err.stack;
    cause = err.cause;
  } else {
    return { code: options?.code ?? ErrorCode.HandlerError, message: String(err) };
  }
  if (depth > 0) {
    wire.message = cap(wire.message, Math.max(64, Math.min(1024, budget.left)));
    budget.left -= wire.message.length;
  }
  const stack = err instanceof Error ? err.stack : wire.stack;
  delete wire.stack;
  if (options?.stack !== false && typeof stack === 'string' && budget.left > 0) {
    wire.stack = cap(stack, Math.min(MAX_WIRE_STACK, budget.left));
    budget.left -= wire.stack.length;
  }
  if (cause !== undefined && cause !== null && depth < MAX_WIRE_CAUSES && budget.left > 0)
    wire.cause = wireOf(cause, options, budget, depth + 1);
  return wire;
}

function isWireError(value: unknown): value is WireError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as WireError).code === 'string' &&
    'message' in value
  );
}

/**
 * Base class of every troupe error. Check with `TroupeError.is(err)` or `err.code`, never `instanceof`
 * across processes: errors from the wire are rebuilt from `{ code, message, data }`.
 */
export class TroupeError extends Error {
  override readonly name: string = 'TroupeError';
  readonly code: string;
  readonly data: unknown;

  constructor(code: string, message: string, options?: { cause?: unknown; data?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = options?.data;
  }

  /** True when `err` is a troupe error, optionally with the given code. */
  static is(err: unknown, code?: string): err is TroupeError {
    return err instanceof TroupeError && (code === undefined || err.code === code);
  }

  /**
   * The wire form of this (or any) error: `{ code, message, data?, stack?, cause? }`, its stack and causes
   * size-capped ({@link MAX_WIRE_STACK}, {@link MAX_WIRE_CAUSES}, {@link MAX_WIRE_ERROR_TEXT}). An error that
   * is not a troupe error (thrown by a handler, a hook, a task) gets the code `HANDLER_ERROR`.
   */
  static toWire(err: unknown, options?: ToWireOptions): WireError {
    return wireOf(err, options, { left: MAX_WIRE_ERROR_TEXT }, 0);
  }

  /** Rebuilds an error that crossed the wire, with its stack and causes. */
  static fromWire(wire: WireError): TroupeError {
    return rebuild(wire, 0);
  }
}

/**
 * @internal `wire` as it leaves node `nodeId` in a reply: its stack says where it came from
 * (`remote <node>: …`), so the asker's rebuilt error does not pass for a local one.
 */
export function fromNode(wire: WireError, nodeId: string): WireError {
  if (
    typeof wire !== 'object' ||
    wire === null ||
    typeof wire.stack !== 'string' ||
    wire.stack.startsWith('remote ')
  )
    return wire;
  return { ...wire, stack: `remote ${nodeId}: ${wire.stack}` };
}

function rebuild(wire: WireError, depth: number): TroupeError {
  // A reply from the wire may carry anything: never throw while turning it into an error.
  if (typeof wire !== 'object' || wire === null) {
    return new TroupeError(ErrorCode.MalformedFrame, `malformed error reply: ${String(wire)}`);
  }
  const cause =
    depth < MAX_WIRE_CAUSES && typeof wire.cause === 'object' && wire.cause !== null
      ? rebuild(wire.cause, depth + 1)
      : undefined;
  const code = typeof wire.code === 'string' ? wire.code : ErrorCode.Remote;
  const error = new TroupeError(code, String(wire.message), { data: wire.data, cause });
  // The stack is the one where it was raised; where it was rebuilt would tell nothing.
  if (typeof wire.stack === 'string') error.stack = cap(wire.stack, MAX_WIRE_STACK);
  return error;
}

/** An `ask` got no reply before its timeout. */
export class AskTimeoutError extends TroupeError {
  override readonly name = 'AskTimeoutError';
  constructor(target: string, timeoutMs: number) {
    super(ErrorCode.AskTimeout, `ask to ${target} timed out after ${timeoutMs} ms`, {
      data: { target, timeoutMs },
    });
  }
}

/** A handler threw or rejected; the actor was stopped (or handed to its supervisor). */
export class ActorCrashedError extends TroupeError {
  override readonly name = 'ActorCrashedError';
}

/** Options given to a factory failed validation; `field` names the bad one. */
export class InvalidOptionsError extends TroupeError {
  override readonly name = 'InvalidOptionsError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(ErrorCode.InvalidOptions, `invalid option ${field}: ${message}`, { data: { field } });
    this.field = field;
  }
}

/**
 * A task run failed: `code` is `TASK_FAILED` (the handler threw on its last attempt; the original error's wire form
 * is in `data.cause`), `TASK_TIMEOUT`, `TASK_CANCELLED`, `TASK_LOST` (its job vanished, e.g. Redis lost its data),
 * `UNKNOWN_TASK`, `NO_TASK_RUNNER` or `INVALID_TASK_INPUT` (the input is not a JSON value, e.g. holds a function).
 */
export class TaskError extends TroupeError {
  override readonly name = 'TaskError';
}
