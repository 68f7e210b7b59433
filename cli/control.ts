// `troupe pause|resume|stop|terminate <actor>`: lifecycle control of one actor or subtree over NATS.

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type ActorSystem, createSystem, ErrorCode, TroupeError } from '../runtime/index.js';
import { natsTransport } from '../transport/index.js';

export type ControlCommand = 'pause' | 'resume' | 'stop' | 'terminate';

const usage = (
  command: string,
): string => `Usage: troupe ${command} <actor> --nats URL [--namespace NS] [--subtree] [--timeout MS]

<actor> is an address (node/path, as \`troupe ps\` shows it) or a path found on exactly one node.
  pause      stop taking messages (they keep queueing, in order); --subtree pauses its descendants too
  resume     take messages again, first those that queued; --subtree resumes its descendants too
  stop       graceful: finish the current message, stop children, run cleanup (always the whole subtree)
  terminate  now: abort the running handler's signal (always the whole subtree)
`;

/** Opens a short-lived node on NATS for the CLI to talk to the cluster through. */
export async function cliNode(url: string, namespace: string): Promise<ActorSystem> {
  return createSystem({
    nodeId: `cli-${randomBytes(4).toString('hex')}`,
    transport: natsTransport({ servers: url, namespace, connectOptions: { reconnect: false } }),
  });
}

/** The full address for `actor`: as given when its node answers, else the one actor whose path it is. */
async function resolveAddress(system: ActorSystem, actor: string, timeoutMs: number): Promise<string> {
  const all = await system.ps({ timeoutMs });
  if (all.some((info) => info.address === actor)) return actor;
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
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      nats: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      subtree: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '5000' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(usage(command));
    return 0;
  }
  const actor = positionals[0];
  if (!values.nats || actor === undefined || positionals.length > 1) {
    process.stderr.write(`troupe ${command}: one <actor> and --nats URL are required\n\n${usage(command)}`);
    return 2;
  }
  const timeoutMs = Number(values.timeout);
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    process.stderr.write(`troupe ${command}: --timeout must be a positive number of milliseconds\n`);
    return 2;
  }
  const system = await cliNode(values.nats, values.namespace);
  try {
    const address = await resolveAddress(system, actor, Math.min(timeoutMs, 1000));
    const ref = system.ref(address);
    const subtree = values.subtree;
    if (command === 'pause') await system.pause(ref, { subtree });
    else if (command === 'resume') await system.resume(ref, { subtree });
    else if (command === 'stop') await system.stop(ref);
    else await system.terminate(ref);
    const done = { pause: 'paused', resume: 'resumed', stop: 'stopped', terminate: 'terminated' }[command];
    process.stdout.write(
      `${done} ${address}${subtree && command !== 'stop' && command !== 'terminate' ? ' and its subtree' : ''}\n`,
    );
    return 0;
  } finally {
    await system.close();
  }
}
