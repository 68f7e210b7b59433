// Entry of the `troupe` command: dispatches to one module per subcommand, loaded only when used.

import { readFileSync } from 'node:fs';
import { describeError, printJson, UsageError } from './args.js';

const USAGE = `troupe: a TypeScript actor runtime for multi-agent systems and worker fleets

Usage: troupe <command> [options]      (troupe <command> --help for its options)

Run:
  node --actors M [--tasks M]    run a node: host the actors module M starts, run the tasks modules export
  demo                           four agents, a crash resumed from the journal, a budget stop (offline)
  bench [scenario...]            run the benchmarks next to their raw-library baselines
  load run <test.mjs>            load-test your services: virtual users as actors, over the load nodes
  llm-server [--port P]          an offline OpenAI-compatible model server (scripted replies, faults)
  gateway --port P               serve the fleet over HTTP (agents, graphs, actors, webhooks, SSE streams)
  graph run <def.json>           run a graph from a JSON definition as a durable run (resumable with --nats)
Look:
  ps [--watch] [--tasks]         every actor with its node, supervisor, state, restarts and mailbox depth
  nodes                          the live nodes (and, with --redis, the task workers)
  dead-letters [--follow]        recent dead letters of every node
  config                         the resolved configuration and where each value came from
  audit [--agent A] [--tool T]   the agents' audit log: tool calls and model calls, their outcomes and cost
  agents [--capability C]        the agents' capability cards across the fleet (ranked for a capability)
Act:
  ask <actor> '<json>'           ask an actor and print the reply
  tell <actor> '<json>'          tell an actor a message
  approve <agent> <run> <call>   approve (or --reject) a tool call an agent's run waits on
  pause|resume <actor>           pause an actor (or --subtree) or resume it
  stop|terminate <actor>         stop an actor and its subtree gracefully, or now
  restart <actor>                restart an actor, or bring back a stopped supervised child
  state migrate --from B --to B  copy every actor state between kv, redis and postgres, verified by sha256
  help, --help, --version

Every command reads NATS_URL, REDIS_URL, TROUPE_NAMESPACE, TROUPE_LOG_LEVEL and TROUPE_LOG_FORMAT, an
optional troupe.config.json (or .mjs/.js), and takes --log-level, --log-format and --json.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function dispatch(command: string, rest: string[]): Promise<number | undefined> {
  switch (command) {
    case 'demo':
      return (await import('./demo.js')).main(rest);
    case 'nodes':
      return (await import('./nodes.js')).main(rest);
    case 'bench':
      return (await import('../bench/cli.js')).main(rest);
    case 'load':
      return (await import('./load.js')).main(rest);
    case 'node':
      return (await import('./node.js')).main(rest);
    case 'ps':
      return (await import('./ps.js')).main(rest);
    case 'config':
      return (await import('./show-config.js')).main(rest);
    case 'dead-letters':
      return (await import('./dead-letters.js')).main(rest);
    case 'audit':
      return (await import('./audit.js')).main(rest);
    case 'agents':
      return (await import('./agents.js')).main(rest);
    case 'approve':
      return (await import('./approve.js')).main(rest);
    case 'ask':
    case 'tell':
      return (await import('./message.js')).main(command, rest);
    case 'pause':
    case 'resume':
    case 'stop':
    case 'terminate':
    case 'restart':
      return (await import('./control.js')).main(command, rest);
    case 'llm-server':
      return (await import('./llm-server.js')).main(rest);
    case 'state':
      return (await import('./state.js')).main(rest);
    case 'graph':
      return (await import('./graph.js')).main(rest);
    case 'gateway':
      return (await import('./gateway.js')).main(rest);
    default:
      return undefined;
  }
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`troupe ${version()}\n`);
    return 0;
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  try {
    const code = await dispatch(command, rest);
    if (code !== undefined) return code;
    process.stderr.write(`troupe: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  } catch (err) {
    const { code, message } = describeError(err);
    const usage = err instanceof UsageError;
    process.stderr.write(
      `troupe ${command}: ${usage ? message : `${code}: ${message}`}\n${usage ? `(see troupe ${command} --help)\n` : ''}`,
    );
    if (rest.includes('--json')) printJson({ ok: false, error: { code, message } });
    return usage ? 2 : 1;
  }
}
