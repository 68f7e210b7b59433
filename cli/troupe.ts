// Entry of the `troupe` command: dispatches to one module per subcommand, loaded only when used.

const USAGE = `troupe: a TypeScript actor runtime for multi-agent systems and worker fleets

Usage:
  troupe demo [--nats URL]            run a small example fleet (embedded by default; over NATS with --nats)
  troupe nodes --nats URL [--json]     list the live nodes of a cluster with their load
  troupe bench [scenario...] [opts]   run the benchmarks next to their raw-library baselines (see troupe bench --help)
  troupe node --redis URL --tasks M   run a worker node for the tasks module M exports (see troupe node --help)
  troupe ps --nats URL [--json]       list every actor with its supervisor, state, restarts and mailbox depth
  troupe ps --tasks --redis URL       show each task queue's waiting, active, delayed, completed and failed jobs
  troupe pause|resume <actor> --nats URL [--subtree]   pause an actor (or subtree) or resume it
  troupe stop|terminate <actor> --nats URL             stop an actor and its subtree gracefully, or now
  troupe help                         show this text
`;

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'demo':
        return await (await import('./demo.js')).main(rest);
      case 'nodes':
        return await (await import('./nodes.js')).main(rest);
      case 'bench':
        return await (await import('../bench/cli.js')).main(rest);
      case 'node':
        return await (await import('./node.js')).main(rest);
      case 'ps':
        return await (await import('./ps.js')).main(rest);
      case 'pause':
      case 'resume':
      case 'stop':
      case 'terminate':
        return await (await import('./control.js')).main(command, rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`troupe: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`troupe ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
