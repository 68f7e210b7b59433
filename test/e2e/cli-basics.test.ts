// The troupe command's surface: --version, --help on every command, configuration from the environment and
// a config file, and the errors a new user meets (unreachable servers, a TypeScript module on plain Node).

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats } from '../../testing/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

async function troupe(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const env = { ...process.env, NATS_URL: '', REDIS_URL: '', TROUPE_NAMESPACE: '', ...options.env };
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 30_000,
      env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: e.code ?? -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
      ms: performance.now() - started,
    };
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});
afterAll(() => nats?.stop());

const COMMANDS: [string, string[]][] = [
  ['node', ['--actors', '--tasks', '--metrics-port', '--prefix']],
  ['ps', ['--watch', '--interval', '--tasks']],
  ['nodes', ['--redis', '--wait']],
  ['ask', ['--timeout', '<actor>']],
  ['tell', ['<actor>']],
  ['pause', ['--subtree']],
  ['resume', ['--subtree']],
  ['stop', ['<actor>']],
  ['terminate', ['<actor>']],
  ['restart', ['<actor>']],
  ['dead-letters', ['--follow']],
  ['config', ['--config']],
  ['demo', ['--nats', '--redis']],
  ['load', ['--nodes', '--vus', '--duration', '--rate', '--html', '--compare']],
];

describe('troupe command surface', () => {
  it('prints its version', async () => {
    const out = await troupe(['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(`troupe ${pkg.version}`);
  });

  it('prints full help for every command, exit 0, naming its flags and the common ones', async () => {
    const results = await Promise.all(COMMANDS.map(([command]) => troupe([command, '--help'])));
    COMMANDS.forEach(([command, flags], i) => {
      const { code, stdout } = results[i]!;
      expect(code, command).toBe(0);
      expect(stdout, command).toContain(`troupe ${command}`);
      for (const flag of [...flags, '--log-level', '--log-format', '--json', '--namespace'])
        expect(stdout, `${command} ${flag}`).toContain(flag);
    });
    const top = await troupe(['--help']);
    expect(top.code).toBe(0);
    for (const [command] of COMMANDS) expect(top.stdout).toContain(command);
  });

  it('reads NATS_URL and TROUPE_NAMESPACE from the environment, and a config file from the working directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cli-'));
    writeFileSync(
      join(dir, 'troupe.config.json'),
      JSON.stringify({ namespace: 'fromfile', logLevel: 'error' }),
    );
    const shown = await troupe(['config', '--json'], { cwd: dir, env: { NATS_URL: nats.url } });
    expect(shown.code, shown.stderr).toBe(0);
    const config = JSON.parse(shown.stdout) as {
      file: string;
      values: Record<string, unknown>;
      sources: Record<string, { kind: string; from: string }>;
    };
    expect(config.file).toBe(join(dir, 'troupe.config.json'));
    expect(config.values).toMatchObject({ nats: nats.url, namespace: 'fromfile', prefix: 'troupe.fromfile' });
    expect(config.sources.nats).toEqual({ kind: 'env', from: 'NATS_URL' });
    expect(config.sources.namespace?.kind).toBe('file');
    // A flag wins over both.
    const flagged = await troupe(['config', '--json', '--namespace', 'flagged'], {
      cwd: dir,
      env: { TROUPE_NAMESPACE: 'env' },
    });
    expect(JSON.parse(flagged.stdout).values.namespace).toBe('flagged');

    // The environment's NATS is the one a command talks to.
    const nodes = await troupe(['nodes', '--json', '--namespace', 'nobody-here'], {
      env: { NATS_URL: nats.url },
    });
    expect(nodes.code, nodes.stderr).toBe(0);
    expect(JSON.parse(nodes.stdout)).toEqual([]);

    const bad = await troupe(['config'], { env: { NATS_URL: 'http://wrong' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/INVALID_OPTIONS.*NATS_URL/);
  });

  it('names an unreachable NATS or Redis, and what to try, within a few seconds', async () => {
    // A refusal must end the command at once, not after a connect timeout (NATS 20 s, Redis 10 s). The bound
    // leaves room for three CLIs starting together on a loaded 2-core machine (5 s was once too tight in CI).
    const QUICK_FAILURE_MS = 8000;
    const port = await closedPort();
    const [ps, node, tasks] = await Promise.all([
      troupe(['ps', '--nats', `nats://127.0.0.1:${port}`]),
      troupe(['node', '--actors', fileURLToPath(new URL('./fixtures/cli-actors.mjs', import.meta.url))], {
        env: { NATS_URL: `nats://127.0.0.1:${port}` },
      }),
      troupe([
        'node',
        '--tasks',
        fileURLToPath(new URL('./fixtures/cli-tasks.mjs', import.meta.url)),
        '--redis',
        `redis://127.0.0.1:${port}`,
      ]),
    ]);
    for (const out of [ps, node]) {
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(
        `could not connect to NATS at nats://127.0.0.1:${port} (connection refused)`,
      );
      expect(out.stderr).toContain('is nats-server running? set --nats or NATS_URL');
      expect(out.ms).toBeLessThan(QUICK_FAILURE_MS);
    }
    expect(tasks.code).toBe(1);
    expect(tasks.stderr).toContain(
      `could not connect to Redis at redis://127.0.0.1:${port} (connection refused)`,
    );
    expect(tasks.stderr).toContain('set --redis or REDIS_URL');
    expect(tasks.ms).toBeLessThan(QUICK_FAILURE_MS);
  });

  it('says it is connecting when the server takes more than a second to answer', async () => {
    // Accepts connections and never speaks: the NATS handshake hangs.
    const mute = createServer(() => {});
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const url = `nats://127.0.0.1:${(mute.address() as { port: number }).port}`;
    const child = spawn(process.execPath, [bin, 'ps', '--nats', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    try {
      for (let i = 0; i < 60 && !err.includes('connecting'); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(err).toContain(`troupe: connecting to NATS at ${url}`);
    } finally {
      child.kill('SIGKILL');
      mute.close();
    }
  });

  it('says how to run a TypeScript module', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-ts-'));
    const module = join(dir, 'tasks.ts');
    writeFileSync(module, 'export const triple = (n: number): number => n * 3;\n');
    const out = await troupe(['node', '--tasks', module]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`cannot load TypeScript module ${module}`);
    expect(out.stderr).toContain('NODE_OPTIONS="--import tsx"');
    expect(out.stderr).toContain('--experimental-strip-types');
    expect(out.stderr).toMatch(/compile it/);
    const missing = await troupe(['node', '--tasks', join(dir, 'nope.mjs')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such module');
  });

  it('serves metrics and health with --metrics-port, logs start and drain as JSON, exits 0 on SIGTERM', async () => {
    const actors = fileURLToPath(new URL('./fixtures/cli-actors.mjs', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        bin,
        'node',
        '--actors',
        actors,
        '--node-id',
        'm1',
        '--metrics-port',
        '0',
        '--log-format',
        'json',
        '--log-level',
        'info',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NATS_URL: nats.url, TROUPE_NAMESPACE: 'metrics', REDIS_URL: '' },
      },
    );
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      for (let i = 0; i < 200 && !err.includes('node m1 started'); i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      const started = err
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: string; msg: string })
        .find((e) => e.msg.startsWith('node m1 started'));
      expect(started?.level, err).toBe('info');
      const url = /metrics (http:\/\/127\.0\.0\.1:\d+)/.exec(started!.msg)?.[1];
      expect(url).toBeDefined();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      let ready = await fetch(`${url}/readyz`);
      for (let i = 0; i < 50 && ready.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ready = await fetch(`${url}/readyz`);
      }
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: Record<string, unknown> }).checks.draining).toBe(true);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^troupe_\w+/m);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(err).toContain('node m1 draining');
    expect(err).toContain('node m1 stopped');
  });

  it('rejects unknown flags and missing arguments as usage errors (exit 2)', async () => {
    const unknown = await troupe(['ps', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--frobnicate');
    expect((await troupe(['ask'])).code).toBe(2);
    expect((await troupe(['node'])).code).toBe(2);
  });
});
