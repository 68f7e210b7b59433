// Starts a private PostgreSQL server (initdb into a temporary dir, fsync off) on a free loopback port.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { type Running, type SpawnedServer, spawnServer, terminate } from './child-process.js';
import { freePort } from './ports.js';
import { restartable } from './server-process.js';

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
  const start = (): Promise<Running> => launchPostgres(postgres, args, user, dir, port);
  let running: Running;
  try {
    if (isRoot) execFileSync('chown', ['postgres:', dir]);
    execFileSync(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
      stdio: 'pipe',
      cwd: dir,
      ...user,
    });
    running = await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const server = restartable({ name: 'postgres', dir, running, launch: start, shutdown: shutdownPostgres });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get pid() {
      return server.current().child.pid ?? -1;
    },
    restart: server.restart,
    stop: server.stop,
    [Symbol.asyncDispose]: server.stop,
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
  let spawned!: SpawnedServer;
  const ready = new Promise<void>((resolve, reject) => {
    spawned = spawnServer(binary, argv, { cwd, ...user }, (log) => {
      if (log.includes('ready to accept connections')) resolve();
    });
    spawned.child.once('exit', (code) =>
      reject(new Error(`postgres exited with ${code}: ${spawned.output()}`)),
    );
  });
  const { child, exited, output } = spawned;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`postgres not ready on 127.0.0.1:${port} within 15 s: ${output()}`)),
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
function shutdownPostgres(running: Running): Promise<void> {
  return terminate(running, 'SIGINT', 5000);
}
