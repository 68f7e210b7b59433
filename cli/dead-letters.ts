// `troupe dead-letters [--follow]`: the recent dead letters of every node (messages nobody handled, and why).

import type { NodeDeadLetter } from '../runtime/index.js';
import { invocation, millis, printJson, table } from './args.js';
import { cliNode } from './connect.js';
import { everyUntilSignal } from './watch.js';

const USAGE = `Usage: troupe dead-letters [--follow [--interval MS]] [--nats URL] [--namespace NS] [--wait MS] [--json]

Prints the recent dead letters of every node of the namespace (each node keeps its last deadLetterBuffer,
1000 by default): when, node, reason code (UNHANDLED, ACTOR_NOT_FOUND, ACTOR_CRASHED, …), address, sender,
the message (trimmed) and the error. With --json: a JSON array (with --follow: one JSON object per line).

Options:
  --follow                 keep polling and print only new dead letters, until Ctrl-C
  --interval MS            polling interval of --follow (default 1000)
  --wait MS                how long nodes have to answer (default 500)
`;

/** Identity of a letter across polls: a node's ring holds the same objects' data, so node + time + address + reason. */
function keyOf(l: NodeDeadLetter): string {
  return `${l.node}\u0000${l.at}\u0000${l.address}\u0000${l.reason}\u0000${JSON.stringify(l.message) ?? ''}`;
}

function rows(letters: NodeDeadLetter[]): string[][] {
  return letters.map((l) => [
    new Date(l.at).toISOString(),
    l.node,
    l.reason,
    l.address,
    l.sender ?? '-',
    (JSON.stringify(l.message) ?? '').slice(0, 60),
    l.error === undefined ? '' : `${l.error.code}: ${l.error.message}`.slice(0, 80),
  ]);
}
const HEAD = ['TIME', 'NODE', 'REASON', 'ADDRESS', 'SENDER', 'MESSAGE', 'ERROR'];

/** Runs `troupe dead-letters`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    { follow: { type: 'boolean' }, interval: { type: 'string' }, wait: { type: 'string' } },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const waitMs = millis(inv.values.wait, '--wait', 500);
  const intervalMs = millis(inv.values.interval, '--interval', 1000);
  const system = await cliNode(inv.config, inv.logger);
  const fetch = async (): Promise<NodeDeadLetter[]> =>
    (await system.clusterDeadLetters({ timeoutMs: waitMs }))
      .filter((l) => l.node !== system.nodeId)
      .sort((a, b) => a.at - b.at);
  try {
    if (inv.values.follow !== true) {
      const letters = await fetch();
      if (inv.json) printJson(letters);
      else if (letters.length === 0) process.stdout.write('no dead letters\n');
      else process.stdout.write(table(HEAD, rows(letters)));
      return 0;
    }
    let seen = new Set<string>();
    let first = true;
    await everyUntilSignal(intervalMs, async () => {
      const current = await fetch();
      const fresh = current.filter((l) => !seen.has(keyOf(l)));
      // What the nodes still hold is all that can come back: the set stays as bounded as their rings. A node
      // that did not answer this round (slow, or gone) keeps its keys, or its letters would print again once
      // it answers.
      const answered = new Set(current.map((l) => l.node));
      seen = new Set([
        ...[...seen].filter((k) => !answered.has(k.slice(0, k.indexOf('\u0000')))),
        ...current.map(keyOf),
      ]);
      if (inv.json) for (const l of fresh) printJson(l);
      else if (fresh.length > 0) {
        // Aligned within a batch; the header once, at the start.
        const text = table(HEAD, rows(fresh));
        process.stdout.write(first ? text : text.slice(text.indexOf('\n') + 1));
        first = false;
      }
    });
    return 0;
  } finally {
    await system.close();
  }
}
