// Checks an agent spec and resolves it with the kit's parts: defaults, the tool names and delegates it may
// call, its output format.

import { type z, z as zod } from 'zod';
import type { ToolDefinition } from '../../models/index.js';
import { InvalidOptionsError, type MailboxOptions, type SupervisionOptions } from '../../runtime/index.js';
import type { AgentDelegate } from './delegation.js';
import { type AgentMemoryOptions, resolveMemory } from './memory-options.js';
import type { OutputSpec } from './output.js';
import type { KitParts, ResolvedAgent } from './runtime.js';

export interface AgentSpec<O extends z.ZodType | undefined = undefined> {
  /** The agent's name: its actor type, its budget key, its name in logs and the audit log. */
  name: string;
  description?: string;
  /** What it can do, for `registry.find({ capability })` across the fleet. @defaultValue [] */
  capabilities?: readonly string[];
  /** Its price per 1k input and output tokens, as its registry card shows. @defaultValue 0 and 0 */
  costPer1kTokens?: { input: number; output: number };
  /** Episodic and semantic memory recalled before each model call; turns stored per session. @defaultValue none */
  memory?: AgentMemoryOptions;
  /** A model group of the kit's router. */
  model: string;
  instructions: string;
  /** Names of tools in the kit's registry, and other agents as tools ({@link agentTool}, {@link handoff}). */
  tools?: readonly (string | AgentDelegate)[];
  /** Permissions this agent holds: tool names and/or scopes the registry checks. */
  grants?: readonly string[];
  temperature?: number;
  /** Whose budgets the model calls spend. @defaultValue `{ agent: name }` */
  budget?: { agent?: string; team?: string; tenant?: string };
  /**
   * When a run ends with an answer: after `maxSteps` model calls (the last text), when the model calls the tool
   * `onTool` (its arguments, parsed, are the answer; it is not run), or after `deadlineMs` (the last text).
   */
  stop?: { maxSteps?: number; onTool?: string; deadlineMs?: number };
  /** Structured output: the final answer is JSON matching this schema, parsed and validated. */
  output?: O;
  /** Failed tool calls and invalid outputs sent back to the model per run before it fails. @defaultValue 3 */
  maxRepairs?: number;
  /** Resume unfinished runs from the journal's index when the agent starts. @defaultValue true */
  resumeOnStart?: boolean;
  supervision?: SupervisionOptions;
  mailbox?: MailboxOptions;
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const DEFAULT_MAX_REPAIRS = 3;

export function resolveAgent<O extends z.ZodType | undefined>(
  kit: KitParts,
  spec: AgentSpec<O>,
  makeOutput: (name: string, schema: z.ZodType) => OutputSpec,
  isDelegate: (v: unknown) => v is AgentDelegate,
): ResolvedAgent {
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionsError('spec', 'expected an object');
  if (typeof spec.name !== 'string' || !NAME.test(spec.name))
    throw new InvalidOptionsError('name', 'expected 1-64 characters of [a-zA-Z0-9_-]');
  if (typeof spec.model !== 'string' || spec.model === '')
    throw new InvalidOptionsError('model', 'expected a model group of the router');
  if (typeof spec.instructions !== 'string')
    throw new InvalidOptionsError('instructions', 'expected a string');
  const toolNames: string[] = [];
  const delegates = new Map<string, AgentDelegate>();
  for (const [i, t] of (spec.tools ?? []).entries()) {
    if (typeof t === 'string') {
      if (kit.tools?.get(t) === undefined)
        throw new InvalidOptionsError(`tools[${i}]`, `no tool named ${t} in the kit's registry`);
      toolNames.push(t);
    } else if (isDelegate(t)) delegates.set(t.name, t);
    else throw new InvalidOptionsError(`tools[${i}]`, 'expected a tool name, agentTool() or handoff()');
  }
  const stop = spec.stop ?? {};
  for (const key of ['maxSteps', 'deadlineMs'] as const) {
    const v = stop[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new InvalidOptionsError(`stop.${key}`, `expected a positive integer, got ${String(v)}`);
  }
  const maxRepairs = spec.maxRepairs ?? DEFAULT_MAX_REPAIRS;
  if (!(Number.isInteger(maxRepairs) && maxRepairs >= 0))
    throw new InvalidOptionsError('maxRepairs', `expected a non-negative integer, got ${String(maxRepairs)}`);
  const temperature = spec.temperature;
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0 && temperature <= 2))
    throw new InvalidOptionsError('temperature', 'expected a number from 0 to 2');
  let specs: ToolDefinition[] | undefined;
  const config: ResolvedAgent['config'] =
    temperature === undefined
      ? { model: spec.model, instructions: spec.instructions }
      : { model: spec.model, instructions: spec.instructions, temperature };
  const capabilities = spec.capabilities ?? [];
  if (!Array.isArray(capabilities) || capabilities.some((c) => typeof c !== 'string' || c === ''))
    throw new InvalidOptionsError('capabilities', 'expected an array of non-empty strings');
  const cost = spec.costPer1kTokens ?? { input: 0, output: 0 };
  if (!(cost.input >= 0 && cost.output >= 0))
    throw new InvalidOptionsError('costPer1kTokens', 'expected { input, output } prices of 0 or more');
  return Object.freeze({
    name: spec.name,
    card: {
      name: spec.name,
      description: spec.description ?? '',
      capabilities: [...capabilities],
      model: spec.model,
      costPer1kTokens: { input: cost.input, output: cost.output },
    },
    config,
    toolNames,
    delegates,
    grants: [...(spec.grants ?? [])],
    budget: { ...spec.budget },
    stop: { ...stop },
    output: spec.output === undefined ? undefined : makeOutput(spec.name, spec.output),
    maxRepairs,
    resumeOnStart: spec.resumeOnStart ?? true,
    memory: resolveMemory(spec.memory),
    kit,
    toolSpecs(): ToolDefinition[] {
      specs ??= [
        ...(toolNames.length > 0 && kit.tools !== undefined ? kit.tools.specs(toolNames) : []),
        ...[...delegates.values()].map((d) => delegateSpec(d)),
      ];
      return specs;
    },
  });
}

function delegateSpec(d: AgentDelegate): ToolDefinition {
  const parameters = zod.toJSONSchema(d.input) as Record<string, unknown>;
  delete parameters.$schema;
  return { name: d.name, description: d.description, parameters };
}
