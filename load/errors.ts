// The load layer's coded errors.

import { TroupeError } from '../runtime/index.js';

export const LoadErrorCode = {
  /** A load test definition or a run option is invalid (the message names the field). */
  Invalid: 'LOAD_INVALID',
  /** A threshold expression does not parse, or names an unknown metric or statistic. */
  InvalidThreshold: 'LOAD_INVALID_THRESHOLD',
  /** The VU count or arrival rate asked for is above the configured hard cap. */
  OverCap: 'LOAD_OVER_CAP',
  /** A target aims at a host that is not loopback and not listed in the test's `allowHosts`. */
  TargetNotAllowed: 'LOAD_TARGET_NOT_ALLOWED',
  /** A target request failed (connection refused, reset, protocol error). */
  TargetFailed: 'LOAD_TARGET_FAILED',
  /** A target request timed out. */
  Timeout: 'LOAD_TIMEOUT',
  /** The load test module could not be loaded, or its source did not match its hash. */
  Module: 'LOAD_MODULE',
  /** No node offers the load role (or fewer than asked for) within the wait. */
  NoNodes: 'LOAD_NO_NODES',
  /**
   * A load node did not answer the coordinator: it went away, or it refuses the coordinator's frames (a
   * signing fleet and an unsigned coordinator). Its own refusals of a run keep their codes.
   */
  NodeUnreachable: 'LOAD_NODE_UNREACHABLE',
  /** A run id unknown to the node that was asked. */
  UnknownRun: 'LOAD_UNKNOWN_RUN',
  /** The run was stopped (Ctrl-C, or its coordinator went silent). */
  Stopped: 'LOAD_STOPPED',
  /** A report file is not a load report of a known schema. */
  Report: 'LOAD_REPORT',
} as const;
export type LoadErrorCode = (typeof LoadErrorCode)[keyof typeof LoadErrorCode];

/** An error of the load layer; `code` is one of {@link LoadErrorCode}. */
export class LoadError extends TroupeError {
  override readonly name = 'LoadError';
  constructor(code: LoadErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
