// `troupe nodes`: the live nodes of a cluster with their roles, hosted types and load.

import { parseArgs } from 'node:util';
import { listNatsNodes } from '../transport/index.js';

const USAGE = 'Usage: troupe nodes --nats URL [--namespace NS] [--wait MS] [--json]\n';

/** Runs `troupe nodes`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      wait: { type: 'string', default: '500' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.nats) {
    process.stderr.write(`troupe nodes: --nats URL is required\n${USAGE}`);
    return 2;
  }
  const waitMs = Number(values.wait);
  if (!Number.isFinite(waitMs) || waitMs < 0) {
    process.stderr.write('troupe nodes: --wait must be a number of milliseconds\n');
    return 2;
  }
  {
    const nodes = await listNatsNodes(values.nats, values.namespace, waitMs);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(nodes, null, 2)}\n`);
      return 0;
    }
    if (nodes.length === 0) {
      process.stdout.write(`no nodes answered in namespace ${values.namespace}\n`);
      return 0;
    }
    const rows = [
      ['NODE', 'ACTORS', 'MAILBOX', 'ROLES', 'TYPES'],
      ...nodes.map((n) => [
        n.id,
        String(n.load.actors),
        String(n.load.mailbox),
        n.roles.join(',') || '-',
        n.types.join(',') || '-',
      ]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      process.stdout.write(
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
      );
    return 0;
  }
}
