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

  /** The wire form of this (or any) error. */
  static toWire(err: unknown): WireError {
    if (err instanceof TroupeError) {
      return err.data === undefined
        ? { code: err.code, message: err.message }
        : { code: err.code, message: err.message, data: err.data };
    }
    if (err instanceof Error) return { code: ErrorCode.Remote, message: `${err.name}: ${err.message}` };
    return { code: ErrorCode.Remote, message: String(err) };
  }

  /** Rebuilds an error that crossed the wire. */
  static fromWire(wire: WireError): TroupeError {
    // A reply from the wire may carry anything: never throw while turning it into an error.
    if (typeof wire !== 'object' || wire === null) {
      return new TroupeError(ErrorCode.MalformedFrame, `malformed error reply: ${String(wire)}`);
    }
    return new TroupeError(String(wire.code), String(wire.message), { data: wire.data });
  }
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
