// `npm run chaos -- [--minutes N] [--only name,name] [--short]`: runs the fault-injection suite and prints its table.

import { scenarios } from './scenarios/index.js';
import type { ChaosSummary } from './summary.js';
import { formatSummaries, violations } from './summary.js';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Runs the suite; exit code 1 when any scenario broke a promise (loss, reorder, crash, unsettled call). */
export async function main(argv: string[]): Promise<number> {
  const minutes = Number(arg(argv, '--minutes') ?? '1');
  if (!(Number.isFinite(minutes) && minutes > 0 && minutes <= 600)) {
    process.stderr.write(`chaos: --minutes takes a number from 0 to 600, got ${String(minutes)}\n`);
    return 2;
  }
  const only = arg(argv, '--only')?.split(',');
  const chosen = only ? scenarios.filter((s) => only.includes(s.name)) : scenarios;
  if (only && chosen.length !== only.length) {
    process.stderr.write(
      `chaos: unknown scenario in ${only.join(',')}; have ${scenarios.map((s) => s.name).join(', ')}\n`,
    );
    return 2;
  }
  const short = argv.includes('--short');
  const summaries: ChaosSummary[] = [];
  let failed = 0;
  for (const scenario of chosen) {
    process.stdout.write(`\n== ${scenario.name}: ${scenario.description}\n`);
    const summary = await scenario.run({
      short,
      minutes: minutes / chosen.length,
      log: (line) => process.stdout.write(`   ${line}\n`),
    });
    summaries.push(summary);
    const broken = violations(summary);
    if (broken.length > 0) {
      failed++;
      process.stdout.write(`   BROKEN: ${broken.join('; ')}\n`);
    }
  }
  process.stdout.write(`\n${formatSummaries(summaries)}\n`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
