// `troupe pause|resume|stop|terminate|restart <actor>`: lifecycle control of one actor (or subtree) over NATS,
// and how an `<actor>` argument becomes an address.

import type { ActorSystem } from '../runtime/index.js';
import { ErrorCode, TroupeError } from '../runtime/index.js';
import { invocation, millis, printJson, UsageError } from './args.js';
import { cliNode } from './connect.js';

export type ControlCommand = 'pause' | 'resume' | 'stop' | 'terminate' | 'restart';

const WHAT: Record<ControlCommand, string> = {
  pause: 'stop taking messages (they keep queueing, in order); --subtree pauses its descendants too',
  resume: 'take messages again, first those that queued; --subtree resumes its descendants too',
  stop: 'graceful: finish the current message, stop children, run cleanup (always the whole subtree)',
  terminate: "now: abort the running handler's signal (always the whole subtree)",
  restart:
    'restart a running actor (init again, same address and mailbox), or bring back a stopped child of a ' +
    'supervisor from the spec it kept (e.g. after troupe stop)',
};

const usage = (
  command: ControlCommand,
): string => `Usage: troupe ${command} <actor> [--nats URL] [--namespace NS]${
  command === 'pause' || command === 'resume' ? ' [--subtree]' : ''
} [--timeout MS] [--json]

  ${command}: ${WHAT[command]}

${ACTOR_HELP}
Options:
${command === 'pause' || command === 'resume' ? '  --subtree                apply to its descendants too\n' : ''}  --timeout MS             how long nodes have to answer (default 5000)
`;

/** How `<actor>` arguments are written, for help texts. */
export const ACTOR_HELP = `<actor> is an address as troupe ps shows it: node/path (e.g. w1/team/a), a path found on exactly one
node (team/a), or a virtual actor as $v/<type>/<id> or <type>:<id> (e.g. counter:c1).
`;

/** The address `actor` names: virtual forms as they are; `node/path` when that node answers; a path on one node. */
export async function resolveAddress(system: ActorSystem, actor: string, timeoutMs: number): Promise<string> {
  if (actor.startsWith('$v/')) return actor;
  const colon = actor.indexOf(':');
  if (colon > 0 && !actor.includes('/')) return `$v/${actor.slice(0, colon)}/${actor.slice(colon + 1)}`;
  const waitMs = Math.min(timeoutMs, 1000);
  const slash = actor.indexOf('/');
  const nodes = new Set(await system.transport?.nodes?.(waitMs));
  // node/path on a node that answers (the actor may not be running: e.g. a stopped child to restart).
  if (slash > 0 && nodes.has(actor.slice(0, slash))) return actor;
  const all = await system.ps({ timeoutMs: waitMs });
  const matches = all.filter((info) => info.address.slice(info.address.indexOf('/') + 1) === actor);
  if (matches.length === 1) return matches[0]!.address;
  if (matches.length > 1) {
    throw new TroupeError(
      ErrorCode.InvalidName,
      `${actor} is on several nodes (${matches.map((m) => m.address).join(', ')}): give node/path`,
    );
  }
  throw new TroupeError(ErrorCode.ActorNotFound, `no actor ${actor} answered (see troupe ps)`);
}

/** Runs one control command; resolves with the exit code. */
export async function main(command: ControlCommand, argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    { subtree: { type: 'boolean' }, timeout: { type: 'string' } },
    usage(command),
  );
  if (typeof inv === 'number') return inv;
  const actor = inv.positionals[0];
  if (actor === undefined || inv.positionals.length > 1) throw new UsageError('expected one <actor>');
  const timeoutMs = millis(inv.values.timeout, '--timeout', 5000);
  const subtree = inv.values.subtree === true && (command === 'pause' || command === 'resume');
  const system = await cliNode(inv.config, inv.logger);
  try {
    const address = await resolveAddress(system, actor, timeoutMs);
    const ref = system.ref(address);
    if (command === 'pause') await system.pause(ref, { subtree });
    else if (command === 'resume') await system.resume(ref, { subtree });
    else if (command === 'stop') await system.stop(ref);
    else if (command === 'terminate') await system.terminate(ref);
    else await system.restart(ref);
    const done = {
      pause: 'paused',
      resume: 'resumed',
      stop: 'stopped',
      terminate: 'terminated',
      restart: 'restarted',
    }[command];
    if (inv.json) printJson({ ok: true, command, address, ...(subtree && { subtree }) });
    else process.stdout.write(`${done} ${address}${subtree ? ' and its subtree' : ''}\n`);
    return 0;
  } finally {
    await system.close();
  }
}
