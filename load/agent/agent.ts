// The load agent: the actor on every load node (`<nodeId>/troupe-load`) that runs its share of each run.

import {
  type ActorDefinition,
  type ActorRef,
  type ActorSystem,
  defineActor,
  systemClock,
} from '../../runtime/index.js';
import { LoadError, LoadErrorCode } from '../errors.js';
import { type LoadCaps, loadCapsFromEnv } from '../executors/caps.js';
import { executorMaxRatePerSec, executorMaxVus, isOpenModel } from '../executors/profile.js';
import { assertWithinCaps, validateExecutor } from '../executors/validate.js';
import { assertObject, intField, invalid, numberField } from '../fields.js';
import type { LoadMetricsHook } from '../metrics/hook.js';
import { NodeRun, type VuSpawner } from './node-run.js';
import { LOAD_AGENT_NAME, type LoadAgentProtocol, type NodeSnapshot, type RunPlan } from './protocol.js';

/** Options of {@link loadAgent} and {@link startLoadAgent}. */
export interface LoadAgentOptions {
  /** This node's hard caps; a plan whose share is above them is refused (LOAD_OVER_CAP). @defaultValue from the environment (TROUPE_LOAD_MAX_VUS, TROUPE_LOAD_MAX_RATE) */
  caps?: LoadCaps;
  /** Where shipped modules are written (`<cacheDir>/.troupe/load/<sha256>.mjs`). @defaultValue process.cwd() */
  cacheDir?: string;
  /** Told of every latency and count (OpenTelemetry: telemetry's `otelLoadMetrics`). */
  metricsHook?: LoadMetricsHook;
  /**
   * When set, every `request` latency (integer µs, exactly as recorded) is appended as one line to
   * `<dir>/<runId>-<node>.txt`, flushed at the end, to check merged percentiles from outside.
   * @defaultValue env TROUPE_LOAD_SAMPLES_DIR
   */
  samplesDir?: string;
  /** The node's system (targets such as `actor()` reach actors through it). {@link startLoadAgent} sets it. */
  system?: ActorSystem;
}

/** How long a finished run's final snapshot stays available to late `snapshot`/`stop` asks. */
const KEEP_FINISHED_MS = 5 * 60_000;

/** A high-resolution epoch clock (the runtime's clock is in whole ms); a manual clock is used as is. */
function nowOf(system: ActorSystem): () => number {
  if (system.clock !== systemClock) return () => system.clock.now();
  const origin = performance.timeOrigin;
  return () => origin + performance.now();
}

/**
 * The load agent's definition. Runs are kept per `runId`; a run stops by itself at its end, when its coordinator
 * is silent for `deadManMs`, or on `stop`.
 *
 * @example
 * system.spawn(loadAgent({ system }), { name: LOAD_AGENT_NAME });
 */
export function loadAgent(options: LoadAgentOptions = {}): ActorDefinition<LoadAgentProtocol, undefined> {
  const caps = options.caps ?? loadCapsFromEnv(process.env);
  const samplesDir = options.samplesDir ?? (process.env.TROUPE_LOAD_SAMPLES_DIR || undefined);
  const runs = new Map<string, NodeRun>();
  const find = (runId: string): NodeRun => {
    const run = runs.get(runId);
    if (run === undefined)
      throw new LoadError(LoadErrorCode.UnknownRun, `no run ${runId} on this node`, { data: { runId } });
    return run;
  };
  return defineActor<LoadAgentProtocol, undefined>({
    type: 'load-agent',
    handlers: {
      start: async (message, ctx) => {
        try {
          const system = options.system;
          if (system === undefined)
            throw invalid(
              'system',
              'the load agent needs its node system (use startLoadAgent, or loadAgent({ system }))',
            );
          const plan = checkPlan(message.plan, caps);
          const node = system.nodeId;
          if (runs.has(plan.runId)) return { node };
          const spawner: VuSpawner = {
            spawn: (_slot, definition, name) => ctx.spawn(definition, { name }),
            stop: (ref) => ctx.stop(ref),
          };
          const run = await NodeRun.open({
            plan,
            node,
            system,
            spawner,
            now: nowOf(system),
            ...(options.cacheDir !== undefined && { cacheDir: options.cacheDir }),
            ...(options.metricsHook !== undefined && { metricsHook: options.metricsHook }),
            ...(samplesDir !== undefined && { samplesDir }),
            onDone: () => {
              system.clock.setTimeout(() => {
                if (runs.get(plan.runId) === run) runs.delete(plan.runId);
              }, KEEP_FINISHED_MS);
            },
          });
          runs.set(plan.runId, run);
          run.begin();
          return { node };
        } catch (error) {
          ctx.fail(error);
          return undefined;
        }
      },
      assign: (message, ctx) => {
        try {
          const run = find(message.runId);
          const slots = checkSlots(message.slots, run.plan.slotCount, 'slots');
          checkShare(run.plan, slots, caps);
          run.assign(slots);
          return { node: run.node };
        } catch (error) {
          ctx.fail(error);
          return undefined;
        }
      },
      snapshot: (message, ctx): NodeSnapshot | undefined => {
        try {
          const run = find(message.runId);
          run.heard();
          return run.snapshot();
        } catch (error) {
          ctx.fail(error);
          return undefined;
        }
      },
      stop: async (message, ctx) => {
        try {
          return await find(message.runId).stop();
        } catch (error) {
          ctx.fail(error);
          return undefined;
        }
      },
    },
    onStop: async () => {
      await Promise.allSettled([...runs.values()].map((run) => run.stop()));
      runs.clear();
    },
  });
}

/**
 * Spawns the load agent on `system` as {@link LOAD_AGENT_NAME} (`<nodeId>/troupe-load`) and returns its ref.
 *
 * @example
 * const agent = startLoadAgent(system);
 * await agent.ask({ type: 'start', plan });
 */
export function startLoadAgent(
  system: ActorSystem,
  options: LoadAgentOptions = {},
): ActorRef<LoadAgentProtocol> {
  return system.spawn(loadAgent({ ...options, system }), { name: LOAD_AGENT_NAME });
}

/** Checks a plan from the wire and the node's share of it against the caps. */
function checkPlan(plan: RunPlan, caps: LoadCaps): RunPlan {
  assertObject(plan, 'plan');
  if (typeof plan.runId !== 'string' || plan.runId === '')
    throw invalid('plan.runId', 'expected a non-empty string');
  validateExecutor(plan.executor, undefined, 'plan.executor');
  intField(plan.slotCount, 'plan.slotCount', 1);
  checkSlots(plan.slots, plan.slotCount, 'plan.slots');
  numberField(plan.startAt, 'plan.startAt', 0);
  const deadManMs = plan.deadManMs ?? 5000;
  numberField(deadManMs, 'plan.deadManMs', 0, true);
  assertObject(plan.module, 'plan.module');
  const checked = { ...plan, deadManMs };
  checkShare(checked, plan.slots, caps);
  return checked;
}

function checkSlots(slots: unknown, slotCount: number, field: string): number[] {
  if (!Array.isArray(slots)) throw invalid(field, 'expected an array of slot numbers');
  slots.forEach((s, i) => {
    intField(s, `${field}[${i}]`, 0);
    if ((s as number) >= slotCount)
      throw invalid(`${field}[${i}]`, `expected a slot below slotCount ${slotCount}, got ${s}`);
  });
  return slots as number[];
}

/** The node's share: closed, one VU per slot; open, its slots' part of the VUs and of the rate. */
function checkShare(plan: RunPlan, slots: number[], caps: LoadCaps): void {
  const spec = plan.executor;
  const part = slots.length / plan.slotCount;
  if (isOpenModel(spec)) {
    assertWithinCaps(spec, caps, Math.ceil(executorMaxVus(spec) * part), executorMaxRatePerSec(spec) * part);
  } else {
    assertWithinCaps(spec, caps, slots.length, 0);
  }
}
