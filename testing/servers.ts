// Starts private nats-server and redis-server processes on free loopback ports, for tests and benchmarks.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

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

async function launch(
  name: string,
  binary: string,
  argv: string[],
  port: number,
  ready?: (port: number) => Promise<void>,
): Promise<Running> {
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
  if (ready !== undefined)
    try {
      await ready(port);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready on 127.0.0.1:${port}: ${(err as Error).message}: ${log}`);
    }
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
  // A binary that is not a system package (chroma from node_modules), and a readiness probe beyond the port.
  custom: { binary?: string; ready?: (port: number) => Promise<void> } = {},
): Promise<ServerProcess> {
  if (custom.binary === undefined) ensureServerBinaries([name]);
  const binary = custom.binary ?? findBinary(name)!;
  const dir = mkdtempSync(join(tmpdir(), `troupe-${name}-`));
  const chosen = port ?? (await freePort());
  let running: Running;
  try {
    running = await launch(name, binary, args(chosen, dir), chosen, custom.ready);
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
            running = await launch(name, binary, args(chosen, dir), chosen, custom.ready);
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
  /** Require this user and password (`--user`, `--pass`); give `pass` with it. */
  user?: string;
  pass?: string;
  /** Require this token (`--auth`). */
  token?: string;
  /** Accept only these nkey users (public keys, `U…`): written to a config file the server reads. */
  nkeys?: string[];
  /**
   * More server configuration (nats-server's config syntax), e.g. `operator:` and `resolver:` for creds-file
   * (JWT) auth: written to the config file the server reads.
   */
  config?: string;
  /**
   * Serve TLS only, with this certificate and key; with `caFile` and `verify`, clients must show a certificate
   * that CA signed.
   */
  tls?: { certFile: string; keyFile: string; caFile?: string; verify?: boolean };
}

/** The auth and TLS arguments of {@link startNats}; an nkey user list goes to a config file in `dir`. */
function natsSecurityArgs(options: StartNatsOptions, dir: string): string[] {
  const given = [options.user, options.token, options.nkeys].filter((o) => o !== undefined);
  if (given.length > 1) throw new Error('startNats: give at most one of user, token, nkeys');
  const args: string[] = [];
  if (options.user !== undefined) args.push('--user', options.user, '--pass', options.pass ?? '');
  if (options.token !== undefined) args.push('--auth', options.token);
  const config: string[] = [];
  if (options.nkeys !== undefined) {
    const users = options.nkeys.map((k) => `    { nkey: ${JSON.stringify(k)} }`).join('\n');
    config.push(`authorization {\n  users = [\n${users}\n  ]\n}\n`);
  }
  if (options.config !== undefined) config.push(options.config);
  if (config.length > 0) {
    const file = join(dir, 'server.conf');
    writeFileSync(file, config.join('\n'));
    args.push('-c', file);
  }
  const { tls } = options;
  if (tls !== undefined) {
    args.push('--tls', '--tlscert', tls.certFile, '--tlskey', tls.keyFile);
    if (tls.caFile !== undefined) args.push('--tlscacert', tls.caFile);
    if (tls.verify === true) args.push('--tlsverify');
  }
  return args;
}

/**
 * Starts `nats-server` (with JetStream by default) on a free loopback port with a temporary store; with
 * `user`/`token`/`nkeys` it requires those credentials, with `tls` it serves TLS only.
 */
export function startNats(options: StartNatsOptions = {}): Promise<ServerProcess> {
  return startProcess(
    'nats-server',
    (port, dir) => [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      ...(options.jetstream === false ? [] : ['-js', '-sd', dir]),
      ...natsSecurityArgs(options, dir),
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

/** A PostgreSQL server this code started (see {@link startPostgres}). */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth on loopback). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Fast shutdown (SIGINT), wait `downMs`, start again on the same port and data dir. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** PostgreSQL's binaries: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest first). */
function findPostgresBinary(name: string): string | undefined {
  const found = findBinary(name);
  if (found !== undefined) return found;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const candidate = join(base, v, 'bin', name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Starts PostgreSQL (Debian's `postgresql` package) on a free loopback port: `initdb` into a temporary dir, then
 * `postgres` with fsync off (a test server). As root, both run as the `postgres` user (PostgreSQL refuses root),
 * with the dir handed to that user.
 */
export async function startPostgres(options: { port?: number } = {}): Promise<PostgresServer> {
  const initdb = findPostgresBinary('initdb');
  const postgres = findPostgresBinary('postgres');
  if (initdb === undefined || postgres === undefined)
    throw new Error(
      'troupe: the tests need PostgreSQL (initdb and postgres). On Debian/Ubuntu `sudo apt-get install postgresql`; ' +
        'on macOS `brew install postgresql`.',
    );
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // As the postgres user by uid/gid rather than through runuser, whose parent process would turn our SIGINT
  // (fast shutdown) into SIGTERM (smart shutdown: waits for clients) and then SIGKILL.
  const user = isRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
      }
    : {};
  const dir = mkdtempSync(join(tmpdir(), 'troupe-postgres-'));
  const data = join(dir, 'data');
  const port = options.port ?? (await freePort());
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    '-k',
    dir,
    '-F',
    '-c',
    'max_connections=200',
  ];
  let running: Running;
  try {
    if (isRoot) execFileSync('chown', ['postgres:', dir]);
    execFileSync(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
      stdio: 'pipe',
      cwd: dir,
      ...user,
    });
    running = await launchPostgres(postgres, args, user, dir, port);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await restarting?.catch(() => undefined);
      await shutdownPostgres(running);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const restart = (downMs = 0): Promise<void> => {
    if (stopped !== undefined) return Promise.reject(new Error('postgres was stopped'));
    restarting ??= (async () => {
      try {
        await shutdownPostgres(running);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        for (let attempt = 0; ; attempt++) {
          try {
            running = await launchPostgres(postgres, args, user, dir, port);
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
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get pid() {
      return running.child.pid ?? -1;
    },
    restart,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Starts postgres and waits for "ready to accept connections" (it listens earlier, while still recovering). */
async function launchPostgres(
  binary: string,
  argv: string[],
  user: { uid?: number; gid?: number },
  cwd: string,
  port: number,
): Promise<Running> {
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd, ...user });
  track(child);
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const keep = (chunk: Buffer): void => {
      log = (log + chunk.toString()).slice(-4000);
      if (log.includes('ready to accept connections')) resolve();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('exit', (code) => reject(new Error(`postgres exited with ${code}: ${log}`)));
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`postgres not ready on 127.0.0.1:${port} within 15 s: ${log}`)),
      15_000,
    );
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { child, exited };
}

/** Fast shutdown (SIGINT: clients are disconnected, no waiting for them), SIGKILL after 5 s. */
async function shutdownPostgres(running: Running): Promise<void> {
  const { child, exited } = running;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

// ---- Chroma ----------------------------------------------------------------------------------------------------

/** The `chroma` CLI of the installed `chromadb` package (it runs the server in-process through its native bindings). */
function chromaCli(): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('chromadb');
  } catch {
    throw new Error('troupe: startChroma needs the `chromadb` package: `npm install chromadb`');
  }
  // .../chromadb/dist/cjs/chromadb.cjs → .../chromadb/dist/cli.mjs
  const cli = join(dirname(dirname(entry)), 'cli.mjs');
  if (!existsSync(cli)) throw new Error(`troupe: no chroma CLI at ${cli}`);
  return cli;
}

/** Polls GET /api/v2/heartbeat until it answers 200 (the port opens a moment before the API serves). */
async function chromaHeartbeat(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/v2/heartbeat`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no heartbeat within 15 s (${last})`);
}

/**
 * Starts Chroma (`chroma run` of the `chromadb` package) on a free loopback port with a temporary data dir; ready
 * once GET /api/v2/heartbeat answers. `restart()` keeps the data dir, so collections survive it.
 */
export function startChroma(options: { port?: number } = {}): Promise<ServerProcess> {
  const cli = chromaCli();
  return startProcess(
    'chroma',
    (port, dir) => [cli, 'run', '--path', dir, '--host', '127.0.0.1', '--port', String(port)],
    'http',
    options.port,
    { binary: process.execPath, ready: chromaHeartbeat },
  );
}
