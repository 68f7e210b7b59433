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
  const child = spawn(binary, args(chosen, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(child, chosen, name, () => log);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  return {
    url: `${scheme}://127.0.0.1:${chosen}`,
    port: chosen,
    pid: child.pid ?? -1,
    kill: () => {
      child.kill('SIGKILL');
    },
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
}

/** Starts `redis-server` on a free loopback port, no persistence, in a temporary dir. */
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
      '--appendonly',
      'no',
    ],
    'redis',
    options.port,
  );
}
