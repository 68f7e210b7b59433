// Reaching NATS and Redis from the CLI: a quick TCP probe first (so an unreachable server is named at once,
// with what to try), a "connecting to …" line when it takes more than a second, and the short-lived node
// client commands talk to the cluster through.

import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { type ActorSystem, createSystem, type Logger, TroupeError } from '../runtime/index.js';
import { natsTransport } from '../transport/index.js';
import type { ResolvedConfig } from './config.js';

const CONNECT_FAILED = 'TRANSPORT_CONNECT_FAILED';
/** After this long without a connection, say what we are waiting for. */
const SLOW_MS = 1000;
/** Longest a probe waits for a TCP connection. */
const PROBE_MS = 4000;

const HINTS = {
  NATS: 'is nats-server running? set --nats or NATS_URL',
  Redis: 'is redis-server running? set --redis or REDIS_URL',
} as const;
type Server = keyof typeof HINTS;

function connectError(server: Server, url: string, reason: string, cause?: unknown): TroupeError {
  return new TroupeError(
    CONNECT_FAILED,
    `could not connect to ${server} at ${url} (${reason}): ${HINTS[server]}`,
    cause === undefined ? {} : { cause },
  );
}

/** Runs `work`, printing "connecting to …" on stderr if it has not settled within a second. */
export async function announced<T>(server: Server, url: string, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(
    () => process.stderr.write(`troupe: connecting to ${server} at ${url}…\n`),
    SLOW_MS,
  );
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once one of the URL's servers accepts a TCP connection; else throws naming the URL and the reason. */
export async function probe(server: Server, url: string): Promise<void> {
  const targets = url.split(',').map((u) => u.trim());
  const reasons: string[] = [];
  for (const target of targets) {
    let host: string;
    let port: number;
    try {
      const parsed = new URL(target);
      host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
      port = Number(parsed.port) || (server === 'NATS' ? 4222 : 6379);
    } catch {
      throw connectError(server, url, `not a URL: ${target}`);
    }
    const reason = await new Promise<string | undefined>((resolve) => {
      const socket = tcpConnect({ host, port });
      const done = (why: string | undefined): void => {
        socket.destroy();
        resolve(why);
      };
      socket.setTimeout(PROBE_MS, () => done(`no answer within ${PROBE_MS} ms`));
      socket.once('connect', () => done(undefined));
      socket.once('error', (err: NodeJS.ErrnoException) =>
        done(err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message)),
      );
    });
    if (reason === undefined) return;
    reasons.push(reason);
  }
  throw connectError(server, url, [...new Set(reasons)].join(', '));
}

/** Probes, then runs `work` (announced when slow); a connection error from `work` is restated with the URL. */
export async function connectTo<T>(server: Server, url: string, work: () => Promise<T>): Promise<T> {
  return announced(server, url, async () => {
    await probe(server, url);
    try {
      return await work();
    } catch (err) {
      if (TroupeError.is(err) && err.code === CONNECT_FAILED && !err.message.includes(url))
        throw connectError(server, url, err.message, err);
      throw err;
    }
  });
}

/** A short-lived node on NATS for a command to talk to the cluster through. */
export function cliNode(config: ResolvedConfig, logger: Logger): Promise<ActorSystem> {
  const { nats, namespace } = config.values;
  return connectTo('NATS', nats, () =>
    createSystem({
      nodeId: `cli-${randomBytes(4).toString('hex')}`,
      logger,
      transport: natsTransport({ servers: nats, namespace, logger, connectOptions: { reconnect: false } }),
    }),
  );
}
