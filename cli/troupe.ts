// Entry of the `troupe` command: dispatches to one module per subcommand, loaded only when used.

const USAGE = `troupe: a TypeScript actor runtime for multi-agent systems and worker fleets

Usage:
  troupe demo [--nats URL]            run a small example fleet (embedded by default; over NATS with --nats)
  troupe bench [scenario...] [opts]   run the benchmarks next to their raw-library baselines (see troupe bench --help)
  troupe help                         show this text
`;

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'demo':
        return await (await import('./demo.js')).main(rest);
      case 'bench':
        return await (await import('../bench/cli.js')).main(rest);
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
