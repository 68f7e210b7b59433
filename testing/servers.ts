// Starts private nats-server and redis-server processes on free loopback ports, for tests and benchmarks.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

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

/** Where a binary is on PATH (plus the sbin folders Debian installs servers to), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const PACKAGES: Record<string, string> = { 'nats-server': 'nats-server', 'redis-server': 'redis-server' };

/**
 * Servers started and not yet stopped. If this process ends without stopping them (a crash, a closed pipe),
 * an exit hook kills them, so no test or benchmark leaves a server behind.
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * Makes sure the server binaries exist. On Debian as root, missing ones are installed with apt-get; elsewhere
 * this throws an error that names exactly what to install.
 */
export function ensureServerBinaries(names: string[] = ['nats-server', 'redis-server']): void {
  const missing = names.filter((name) => !findBinary(name));
  if (missing.length === 0) return;
  const packages = missing.map((name) => PACKAGES[name] ?? name);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/etc/debian_version') && findBinary('apt-get')) {
    process.stderr.write(`troupe: installing ${packages.join(', ')} from Debian's packages...\n`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const still = names.filter((name) => !findBinary(name));
    if (still.length === 0) return;
    throw new Error(`troupe: ${still.join(', ')} still missing after apt-get install`);
  }
  throw new Error(
    `troupe: the tests need ${missing.join(' and ')} on PATH. Install them: on Debian/Ubuntu ` +
      `\`sudo apt-get install ${packages.join(' ')}\`; on macOS \`brew install ${packages
        .map((p) => (p === 'redis-server' ? 'redis' : p))
        .join(' ')}\`; or see https://nats.io and https://redis.io for binaries.`,
  );
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(
  child: ChildProcess,
  port: number,
  name: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within 10 s: ${output()}`);
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launch(name: string, binary: string, argv: string[], port: number): Promise<Running> {
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(child, port, name, () => log);
  return { child, exited };
}

async function terminate(running: Running): Promise<void> {
  const { child, exited } = running;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

async function startProcess(
  name: string,
  args: (port: number, dir: string) => string[],
  scheme: string,
  port?: number,
): Promise<ServerProcess> {
  ensureServerBinaries([name]);
  const binary = findBinary(name)!;
  const dir = mkdtempSync(join(tmpdir(), `troupe-${name}-`));
  const chosen = port ?? (await freePort());
  let running: Running;
  try {
    running = await launch(name, binary, args(chosen, dir), chosen);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await restarting?.catch(() => undefined);
      await terminate(running);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const restart = (downMs = 0): Promise<void> => {
    if (stopped !== undefined) return Promise.reject(new Error(`${name} was stopped`));
    restarting ??= (async () => {
      try {
        await terminate(running);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        // The port may linger for a moment after the old process exited: retry the start briefly.
        for (let attempt = 0; ; attempt++) {
          try {
            running = await launch(name, binary, args(chosen, dir), chosen);
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
  return {
    url: `${scheme}://127.0.0.1:${chosen}`,
    port: chosen,
    get pid() {
      return running.child.pid ?? -1;
    },
    kill: () => {
      running.child.kill('SIGKILL');
    },
    restart,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** @defaultValue true */
  jetstream?: boolean;
  /** Reuse a port (to restart a server in place). */
  port?: number;
}

/** Starts `nats-server` (with JetStream by default) on a free loopback port with a temporary store. */
export function startNats(options: StartNatsOptions = {}): Promise<ServerProcess> {
  return startProcess(
    'nats-server',
    (port, dir) => [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      ...(options.jetstream === false ? [] : ['-js', '-sd', dir]),
    ],
    'nats',
    options.port,
  );
}

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
