// The demo's fleet: four agents (coordinator, planner, knowledge, executor), their tools (a price table, and a
// cost computation that runs as a task), and the scripted replies the offline model server gives each of them.

import { z } from 'zod';
import {
  type AgentDefinition,
  type AgentKit,
  type AuditLog,
  agentTool,
  defineTool,
  ToolRegistry,
} from '../../agents/index.js';
import { defineTask, type Logger, type TaskRunner } from '../../runtime/index.js';
import type { LlmChatRequest, LlmReply, LlmServer } from '../../testing/index.js';

export const QUESTION =
  'What would it cost per month to run 10,000 agents on gpt-4o-mini, each making 20 calls a day?';

/** Model calls the scripted run makes without a crash: coordinator 4, planner 1, knowledge 2, executor 2. */
export const CRASH_FREE_MODEL_CALLS = 9;

/** The agents' model groups, and the model each is scripted under on the offline server. */
export const GROUPS = ['coordinator', 'planner', 'knowledge', 'executor'] as const;
export const scriptedModel = (group: string): string => `demo-${group}`;

const PRICES: Record<string, { inputPer1M: number; outputPer1M: number }> = {
  'gpt-4o-mini': { inputPer1M: 0.15, outputPer1M: 0.6 },
  'gpt-4o': { inputPer1M: 2.5, outputPer1M: 10 },
};

const costInput = z.object({
  agents: z.number().int().positive(),
  callsPerDay: z.number().positive(),
  inputTokens: z.number().positive().describe('input tokens per call'),
  outputTokens: z.number().positive().describe('output tokens per call'),
  inputPer1M: z.number().nonnegative(),
  outputPer1M: z.number().nonnegative(),
});
type CostInput = z.output<typeof costInput>;
type CostOutput = { callsPerMonth: number; tokensPerMonth: number; monthlyUsd: number };

/**
 * Called when the cost task starts (attempt `runs`); the demo crashes a node during the first one. The task
 * runs in this process (the embedded pool, or this process as the BullMQ worker node).
 */
export const taskHooks: { onStart?: ((runs: number) => Promise<void> | void) | undefined; runs: number } = {
  runs: 0,
};

/** The heavy tool's work, as a task: it runs on the task pool or on BullMQ worker nodes, once per call. */
export const computeCost = defineTask<CostInput, CostOutput>(
  'demo-compute-cost',
  async (input) => {
    taskHooks.runs++;
    await taskHooks.onStart?.(taskHooks.runs);
    const callsPerMonth = input.agents * input.callsPerDay * 30;
    const usd =
      (callsPerMonth * input.inputTokens * input.inputPer1M +
        callsPerMonth * input.outputTokens * input.outputPer1M) /
      1e6;
    return {
      callsPerMonth,
      tokensPerMonth: callsPerMonth * (input.inputTokens + input.outputTokens),
      monthlyUsd: Math.round(usd * 100) / 100,
    };
  },
  { concurrency: 4, attempts: 1, timeoutMs: 30_000 },
);

/** The fleet's tools: `lookup_price` runs in the agent; `compute_cost` runs as a task on `tasks`. */
export function demoTools(tasks: TaskRunner, audit: AuditLog, logger: Logger): ToolRegistry {
  return new ToolRegistry({ tasks, audit, logger })
    .register(
      defineTool({
        name: 'lookup_price',
        description: "A model's list price in USD per million input and output tokens",
        input: z.object({ model: z.string() }),
        idempotent: true,
        run: ({ model }) => {
          const price = PRICES[model];
          if (price === undefined) throw new Error(`no price known for ${model}`);
          return { model, ...price };
        },
      }),
    )
    .register(
      defineTool({
        name: 'compute_cost',
        description: 'Computes the monthly cost of a fleet of agents from its call volume and prices',
        input: costInput,
        heavy: computeCost,
      }),
    );
}

/** Where each agent lives (addresses), so the coordinator can ask the others. */
export interface FleetAddresses {
  planner: string;
  knowledge: string;
  executor: string;
}

/** The four agents, defined on `kit`. */
export function demoAgents(
  kit: AgentKit,
  at: FleetAddresses,
  extra: { knowledge?: Partial<Parameters<AgentKit['defineAgent']>[0]> } = {},
): Record<(typeof GROUPS)[number], AgentDefinition> {
  return {
    coordinator: kit.defineAgent({
      name: 'coordinator',
      model: 'coordinator',
      instructions:
        'You coordinate a team. Ask the planner for a plan, the knowledge agent for facts and the executor for ' +
        'computations, one at a time, then answer the user in two sentences.',
      tools: [
        agentTool(at.planner, { name: 'ask_planner', description: 'Asks the planner agent for a plan' }),
        agentTool(at.knowledge, {
          name: 'ask_knowledge',
          description: 'Asks the knowledge agent a factual question (it can look prices up)',
        }),
        agentTool(at.executor, {
          name: 'ask_executor',
          description: 'Asks the executor agent to compute something (it runs the heavy computation)',
        }),
      ],
      stop: { maxSteps: 8 },
    }),
    planner: kit.defineAgent({
      name: 'planner',
      model: 'planner',
      instructions: 'Write a short numbered plan (at most three steps) for the task you are given.',
    }),
    knowledge: kit.defineAgent({
      name: 'knowledge',
      model: 'knowledge',
      instructions: 'Answer factual questions briefly. Use lookup_price for model prices.',
      tools: ['lookup_price'],
      grants: ['lookup_price'],
      stop: { maxSteps: 4 },
      ...extra.knowledge,
    }),
    executor: kit.defineAgent({
      name: 'executor',
      model: 'executor',
      instructions:
        'Compute what you are asked with compute_cost (assume 500 input and 200 output tokens per call) and ' +
        'state the result.',
      tools: ['compute_cost'],
      grants: ['compute_cost'],
      stop: { maxSteps: 4 },
    }),
  };
}

const toolResults = (req: LlmChatRequest) => req.messages.filter((m) => m.role === 'tool');
const textOf = (m: { content: unknown } | undefined): string =>
  typeof m?.content === 'string' ? m.content : JSON.stringify(m?.content ?? '');
/** The n-th tool result's text, parsed when it is JSON. */
function resultOf(req: LlmChatRequest, n: number): unknown {
  const text = textOf(toolResults(req)[n]);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Scripts each agent's model on the offline server. Every reply is a function of the conversation so far, so the
 * same request always gets the same answer (a repeated call would show as a repeated request).
 */
export function scriptFleet(server: LlmServer): void {
  const script = (group: string, fn: (req: LlmChatRequest) => LlmReply) =>
    server.script(scriptedModel(group), fn);
  script('coordinator', (req) => {
    switch (toolResults(req).length) {
      case 0:
        return {
          text: 'First, a plan.',
          toolCalls: [{ id: 'c1', name: 'ask_planner', arguments: { input: QUESTION } }],
        };
      case 1:
        return {
          toolCalls: [
            {
              id: 'c2',
              name: 'ask_knowledge',
              arguments: { input: 'What does gpt-4o-mini cost per million input and output tokens?' },
            },
          ],
        };
      case 2:
        return {
          toolCalls: [
            {
              id: 'c3',
              name: 'ask_executor',
              arguments: {
                input: `Monthly cost of 10,000 agents making 20 calls a day each, at these prices: ${textOf(toolResults(req)[1])}`,
              },
            },
          ],
        };
      default:
        return `About ${String(resultOf(req, 2)).replace(/^The fleet costs /, '')} That is 6 million calls a month; the price came from the knowledge agent and the sum from a task on a worker.`;
    }
  });
  script(
    'planner',
    () => '1. Look up the price of gpt-4o-mini. 2. Compute the monthly cost of the calls. 3. Summarise.',
  );
  script('knowledge', (req) => {
    if (toolResults(req).length === 0)
      return { toolCalls: [{ id: 'k1', name: 'lookup_price', arguments: { model: 'gpt-4o-mini' } }] };
    const p = resultOf(req, 0) as { inputPer1M: number; outputPer1M: number };
    return `gpt-4o-mini costs $${p.inputPer1M} per million input tokens and $${p.outputPer1M} per million output tokens.`;
  });
  script('executor', (req) => {
    if (toolResults(req).length === 0)
      return {
        toolCalls: [
          {
            id: 'x1',
            name: 'compute_cost',
            arguments: {
              agents: 10_000,
              callsPerDay: 20,
              inputTokens: 500,
              outputTokens: 200,
              inputPer1M: 0.15,
              outputPer1M: 0.6,
            },
          },
        ],
      };
    const r = resultOf(req, 0) as CostOutput;
    return `The fleet costs $${r.monthlyUsd.toLocaleString('en-US')} a month (${r.callsPerMonth.toLocaleString('en-US')} calls, ${(r.tokensPerMonth / 1e9).toFixed(1)} billion tokens).`;
  });
}
