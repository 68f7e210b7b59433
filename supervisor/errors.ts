// Errors of the supervision layer.

import { TroupeError } from '../runtime/index.js';

/** Codes of the errors supervisors raise. */
export const SupervisorErrorCode = {
  /** More restarts than the intensity allows within its window: the supervisor gives up and escalates. */
  IntensityExceeded: 'RESTART_INTENSITY_EXCEEDED',
  /** A child spec or supervisor option is invalid. */
  InvalidSpec: 'INVALID_CHILD_SPEC',
  /** `startChild` named a child that already exists. */
  ChildExists: 'CHILD_EXISTS',
  /** A dynamic supervisor is at its `maxChildren`. */
  TooManyChildren: 'TOO_MANY_CHILDREN',
} as const;

export type SupervisorErrorCode = (typeof SupervisorErrorCode)[keyof typeof SupervisorErrorCode];

/** An error raised by a supervisor; check with `SupervisorError.is(err)` or by `code`. */
export class SupervisorError extends TroupeError {
  override readonly name: string = 'SupervisorError';

  static override is(err: unknown, code?: string): err is SupervisorError {
    return err instanceof SupervisorError && (code === undefined || err.code === code);
  }
}
