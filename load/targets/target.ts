// The contract of a load target: a named factory opened once per node and run, closed at the end.

import type { ActorSystem } from '../../runtime/index.js';
import type { Recorder } from '../metrics/recorder.js';

/** What a target gets when it is opened on a node. */
export interface TargetContext {
  /** The target's name in the test (`targets: { api: http(...) }` → `api`): its requests are recorded under it. */
  name: string;
  recorder: Recorder;
  /** Aborted when the run stops: in-flight requests abort with it. */
  signal: AbortSignal;
  /** The node's actor system (the actor target asks through it). */
  system: ActorSystem;
  /** Hosts besides loopback the test explicitly allows (`allowHosts`). */
  allowHosts: readonly string[];
}

/** A target as declared in a load test: `describe()` names what it aims at (the report and the safety check show it). */
export interface TargetFactory<T = unknown> {
  readonly kind: string;
  /** What it aims at: a URL, a NATS server and subject, an actor address. */
  describe(): string;
  /** Opens the target on this node (connection pools etc.); throws LOAD_TARGET_NOT_ALLOWED for a host not allowed. */
  open(context: TargetContext): Promise<OpenedTarget<T>>;
}

/** An opened target: the client the scenario uses, and how to close it. */
export interface OpenedTarget<T> {
  readonly client: T;
  close(): Promise<void>;
}

/** The client type a factory opens to. */
export type ClientOf<F> = F extends TargetFactory<infer T> ? T : never;
