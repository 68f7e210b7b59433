// Supervisors as actors: they start children from specs, restart them by strategy within an intensity, and
// stop them in reverse order. Nest them to build supervision trees.

import {
  type ActorDefinition,
  type ActorStatus,
  type Children,
  defineActor,
  type Reply,
  type SupervisionOptions,
} from '../runtime/index.js';
import { type BackoffOptions, resolveBackoffOptions } from './backoff.js';
import { type ChildSpec, type ResolvedChildSpec, type RestartType, resolveChildSpec } from './child-spec.js';
import { SupervisorError, SupervisorErrorCode } from './errors.js';
import {
  hooks,
  newState,
  type SupervisorConfig,
  type SupervisorContext,
  type SupervisorState,
  shutDown,
} from './hooks.js';
import { type IntensityOptions, resolveIntensityOptions } from './intensity.js';
import { type StrategyName, type SupervisorStrategy, strategyOf } from './strategy.js';

/** A child as `children` lists it. */
export interface SupervisedChildInfo {
  name: string;
  address: string | undefined;
  /** `stopped` for a child whose spec is kept but that is not running. */
  status: ActorStatus;
  restart: RestartType;
  restarts: number;
}

/** Messages every supervisor answers. `startChild` carries functions, so it works only on the same node. */
export type SupervisorProtocol = {
  children: Reply<SupervisedChildInfo[]>;
  startChild: { spec: ChildSpec } & Reply<string>;
  /** Stops a child (gracefully, then terminated after its shutdown timeout); its spec stays, it is not restarted. */
  stopChild: { name: string } & Reply<boolean>;
  /** Restarts a running child, or starts a stopped one again. */
  restartChild: { name: string } & Reply<boolean>;
  /** Stops a child and forgets its spec. */
  deleteChild: { name: string } & Reply<boolean>;
};

/** Messages of a dynamic supervisor: children from one template, started at run time with arguments. */
export type DynamicSupervisorProtocol<A> = {
  start: { args: A; name?: string } & Reply<string>;
  stopChild: { name: string } & Reply<boolean>;
  children: Reply<SupervisedChildInfo[]>;
};

/** Options shared by both kinds of supervisor. */
export interface SupervisorCommonOptions {
  /** @defaultValue 'supervisor' */
  type?: string;
  /** Restart intensity: more restarts than this within the window and the supervisor escalates. */
  intensity?: IntensityOptions;
  /**
   * Delays between a child's restarts (per child).
   * @defaultValue none: restart at once
   */
  backoff?: BackoffOptions;
  /** The supervisor's own supervision, when it has no supervisor above it. */
  supervision?: SupervisionOptions;
}

/** Options of {@link defineSupervisor}. */
export interface SupervisorOptions extends SupervisorCommonOptions {
  /** @defaultValue 'one-for-one' */
  strategy?: SupervisorStrategy | StrategyName;
  /** Started in order on start and restart; stopped in reverse order. */
  children: ChildSpec[];
}

/** Options of {@link defineDynamicSupervisor}. */
export interface DynamicSupervisorOptions<A> extends SupervisorCommonOptions {
  /** Builds a child's spec from the `start` message's arguments (the name is generated unless given). */
  child: (args: A) => Omit<ChildSpec, 'name'> & { name?: string };
  /**
   * Most children at once; `start` fails with `TOO_MANY_CHILDREN` past it.
   * @defaultValue unlimited
   */
  maxChildren?: number;
}

export type { SupervisorState } from './hooks.js';

type Config = SupervisorConfig;
type Ctx = SupervisorContext;

function infoList(state: SupervisorState, children: Children): SupervisedChildInfo[] {
  return [...state.specs.values()].map((spec) => {
    const child = children.get(spec.name);
    return {
      name: spec.name,
      address: child?.ref.address,
      status: child?.status ?? 'stopped',
      restart: spec.restart,
      restarts: child?.restarts ?? 0,
    };
  });
}

function startAll(ctx: Ctx): void {
  for (const spec of ctx.state.specs.values()) ctx.spawn(spec.actor, spec.spawnOptions);
}

/** Stops a child with its shutdown timeout; answers once it is down (the supervisor keeps working meanwhile). */
function stopChild(ctx: Ctx, name: string, forget: boolean): boolean | undefined {
  const spec = ctx.state.specs.get(name);
  if (spec === undefined) return false;
  if (forget) ctx.state.specs.delete(name);
  const child = ctx.children.get(name);
  if (child === undefined) return true;
  const replier = ctx.deferReply();
  void shutDown(child, spec.shutdownTimeoutMs, ctx.clock).then(() => replier?.reply(true));
  return undefined;
}

function resolveCommon(options: SupervisorCommonOptions): Omit<Config, 'strategy' | 'children'> {
  if (options.type !== undefined && (typeof options.type !== 'string' || options.type.length === 0))
    throw new SupervisorError(
      SupervisorErrorCode.InvalidSpec,
      `type must be a non-empty string, got ${String(options.type)}`,
    );
  resolveIntensityOptions(options.intensity);
  if (options.backoff !== undefined) resolveBackoffOptions(options.backoff);
  return {
    type: options.type ?? 'supervisor',
    intensity: options.intensity ?? {},
    backoff: options.backoff,
  };
}

/**
 * Defines a supervisor: an actor that starts `children` in order, restarts them by `strategy` when they fail
 * (at most `intensity.maxRestarts` within `intensity.withinMs`, else it stops them and fails in turn, for its
 * own supervisor to handle), and stops them in reverse order with a per-child shutdown timeout.
 *
 * @example
 * const app = defineSupervisor({
 *   strategy: 'rest-for-one',
 *   intensity: { maxRestarts: 5, withinMs: 10_000 },
 *   backoff: { minMs: 10, maxMs: 1_000 },
 *   children: [
 *     { name: 'db', actor: dbActor },
 *     { name: 'api', actor: apiActor, restart: 'transient' },
 *   ],
 * });
 * const root = system.spawn(app, { name: 'app' }); // children at app/db and app/api
 */
export function defineSupervisor(
  options: SupervisorOptions,
): ActorDefinition<SupervisorProtocol, SupervisorState> {
  if (typeof options !== 'object' || options === null || !Array.isArray(options.children)) {
    throw new SupervisorError(SupervisorErrorCode.InvalidSpec, 'defineSupervisor: children must be an array');
  }
  const children = options.children.map(resolveChildSpec);
  const names = new Set<string>();
  for (const spec of children) {
    if (names.has(spec.name)) {
      throw new SupervisorError(SupervisorErrorCode.InvalidSpec, `duplicate child name ${spec.name}`);
    }
    names.add(spec.name);
  }
  const config: Config = { ...resolveCommon(options), strategy: strategyOf(options.strategy), children };
  const spec = {
    type: config.type,
    init: (ctx: Ctx): SupervisorState => {
      ctx.state = newState(config);
      startAll(ctx);
      return ctx.state;
    },
    handlers: {
      children: (_m: unknown, ctx: Ctx) => infoList(ctx.state, ctx.children),
      startChild: (m: { spec: ChildSpec }, ctx: Ctx) => {
        // Bad requests fail the ask; they must not crash the supervisor.
        let resolved: ResolvedChildSpec;
        try {
          resolved = resolveChildSpec(m.spec);
        } catch (err) {
          ctx.fail(err);
          return undefined;
        }
        if (ctx.state.specs.has(resolved.name)) {
          ctx.fail(
            new SupervisorError(SupervisorErrorCode.ChildExists, `child ${resolved.name} already exists`),
          );
          return undefined;
        }
        ctx.state.specs.set(resolved.name, resolved);
        return ctx.spawn(resolved.actor, resolved.spawnOptions).address;
      },
      stopChild: (m: { name: string }, ctx: Ctx) => stopChild(ctx, m.name, false),
      deleteChild: (m: { name: string }, ctx: Ctx) => stopChild(ctx, m.name, true),
      restartChild: (m: { name: string }, ctx: Ctx) => {
        const resolved = ctx.state.specs.get(m.name);
        if (resolved === undefined) return false;
        const child = ctx.children.get(m.name);
        if (child !== undefined) child.restart(0, new Error('restartChild'));
        else ctx.spawn(resolved.actor, resolved.spawnOptions);
        return true;
      },
    },
    supervises: hooks(config),
  };
  if (options.supervision !== undefined) Object.assign(spec, { supervision: options.supervision });
  return defineActor<SupervisorProtocol, SupervisorState>(
    spec as unknown as Parameters<typeof defineActor<SupervisorProtocol, SupervisorState>>[0],
  );
}

/**
 * Defines a dynamic supervisor (OTP's simple_one_for_one): no children at first; `start` spawns one from the
 * `child` template with the message's arguments (over NATS too: arguments are data). One-for-one restarts.
 *
 * @example
 * const sessions = defineDynamicSupervisor({ child: (user: string) => ({ actor: session, restart: 'transient' }) });
 * const sup = system.spawn(sessions, { name: 'sessions' });
 * const address = await sup.ask({ type: 'start', args: 'ada', name: 'ada' });
 */
export function defineDynamicSupervisor<A>(
  options: DynamicSupervisorOptions<A>,
): ActorDefinition<DynamicSupervisorProtocol<A>, SupervisorState> {
  if (typeof options?.child !== 'function') {
    throw new SupervisorError(
      SupervisorErrorCode.InvalidSpec,
      'defineDynamicSupervisor: child must be a function',
    );
  }
  const maxChildren = options.maxChildren ?? Number.POSITIVE_INFINITY;
  if (maxChildren !== Number.POSITIVE_INFINITY && !(Number.isInteger(maxChildren) && maxChildren > 0))
    throw new SupervisorError(
      SupervisorErrorCode.InvalidSpec,
      `defineDynamicSupervisor: maxChildren must be a positive integer, got ${String(maxChildren)}`,
    );
  const config: Config = { ...resolveCommon(options), strategy: strategyOf('one-for-one'), children: [] };
  if (options.type === undefined) config.type = 'dynamic-supervisor';
  const spec = {
    type: config.type,
    init: (): SupervisorState => newState(config),
    handlers: {
      children: (_m: unknown, ctx: Ctx) => infoList(ctx.state, ctx.children),
      start: (m: { args: A; name?: string }, ctx: Ctx) => {
        const state = ctx.state;
        // Bad requests fail the ask; they must not crash the supervisor.
        if (state.specs.size >= maxChildren) {
          ctx.fail(
            new SupervisorError(
              SupervisorErrorCode.TooManyChildren,
              `${ctx.self.address} already has ${maxChildren} children`,
            ),
          );
          return undefined;
        }
        let resolved: ResolvedChildSpec;
        try {
          const template = options.child(m.args);
          const name = m.name ?? template.name ?? `c${(state.seq++).toString(36)}`;
          if (state.specs.has(name)) {
            throw new SupervisorError(SupervisorErrorCode.ChildExists, `child ${name} already exists`);
          }
          resolved = resolveChildSpec({ ...template, name });
        } catch (err) {
          ctx.fail(err);
          return undefined;
        }
        state.specs.set(resolved.name, resolved);
        return ctx.spawn(resolved.actor, resolved.spawnOptions).address;
      },
      stopChild: (m: { name: string }, ctx: Ctx) => stopChild(ctx, m.name, true),
    },
    supervises: hooks(config),
  };
  if (options.supervision !== undefined) Object.assign(spec, { supervision: options.supervision });
  return defineActor<DynamicSupervisorProtocol<A>, SupervisorState>(
    spec as unknown as Parameters<typeof defineActor<DynamicSupervisorProtocol<A>, SupervisorState>>[0],
  );
}
