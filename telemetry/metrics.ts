// troupe's metrics through the OpenTelemetry metrics API: what a node counts is read by observable
// instruments when the reader collects (nothing is recorded per message), plus a histogram of sampled
// handle durations. Choosing the SDK and exporter is the application's (or `troupe/telemetry/sdk`'s).

import {
  type Attributes,
  type BatchObservableResult,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
  ValueType,
} from '@opentelemetry/api';
import type { Metrics, MetricsRecorder, MetricsSource, NodeStats, TaskRunner } from '../runtime/index.js';
import { InvalidOptionsError } from '../runtime/index.js';
import { ErrorAttr, TroupeAttr } from './semconv.js';

/** Options of {@link otelMetrics}. */
export interface OtelMetricsOptions {
  /** @defaultValue the global one (`metrics.getMeterProvider()`): a no-op until an SDK registers one */
  meterProvider?: MeterProvider;
  /**
   * First segment of every metric name (`troupe.actor.messages.in`; in Prometheus `troupe_actor_messages_in_total`).
   * @defaultValue `troupe`
   */
  prefix?: string;
  /**
   * Durations of sync handlers are measured for one message in this many (rounded down to a power of two;
   * 0: no durations at all). Timing and recording one costs about 1 µs, ten times a small handler: one in
   * 128 keeps a saturated local actor within a few percent of its speed without metrics. Actor types whose
   * handlers are async are timed on every message (next to their I/O the cost does not show). 1 times
   * every message. The histogram's count is therefore not the message count: `troupe.actor.messages.in` is.
   * @defaultValue 128
   */
  handleSampleEvery?: number;
  /**
   * Bucket boundaries of the handle-duration histogram, in seconds.
   * @defaultValue 10 µs to 10 s
   */
  durationBuckets?: number[];
}

/** Default boundaries of `troupe.actor.handle.duration`, in seconds: from a small handler to a model call. */
export const DEFAULT_DURATION_BUCKETS = [
  0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10,
];

/** Attribute keys of troupe's metrics that are not span attributes too. */
export const MetricAttr = {
  /** `ok` or `error` (the error's code is in `error.type`). */
  AskOutcome: 'troupe.ask.outcome',
  /** `enqueued`, `completed`, `failed`, `retried`. */
  TaskState: 'troupe.task.state',
  /** `claimed` or `released`. */
  ShardMove: 'troupe.shard.move',
  /** `stored`, `delivered`, `acked`, `nacked`, `terminated`. */
  DurableOutcome: 'troupe.durable.outcome',
} as const;

/** The instruments of one meter. */
interface Instruments {
  meter: Meter;
  all: Observable[];
  messagesIn: Observable;
  messagesOut: Observable;
  failures: Observable;
  restarts: Observable;
  active: Observable;
  mailboxDepth: Observable;
  deadLetters: Observable;
  asks: Observable;
  asksPending: Observable;
  connected: Observable;
  disconnects: Observable;
  members: Observable;
  shardsOwned: Observable;
  shardsPending: Observable;
  shardMoves: Observable;
  durable: Observable;
  taskRuns: Observable;
  taskAttempts: Observable;
  duration: Histogram;
}

function instruments(meter: Meter, prefix: string, buckets: number[]): Instruments {
  const name = (rest: string): string => `${prefix}.${rest}`;
  const int = { valueType: ValueType.INT };
  const counter = (rest: string, unit: string, description: string): Observable =>
    meter.createObservableCounter(name(rest), { unit, description, ...int });
  const updown = (rest: string, unit: string, description: string): Observable =>
    meter.createObservableUpDownCounter(name(rest), { unit, description, ...int });
  const gauge = (rest: string, unit: string, description: string): Observable =>
    meter.createObservableGauge(name(rest), { unit, description, ...int });
  const made = {
    messagesIn: counter('actor.messages.in', '{message}', 'Messages handed to a handler, per actor type'),
    messagesOut: counter(
      'actor.messages.out',
      '{message}',
      'Tells, asks and sends made by handlers, per actor type',
    ),
    failures: counter('actor.failures', '{failure}', 'Handler, init and stop failures, per actor type'),
    restarts: counter('actor.restarts', '{restart}', 'Actor restarts, per actor type'),
    active: updown('actor.active', '{actor}', 'Live actors, per actor type'),
    mailboxDepth: gauge('actor.mailbox.depth', '{message}', 'Messages waiting in mailboxes, per actor type'),
    deadLetters: counter('dead_letters', '{message}', 'Messages not handled, by reason code (error.type)'),
    asks: counter('asks', '{ask}', 'Settled asks, by outcome (and error.type)'),
    asksPending: updown('asks.pending', '{ask}', 'Asks waiting for their reply'),
    connected: gauge('transport.connected', '1', '1 while the connection to the server is up'),
    disconnects: counter('transport.disconnects', '{disconnect}', 'Times the connection went down'),
    members: gauge('cluster.members', '{node}', 'Live cluster members as this node sees them'),
    shardsOwned: gauge('cluster.shards.owned', '{shard}', 'Virtual-actor shards this node holds'),
    shardsPending: gauge(
      'cluster.shards.pending',
      '{shard}',
      'Shards this node was given but has not claimed',
    ),
    shardMoves: counter('cluster.shard.moves', '{shard}', 'Shards claimed and released by this node'),
    durable: counter('durable.messages', '{message}', 'Durable mail stored, delivered, acked, nacked'),
    taskRuns: counter('task.runs', '{run}', 'Task runs by state: enqueued, completed, failed'),
    taskAttempts: counter(
      'task.attempts',
      '{attempt}',
      'Task attempts run by this process, by state: completed, failed, retried',
    ),
  };
  const duration = meter.createHistogram(name('actor.handle.duration'), {
    unit: 's',
    description: 'Time a handler took (to its return or its promise settling), sampled, per actor type',
    advice: { explicitBucketBoundaries: buckets },
  });
  return { ...made, meter, all: Object.values(made), duration };
}

/** Observes one node's figures on the instruments. */
function observe(result: BatchObservableResult, i: Instruments, stats: NodeStats): void {
  const node = { [TroupeAttr.NodeId]: stats.nodeId };
  for (const t of stats.actorTypes) {
    const attrs = { ...node, [TroupeAttr.ActorType]: t.type };
    result.observe(i.messagesIn, t.messagesIn, attrs);
    result.observe(i.messagesOut, t.messagesOut, attrs);
    result.observe(i.failures, t.failures, attrs);
    result.observe(i.restarts, t.restarts, attrs);
    result.observe(i.active, t.active, attrs);
    result.observe(i.mailboxDepth, t.mailboxDepth, attrs);
  }
  for (const [code, count] of Object.entries(stats.deadLetters))
    result.observe(i.deadLetters, count, { ...node, [ErrorAttr.Type]: code });
  for (const [outcome, count] of Object.entries(stats.asks)) {
    const attrs: Attributes =
      outcome === 'ok'
        ? { ...node, [MetricAttr.AskOutcome]: 'ok' }
        : { ...node, [MetricAttr.AskOutcome]: 'error', [ErrorAttr.Type]: outcome };
    result.observe(i.asks, count, attrs);
  }
  result.observe(i.asksPending, stats.asksPending, node);
  const transport = stats.transport;
  if (transport !== undefined) {
    result.observe(i.connected, transport.connected ? 1 : 0, node);
    result.observe(i.disconnects, transport.disconnects, node);
    result.observe(i.members, transport.members, node);
    result.observe(i.shardsOwned, transport.shardsOwned, node);
    result.observe(i.shardsPending, transport.shardsPending, node);
    result.observe(i.shardMoves, transport.shardsClaimed, { ...node, [MetricAttr.ShardMove]: 'claimed' });
    result.observe(i.shardMoves, transport.shardsReleased, { ...node, [MetricAttr.ShardMove]: 'released' });
    for (const [outcome, count] of Object.entries(transport.durable ?? {}))
      result.observe(i.durable, count, { ...node, [MetricAttr.DurableOutcome]: outcome });
  }
  const tasks = stats.tasks;
  if (tasks !== undefined) {
    for (const [task, counts] of Object.entries(tasks.runs))
      for (const [state, count] of Object.entries(counts))
        result.observe(i.taskRuns, count, {
          ...node,
          [TroupeAttr.TaskName]: task,
          [MetricAttr.TaskState]: state,
        });
    for (const [task, counts] of Object.entries(tasks.jobs))
      for (const [state, count] of Object.entries(counts))
        result.observe(i.taskAttempts, count, {
          ...node,
          [TroupeAttr.TaskName]: task,
          [MetricAttr.TaskState]: state,
        });
  }
}

/**
 * Metrics for `createSystem({ metrics: otelMetrics() })`, through the OpenTelemetry metrics API. Every series
 * carries `troupe.node.id`; per-type ones `troupe.actor.type`. One `otelMetrics()` may serve several systems.
 *
 * | name (Prometheus)                                   | kind      | attributes                               |
 * | --------------------------------------------------- | --------- | ---------------------------------------- |
 * | `troupe.actor.messages.in` (`_total`)               | counter   | `troupe.actor.type`                      |
 * | `troupe.actor.messages.out` (`_total`)              | counter   | `troupe.actor.type`                      |
 * | `troupe.actor.failures`, `.restarts` (`_total`)     | counter   | `troupe.actor.type`                      |
 * | `troupe.actor.active`, `troupe.actor.mailbox.depth` | gauge     | `troupe.actor.type`                      |
 * | `troupe.actor.handle.duration` (seconds, no suffix) | histogram | `troupe.actor.type` (sampled)            |
 * | `troupe.dead_letters` (`_total`)                    | counter   | `error.type` (the reason code)           |
 * | `troupe.asks` (`_total`), `troupe.asks.pending`     | counter   | `troupe.ask.outcome`, `error.type`       |
 * | `troupe.transport.connected`, `.disconnects`        | gauge     |                                          |
 * | `troupe.cluster.members`, `.shards.owned/.pending`  | gauge     |                                          |
 * | `troupe.cluster.shard.moves` (`_total`)             | counter   | `troupe.shard.move`: claimed, released   |
 * | `troupe.durable.messages` (`_total`)                | counter   | `troupe.durable.outcome`                 |
 * | `troupe.task.runs`, `troupe.task.attempts`          | counter   | `troupe.task.name`, `troupe.task.state`  |
 *
 * @example
 * const telemetry = await startTelemetryServer({ port: 9464, ready: () => nodeReadiness(system) });
 * const system = await createSystem({ transport, metrics: otelMetrics({ meterProvider: telemetry.meterProvider }) });
 */
export function otelMetrics(options: OtelMetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? 'troupe';
  if (typeof prefix !== 'string' || !/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/.test(prefix))
    throw new InvalidOptionsError('prefix', 'expected lowercase dot-separated words such as "troupe"');
  const sampleEvery = options.handleSampleEvery ?? 128;
  if (!(Number.isInteger(sampleEvery) && sampleEvery >= 0))
    throw new InvalidOptionsError('handleSampleEvery', 'expected an integer >= 0');
  const buckets = options.durationBuckets ?? DEFAULT_DURATION_BUCKETS;
  if (!Array.isArray(buckets) || buckets.some((b) => typeof b !== 'number' || !(b > 0)))
    throw new InvalidOptionsError('durationBuckets', 'expected positive numbers of seconds');
  let made: Instruments | undefined;
  const instrumentsOf = (): Instruments => {
    const provider = options.meterProvider ?? metrics.getMeterProvider();
    made ??= instruments(
      provider.getMeter('troupe'),
      prefix,
      [...buckets].sort((a, b) => a - b),
    );
    return made;
  };
  return {
    attach(source: MetricsSource): MetricsRecorder {
      const i = instrumentsOf();
      const meter = i.meter;
      const callback = (result: BatchObservableResult): void => observe(result, i, source.stats());
      meter.addBatchObservableCallback(callback, i.all);
      const byType = new Map<string, Attributes>();
      return {
        sampleEvery,
        handled(actorType, seconds) {
          let attrs = byType.get(actorType);
          if (attrs === undefined) {
            attrs = { [TroupeAttr.NodeId]: source.nodeId, [TroupeAttr.ActorType]: actorType };
            byType.set(actorType, attrs);
          }
          i.duration.record(seconds, attrs);
        },
        detach() {
          meter.removeBatchObservableCallback(callback, i.all);
        },
      };
    },
  };
}

/**
 * Reports a task runner used without a system (a worker node that runs tasks only) through `metrics`, as
 * node `nodeId`; returns the function that stops it. A runner given to `createSystem({ tasks })` is
 * reported with its system already.
 *
 * @example
 * const stop = attachTaskRunner(otelMetrics({ meterProvider }), runner, 'worker-1');
 */
export function attachTaskRunner(metrics: Metrics, runner: TaskRunner, nodeId: string): () => void {
  const recorder = metrics.attach({
    nodeId,
    stats: () => ({
      nodeId,
      actorTypes: [],
      deadLetters: {},
      asks: {},
      asksPending: 0,
      tasks: runner.stats?.(),
    }),
  });
  return () => recorder.detach();
}
