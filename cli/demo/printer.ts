// The demo's narrator: an actor the agents stream their step events to, printing each as one readable line (or
// keeping it for the --json summary).

import type { AgentEventMessage } from '../../agents/index.js';
import { type ActorRef, type ActorSystem, defineActor } from '../../runtime/index.js';

/** One event as the --json summary lists it. */
export interface DemoStep {
  agent: string;
  kind: string;
  runId: string;
  step?: number;
  detail: string;
}

export interface Narrator {
  /** Where agents send their events (`subscribe { to }`). */
  readonly address: string;
  readonly steps: DemoStep[];
  /** Prints a line of the story (nothing with --json). */
  say(line: string): void;
  /** Resolves once an event matching `match` has arrived (or after `timeoutMs`). */
  seen(match: (s: DemoStep) => boolean, timeoutMs?: number): Promise<boolean>;
}

const WIDTH = 100;

export function clip(text: string, max = WIDTH): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function argsOf(json: string): string {
  try {
    const value = JSON.parse(json) as Record<string, unknown>;
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join(', ');
  } catch {
    return json;
  }
}

/** The line an event prints as (undefined: not worth a line, like tokens). */
export function describe(e: AgentEventMessage): string | undefined {
  switch (e.kind) {
    case 'started':
      return e.resumed ? `resumes run ${e.runId} from its journal` : undefined;
    case 'step': {
      if (e.toolCalls.length === 0) return undefined; // the answer shows as `finished`
      const said = e.text.trim() === '' ? '' : `"${clip(e.text, 40)}" `;
      const calls = e.toolCalls.map((c) => `${c.name}(${argsOf(c.arguments)})`).join(', ');
      return `step ${e.step}: ${said}-> ${clip(calls, 80)}`;
    }
    case 'tool':
      return `step ${e.step}: <- ${e.name} ${e.ok ? 'ok' : `failed: ${e.code}`}`;
    case 'approval':
      return `step ${e.step}: ${e.name} awaits approval`;
    case 'config':
      return `step ${e.step}: configured ${JSON.stringify(e.changes)}`;
    case 'finished':
      return `answers: "${clip(typeof e.output === 'string' ? e.output : JSON.stringify(e.output), 84)}"`;
    case 'failed':
      return `run ${e.runId} failed: ${e.code}`;
    default:
      return undefined;
  }
}

/** Spawns the narrator on `system`; `json` keeps the events without printing them. */
export function narrator(system: ActorSystem, json: boolean): Narrator {
  const steps: DemoStep[] = [];
  const waiters: { match: (s: DemoStep) => boolean; resolve: (v: boolean) => void }[] = [];
  const say = (line: string): void => {
    if (!json) process.stdout.write(`${line}\n`);
  };
  const ref: ActorRef<{ agentEvent: AgentEventMessage }> = system.spawn(
    defineActor<{ agentEvent: AgentEventMessage }>({
      type: 'demo-narrator',
      handlers: {
        agentEvent: (msg) => {
          const e = msg as unknown as AgentEventMessage;
          const detail = describe(e);
          if (detail === undefined) return;
          const step: DemoStep = { agent: e.agent, kind: e.kind, runId: e.runId, detail };
          if ('step' in e) step.step = e.step;
          steps.push(step);
          say(`  ${e.agent.padEnd(12)} ${detail}`);
          for (const w of waiters.splice(0)) {
            if (w.match(step)) w.resolve(true);
            else waiters.push(w);
          }
        },
      },
    }),
    { name: 'narrator' },
  );
  return {
    address: ref.address,
    steps,
    say,
    seen(match, timeoutMs = 5000) {
      if (steps.some(match)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiters.push({
          match,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
        });
      });
    },
  };
}
