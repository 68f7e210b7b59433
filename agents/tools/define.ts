// `defineTool`: a tool's name, description, zod input schema (the JSON Schema the model sees is derived from it
// once, here), its function or the task that does its work on worker nodes, and the limits that guard it.

import { z } from 'zod';
import type { JsonSchema, ToolDefinition } from '../../models/index.js';
import { InvalidOptionsError, type TaskDefinition } from '../../runtime/index.js';
import { type RateLimit, rateLimitOption } from './rate-limit.js';

/** What a tool's `run` sees. */
export interface ToolContext {
  /** Aborted on the tool's timeout or when the caller gives up: stop work and throw soon after. */
  readonly signal: AbortSignal;
  /** The calling agent. */
  readonly agent: string;
  readonly runId: string;
  /** The model's id of this call. */
  readonly callId: string;
  readonly tenant: string | undefined;
  /** Records what the call cost (USD, or any unit the fleet agrees on) for the audit log; adds up. */
  addCost(amount: number): void;
}

/** What {@link defineTool} takes. `run` is required unless `heavy` does the work. */
export interface ToolSpec<I extends z.ZodType, O> {
  /** What the model calls it: 1-64 of `[a-zA-Z0-9_-]` (OpenAI's rule). */
  name: string;
  /** What the tool does and when to use it: the model reads this. */
  description: string;
  /** The arguments: a zod object schema. The model sees its JSON Schema (input side: defaults are optional). */
  input: I;
  run?: (input: z.output<I>, ctx: ToolContext) => O | Promise<O>;
  /** Scopes an agent needs to be granted to call it (`fs:write`, `payments`). */
  permissions?: readonly string[];
  /** A token bucket per tool (`scope: 'tool'`, the default) or per tool and tenant, shared by the fleet. */
  rateLimit?: RateLimit;
  /** Longest a call may run; past it the signal aborts and the outcome is TOOL_TIMEOUT. @defaultValue none */
  timeoutMs?: number;
  /** Safe to run again with the same input (a resumed run may repeat it rather than trust its journal). */
  idempotent?: boolean;
  /** A human approves each call (or the calls this function picks) before it runs. */
  needsApproval?: boolean | ((input: z.output<I>) => boolean);
  /**
   * Runs the tool as this task on the system's TaskRunner (BullMQ worker nodes), once per call: the job's
   * idempotency key is `<runId>:<callId>`. Its input is the parsed arguments, its output the tool's value.
   */
  heavy?: TaskDefinition<z.output<I>, O>;
  /** Ask the provider to hold the model to the schema exactly (OpenAI strict mode). @defaultValue false */
  strict?: boolean;
}

/** A defined tool: what the registry holds and `executeTool` runs. */
export interface Tool<I = unknown, O = unknown> {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType<I>;
  /** The JSON Schema of the arguments, derived from `input`. */
  readonly parameters: JsonSchema;
  /** What the model is given (models' `ToolDefinition`). */
  readonly definition: ToolDefinition;
  readonly run: ((input: I, ctx: ToolContext) => O | Promise<O>) | undefined;
  readonly permissions: readonly string[];
  readonly rateLimit: Readonly<Required<RateLimit>> | undefined;
  readonly timeoutMs: number | undefined;
  readonly idempotent: boolean;
  readonly needsApproval: boolean | ((input: I) => boolean);
  readonly heavy: TaskDefinition<I, O> | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds tools of every input type
export type AnyTool = Tool<any, unknown>;

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The JSON Schema the model sees for `input`: the input side (fields with defaults are optional), no `$schema`. */
export function parametersOf(name: string, input: z.ZodType): JsonSchema {
  let schema: JsonSchema;
  try {
    schema = z.toJSONSchema(input, { io: 'input' }) as JsonSchema;
  } catch (err) {
    throw new InvalidOptionsError('input', `tool ${name}: ${(err as Error).message}`);
  }
  if (schema.type !== 'object')
    throw new InvalidOptionsError('input', `tool ${name}: the arguments must be an object schema (z.object)`);
  const { $schema: _, ...rest } = schema;
  return rest;
}

/**
 * Defines a tool.
 *
 * @example
 * const weather = defineTool({
 *   name: 'weather',
 *   description: 'Current weather of a city',
 *   input: z.object({ city: z.string() }),
 *   run: async ({ city }, { signal }) => fetchWeather(city, signal),
 *   rateLimit: { capacity: 10, refillPerSec: 1 },
 *   timeoutMs: 5000,
 * });
 */
export function defineTool<I extends z.ZodType, O>(spec: ToolSpec<I, O>): Tool<z.output<I>, O> {
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionsError('tool', 'expected an object');
  const { name, description, input } = spec;
  if (typeof name !== 'string' || !NAME.test(name))
    throw new InvalidOptionsError('name', `expected 1-64 of [a-zA-Z0-9_-], got ${JSON.stringify(name)}`);
  if (typeof description !== 'string') throw new InvalidOptionsError('description', 'expected a string');
  if (!(input instanceof z.ZodType))
    throw new InvalidOptionsError('input', `tool ${name}: expected a zod schema`);
  if (spec.run === undefined && spec.heavy === undefined)
    throw new InvalidOptionsError('run', `tool ${name}: give run, or heavy (a task)`);
  if (spec.run !== undefined && typeof spec.run !== 'function')
    throw new InvalidOptionsError('run', `tool ${name}: expected a function`);
  const permissions = spec.permissions ?? [];
  if (!Array.isArray(permissions) || permissions.some((p) => typeof p !== 'string' || p === ''))
    throw new InvalidOptionsError('permissions', `tool ${name}: expected non-empty strings`);
  const timeoutMs = spec.timeoutMs;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new InvalidOptionsError('timeoutMs', `tool ${name}: expected a positive number`);
  const parameters = parametersOf(name, input);
  const definition: ToolDefinition = {
    name,
    description,
    parameters,
    ...(spec.strict === true ? { strict: true } : {}),
  };
  return Object.freeze({
    name,
    description,
    input: input as z.ZodType<z.output<I>>,
    parameters,
    definition,
    run: spec.run,
    permissions: Object.freeze([...permissions]),
    rateLimit: spec.rateLimit === undefined ? undefined : rateLimitOption(spec.rateLimit, `tool ${name}`),
    timeoutMs,
    idempotent: spec.idempotent === true,
    needsApproval: spec.needsApproval ?? false,
    heavy: spec.heavy,
  });
}

/** Whether a call of `tool` with these (parsed) arguments needs a human's approval first. */
export function needsApproval<I>(tool: Tool<I, unknown>, input: I): boolean {
  const rule = tool.needsApproval;
  return typeof rule === 'function' ? rule(input) === true : rule;
}
