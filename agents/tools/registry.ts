// The tools of one system: registered once with the scopes they need, offered to each agent as its permissions
// allow, and executed with the system's task runner, a fleet-shared store for rate limits and the audit log.

import type { ToolDefinition } from '../../models/index.js';
import {
  InvalidOptionsError,
  type KeyValueStore,
  type Logger,
  memoryKeyValue,
  type TaskRunner,
} from '../../runtime/index.js';
import { loggerOption } from '../../runtime/internal.js';
import type { AuditLog } from './audit.js';
import type { AnyTool, Tool } from './define.js';
import { ToolError, ToolErrorCode } from './outcome.js';
import { type AgentPermissions, refusal } from './permissions.js';
import { type RateLimit, rateLimitOption, TokenBuckets } from './rate-limit.js';

/** Options of a {@link ToolRegistry}. */
export interface ToolRegistryOptions {
  /**
   * Where the rate limits' token buckets live: `natsKeyValue()` (or any shared store) so a limit holds across
   * the fleet. @defaultValue an in-process store (limits per process)
   */
  kv?: KeyValueStore;
  /** Prefix of the buckets' keys in `kv`. @defaultValue `tools` */
  keyPrefix?: string;
  /** Runs heavy tools: the system's task runner (`system.tasks`), BullMQ for worker nodes. */
  tasks?: TaskRunner | undefined;
  /** Where every call is recorded. */
  audit?: AuditLog | undefined;
  /** A token bucket per tenant across every tool (besides each tool's own). */
  tenantRateLimit?: { capacity: number; refillPerSec: number };
  /** @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })` */
  logger?: Logger;
}

/** A registered tool with the scopes it needs (its own plus the ones given at registration). */
interface Entry {
  readonly tool: AnyTool;
  readonly scopes: readonly string[];
}

const KEY_PREFIX = /^[-_=/a-zA-Z0-9]+(\.[-_=/a-zA-Z0-9]+)*$/;

/**
 * A system's tools. Agents see the tools their permissions allow (`available`), the model gets their JSON
 * Schemas (`specs`), and `executeTool(registry, call, ctx)` runs a call through every check.
 *
 * @example
 * const tools = new ToolRegistry({ tasks: system.tasks, kv: natsKeyValue({ transport }), audit });
 * tools.register(weather);
 * tools.register(deleteFile, ['fs:write']);
 * tools.permit('janitor', { tools: ['deleteFile'], scopes: ['fs:*'] });
 */
export class ToolRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #policies = new Map<string, AgentPermissions>();
  readonly #kv: KeyValueStore;
  readonly #ownsKv: boolean;
  /** @internal */
  readonly buckets: TokenBuckets;
  /** @internal */
  readonly keyPrefix: string;
  readonly tasks: TaskRunner | undefined;
  readonly audit: AuditLog | undefined;
  /** @internal */
  readonly tenantRateLimit: Readonly<Required<RateLimit>> | undefined;
  readonly logger: Logger;

  constructor(options: ToolRegistryOptions = {}) {
    this.#ownsKv = options.kv === undefined;
    this.#kv = options.kv ?? memoryKeyValue();
    this.buckets = new TokenBuckets(this.#kv);
    this.keyPrefix = options.keyPrefix ?? 'tools';
    if (!KEY_PREFIX.test(this.keyPrefix))
      throw new InvalidOptionsError('keyPrefix', 'expected dot-separated [-_=/a-zA-Z0-9] tokens');
    this.tasks = options.tasks;
    this.audit = options.audit;
    this.tenantRateLimit =
      options.tenantRateLimit === undefined
        ? undefined
        : rateLimitOption({ ...options.tenantRateLimit, scope: 'tenant' }, 'tenantRateLimit');
    this.logger = loggerOption(options.logger);
  }

  /** Adds `tool`; `requiredPermissions` are scopes an agent needs besides the tool's own. Names are unique. */
  register(tool: AnyTool, requiredPermissions: readonly string[] = []): this {
    if (
      typeof tool !== 'object' ||
      tool === null ||
      typeof tool.name !== 'string' ||
      tool.definition === undefined
    )
      throw new InvalidOptionsError('tool', 'expected a tool from defineTool()');
    if (this.#entries.has(tool.name))
      throw new InvalidOptionsError('tool', `a tool named ${tool.name} is registered already`);
    if (
      !Array.isArray(requiredPermissions) ||
      requiredPermissions.some((p) => typeof p !== 'string' || p === '')
    )
      throw new InvalidOptionsError('requiredPermissions', 'expected non-empty strings');
    const scopes = [...new Set([...tool.permissions, ...requiredPermissions])];
    this.#entries.set(tool.name, { tool, scopes });
    return this;
  }

  /** Removes a tool; true if it was there. */
  unregister(name: string): boolean {
    return this.#entries.delete(name);
  }

  get(name: string): AnyTool | undefined {
    return this.#entries.get(name)?.tool;
  }

  /** Every registered tool. */
  list(): AnyTool[] {
    return [...this.#entries.values()].map((e) => e.tool);
  }

  /** Sets `agent`'s policy here (its allow-list and granted scopes), on top of what each call brings. */
  permit(agent: string, permissions: AgentPermissions): this {
    this.#policies.set(agent, {
      ...(permissions.tools === undefined ? {} : { tools: [...permissions.tools] }),
      ...(permissions.scopes === undefined ? {} : { scopes: [...permissions.scopes] }),
    });
    return this;
  }

  /**
   * Why `agent` may not call `name`, or undefined when it may. `grants` are the scopes the call brings (the
   * agent's `grants`), `allow` its allow-list of tool names (the agent's `tools`); the registry's policy for the
   * agent narrows the allow-list further and adds its scopes.
   */
  refusal(
    agent: string,
    name: string,
    grants: readonly string[] = [],
    allow?: readonly string[],
  ): string | undefined {
    const entry = this.#entries.get(name);
    if (entry === undefined) return `no tool named ${name}`;
    const policy = this.#policies.get(agent);
    const scopes = policy?.scopes === undefined ? grants : [...grants, ...policy.scopes];
    return refusal(agent, { name, permissions: entry.scopes }, [allow, policy?.tools], scopes);
  }

  /** The tools `agent` may call with `grants` (and, when given, only those of `allow`). */
  available(agent: string, grants: readonly string[] = [], allow?: readonly string[]): Tool[] {
    const out: Tool[] = [];
    for (const [name, entry] of this.#entries)
      if (this.refusal(agent, name, grants, allow) === undefined) out.push(entry.tool);
    return out;
  }

  /** The model's view of the named tools (all of them without `names`); throws TOOL_UNKNOWN for a missing one. */
  specs(names?: readonly string[]): ToolDefinition[] {
    if (names === undefined) return [...this.#entries.values()].map((e) => e.tool.definition);
    return names.map((name) => {
      const entry = this.#entries.get(name);
      if (entry === undefined)
        throw new ToolError(ToolErrorCode.Unknown, `no tool named ${name} is registered`);
      return entry.tool.definition;
    });
  }

  /** Closes the rate-limit store if the registry made it. */
  async close(): Promise<void> {
    if (this.#ownsKv) await this.#kv.close();
  }
}
