// The servers a run needs: the URLs given on the command line, or private ones started (and stopped) for the run.

import { type ServerProcess, startNats, startRedis } from '../testing/index.js';
import type { ServerNeed } from './scenario.js';

/** The servers of one run; `stop()` ends the private ones by their PID. */
export interface BenchServers {
  natsUrl: string | undefined;
  redisUrl: string | undefined;
  nats: 'private' | 'external' | null;
  redis: 'private' | 'external' | null;
  /** PIDs of the servers this run started. */
  readonly pids: number[];
  stop(): Promise<void>;
}

/** Options of {@link provideServers}. */
export interface ProvideServersOptions {
  /** Use this NATS URL rather than starting a server. */
  nats?: string | undefined;
  /** Use this Redis URL rather than starting a server. */
  redis?: string | undefined;
}

/**
 * Returns URLs for every server in `needs`: the given ones, else private servers on free 127.0.0.1 ports
 * (nats-server without JetStream; redis-server without persistence).
 *
 * @example
 * const servers = await provideServers(new Set(['nats']));
 * try { ... } finally { await servers.stop(); }
 */
export async function provideServers(
  needs: ReadonlySet<ServerNeed>,
  options: ProvideServersOptions = {},
): Promise<BenchServers> {
  const started: ServerProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(started.map((s) => s.stop()));
  };
  try {
    let natsUrl = options.nats;
    let redisUrl = options.redis;
    if (needs.has('nats') && natsUrl === undefined) {
      const server = await startNats(); // JetStream on: the durable scenarios need it; core NATS paths are unaffected.
      started.push(server);
      natsUrl = server.url;
    }
    if (needs.has('redis') && redisUrl === undefined) {
      const server = await startRedis();
      started.push(server);
      redisUrl = server.url;
    }
    return {
      natsUrl,
      redisUrl,
      nats: options.nats !== undefined ? 'external' : needs.has('nats') ? 'private' : null,
      redis: options.redis !== undefined ? 'external' : needs.has('redis') ? 'private' : null,
      pids: started.map((s) => s.pid),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
