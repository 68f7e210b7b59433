// Starts a private redis-server on a free loopback port, with an fsync-per-write append-only file if asked.

import { type ServerProcess, startProcess } from './server-process.js';

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Reuse a port (to restart a server in place). */
  port?: number;
  /**
   * Append-only file with an fsync per write (`--appendonly yes --appendfsync always`), so what Redis acknowledged
   * survives a restart in place.
   * @defaultValue false
   */
  appendonly?: boolean;
}

/** Starts `redis-server` on a free loopback port in a temporary dir; no persistence unless `appendonly`. */
export function startRedis(options: StartRedisOptions = {}): Promise<ServerProcess> {
  return startProcess(
    'redis-server',
    (port, dir) => [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      dir,
      '--save',
      '',
      ...(options.appendonly === true
        ? ['--appendonly', 'yes', '--appendfsync', 'always']
        : ['--appendonly', 'no']),
    ],
    'redis',
    options.port,
  );
}
