// Delegation: another agent, reached by address, offered to the model as a tool. `agentTool` asks it and hands
// its answer back as the tool's result; `handoff` passes the conversation on and makes its answer this run's.
// Each delegated run gets a runId derived from the caller's run and call, so a resumed caller re-asks the same
// run (which answers from its own journal) instead of starting a second one.

import { z } from 'zod';
import { InvalidOptionsError } from '../../runtime/index.js';

export interface AgentDelegate {
  readonly kind: 'agent-tool' | 'handoff';
  readonly name: string;
  readonly description: string;
  /** The agent's address (`$v/<type>/<id>` for a virtual agent, or `node/path`). */
  readonly address: string;
  readonly input: z.ZodType;
  /** How long to wait for the other agent's answer. @defaultValue 120000 */
  readonly timeoutMs: number;
}

export interface DelegateOptions {
  name: string;
  description: string;
  timeoutMs?: number;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const agentInput = z.object({ input: z.string().describe('What to ask the agent, in full sentences') });
const handoffInput = z.object({
  reason: z.string().optional().describe('Why the conversation is handed over'),
});

function make(kind: AgentDelegate['kind'], address: string, options: DelegateOptions): AgentDelegate {
  if (typeof address !== 'string' || address.length === 0)
    throw new InvalidOptionsError('address', 'expected an agent address');
  if (typeof options?.name !== 'string' || !TOOL_NAME.test(options.name))
    throw new InvalidOptionsError('name', 'expected a tool name of [a-zA-Z0-9_-], at most 64 characters');
  if (typeof options.description !== 'string')
    throw new InvalidOptionsError('description', 'expected a string');
  return Object.freeze({
    kind,
    name: options.name,
    description: options.description,
    address,
    input: kind === 'agent-tool' ? agentInput : handoffInput,
    timeoutMs: options.timeoutMs ?? 120_000,
  });
}

/** A tool that asks the agent at `address` (its `run`) and returns its answer to the model. */
export function agentTool(address: string, options: DelegateOptions): AgentDelegate {
  return make('agent-tool', address, options);
}

/** A tool that hands the conversation to the agent at `address`: its answer is this run's answer. */
export function handoff(address: string, options: DelegateOptions): AgentDelegate {
  return make('handoff', address, options);
}

export function isDelegate(value: unknown): value is AgentDelegate {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as AgentDelegate).kind === 'agent-tool' || (value as AgentDelegate).kind === 'handoff')
  );
}

/** The runId of the run a call delegates to. */
export function delegatedRunId(runId: string, callId: string): string {
  return `${runId}-${callId.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
}
