// The contract for metrics: what a node counts (plain numbers, read when metrics are collected) and the one
// hook a metrics implementation gets on the message path (handle durations, sampled).

/** Figures of one actor type on one node. Counters only grow; `active` and `mailboxDepth` are gauges. */
export interface ActorTypeStats {
  type: string;
  /** Messages handed to a handler of this type (each retry of a failed message counts again). */
  messagesIn: number;
  /** Tells, asks and sends made while a handler of this type ran (its synchronous part). */
  messagesOut: number;
  /** Handler, init, watchdog and stop failures. */
  failures: number;
  restarts: number;
  /** Live actors of this type. */
  active: number;
  /** Messages waiting in their mailboxes. */
  mailboxDepth: number;
}

/** Durable (JetStream) mail as one node saw it: stored by its senders, delivered to, acknowledged by its actors. */
export interface DurableStats {
  stored: number;
  delivered: number;
  acked: number;
  /** Handed back for redelivery (the actor's shard moved, say). */
  nacked: number;
  /** Frames that can never be handled, acknowledged away as dead letters. */
  terminated: number;
}

/** What a transport reports about itself: its connection, the cluster as this node sees it, its counters. */
export interface TransportStats {
  /** `open` once bound; `draining` from `handOver` on; `closed` at the end. */
  state: 'new' | 'binding' | 'open' | 'draining' | 'closed';
  /** The connection to the server is up (false while reconnecting). */
  connected: boolean;
  /** Disconnections since binding. */
  disconnects: number;
  /** Live members as this node sees them, itself included. */
  members: number;
  /** Virtual-actor shards this node holds. */
  shardsOwned: number;
  /** Shards placement gives this node that it has not claimed yet (0: settled). */
  shardsPending: number;
  /** Shards this node took over, and gave up, since binding. */
  shardsClaimed: number;
  shardsReleased: number;
  durable?: DurableStats;
}

/** Counts of one task's runs by the state they reached. */
export interface TaskRunStats {
  /** Runs this process queued. */
  enqueued: number;
  /** Runs that resolved with the output. */
  completed: number;
  /** Runs that rejected (failed, timed out, cancelled, could not be queued). */
  failed: number;
}

/** Counts of one task's attempts that this process's workers ran. */
export interface TaskJobStats {
  completed: number;
  /** Attempts that failed for good (no attempt left). */
  failed: number;
  /** Attempts that failed and will be tried again. */
  retried: number;
}

/** What a task runner counted, by task name: the caller's runs, and the jobs its workers ran. */
export interface TaskStats {
  runs: Record<string, TaskRunStats>;
  jobs: Record<string, TaskJobStats>;
}

/** Everything one node counts, read at collection time. */
export interface NodeStats {
  nodeId: string;
  actorTypes: ActorTypeStats[];
  /** Dead letters by reason code. */
  deadLetters: Record<string, number>;
  /** Settled asks made on this node, by outcome: `ok`, or the error code (`ASK_TIMEOUT`, ...). */
  asks: Record<string, number>;
  /** Asks waiting for their reply. */
  asksPending: number;
  transport?: TransportStats | undefined;
  tasks?: TaskStats | undefined;
}

/** What a system hands its metrics implementation. */
export interface MetricsSource {
  readonly nodeId: string;
  /** The node's figures now; cheap enough to call on every collection (O(actors)). */
  stats(): NodeStats;
}

/** What a metrics implementation gives the system it is attached to. */
export interface MetricsRecorder {
  /**
   * Handle durations of sync handlers are measured for one message in `sampleEvery` (rounded down to a power
   * of two; 0: none): timing one costs two clock reads plus the record, more than a small handler. Types
   * whose handlers are async (they wait on I/O) are timed on every message once one was seen to be.
   */
  readonly sampleEvery: number;
  /** Records how long a handler of `actorType` took (to its return, or its promise's settling). */
  handled(actorType: string, seconds: number): void;
  /** The system closed: stop reading it. */
  detach(): void;
}

/**
 * Metrics for a system (`createSystem({ metrics })`): `otelMetrics()` in troupe/telemetry. Counting costs
 * the message path a few increments; everything else is read from {@link MetricsSource.stats} when collected.
 */
export interface Metrics {
  /** Called once by `createSystem`. */
  attach(source: MetricsSource): MetricsRecorder;
}
