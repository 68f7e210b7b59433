// A server process started on a free loopback port with a temporary data dir, which stops, restarts and is killed in place.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureServerBinaries, findBinary } from './binaries.js';
import { type Running, spawnServer, terminate } from './child-process.js';
import { freePort, waitForPort } from './ports.js';

/** A server process this code started; `stop()` ends it by its PID and removes its data dir. */
export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Kills the process (SIGKILL): for failure tests. */
  kill(): void;
  /**
   * Restarts the server in place: SIGTERM (SIGKILL after 3 s), wait `downMs` after it exited, then start it
   * again on the same port with the same data dir (a JetStream store survives). `pid` names the new process.
   */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link restartable} needs: the first running process, and how to start and shut down another. */
export interface RestartableOptions {
  /** Names the server in the error of a restart after stop. */
  name: string;
  /** The data dir, removed on stop and kept across restarts. */
  dir: string;
  running: Running;
  launch(): Promise<Running>;
  shutdown(running: Running): Promise<void>;
}

/** The stop and restart of a server, each safe to call while the other runs; `stop()` is idempotent. */
export interface Restartable {
  /** The process running now (a restart replaces it). */
  current(): Running;
  stop(): Promise<void>;
  restart(downMs?: number): Promise<void>;
}

/**
 * Stop and restart in place for a started server: a stop waits for a restart under way, a restart retries the start
 * for about 2 s, and once stopped the data dir is gone and restarts are refused.
 */
export function restartable(options: RestartableOptions): Restartable {
  const { name, dir, launch, shutdown } = options;
  let running = options.running;
  let stopped: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await restarting?.catch(() => undefined);
      await shutdown(running);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const restart = (downMs = 0): Promise<void> => {
    if (stopped !== undefined) return Promise.reject(new Error(`${name} was stopped`));
    restarting ??= (async () => {
      try {
        await shutdown(running);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        // The port may linger for a moment after the old process exited: retry the start briefly.
        for (let attempt = 0; ; attempt++) {
          try {
            running = await launch();
            return;
          } catch (err) {
            if (attempt >= 20) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        restarting = undefined;
      }
    })();
    return restarting;
  };
  return { current: () => running, stop, restart };
}

async function launch(
  name: string,
  binary: string,
  argv: string[],
  port: number,
  ready?: (port: number) => Promise<void>,
): Promise<Running> {
  const { child, exited, output } = spawnServer(binary, argv);
  await waitForPort(child, port, name, output);
  if (ready !== undefined)
    try {
      await ready(port);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready on 127.0.0.1:${port}: ${(err as Error).message}: ${output()}`);
    }
  return { child, exited };
}

/**
 * Starts the server `name` with the arguments `args` gives for its port and data dir, on `port` or a free one;
 * ready once it listens and `custom.ready` (if given) resolves.
 */
export async function startProcess(
  name: string,
  args: (port: number, dir: string) => string[],
  scheme: string,
  port?: number,
  // A binary that is not a system package (chroma from node_modules), and a readiness probe beyond the port.
  custom: { binary?: string; ready?: (port: number) => Promise<void> } = {},
): Promise<ServerProcess> {
  if (custom.binary === undefined) ensureServerBinaries([name]);
  const binary = custom.binary ?? findBinary(name)!;
  const dir = mkdtempSync(join(tmpdir(), `troupe-${name}-`));
  const chosen = port ?? (await freePort());
  const start = (): Promise<Running> => launch(name, binary, args(chosen, dir), chosen, custom.ready);
  let running: Running;
  try {
    running = await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const server = restartable({ name, dir, running, launch: start, shutdown: (r) => terminate(r) });
  return {
    url: `${scheme}://127.0.0.1:${chosen}`,
    port: chosen,
    get pid() {
      return server.current().child.pid ?? -1;
    },
    kill: () => {
      server.current().child.kill('SIGKILL');
    },
    restart: server.restart,
    stop: server.stop,
    [Symbol.asyncDispose]: server.stop,
  };
}
