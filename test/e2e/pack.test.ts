// The package as npm publishes it: packed from a fresh build, installed into a scratch project, and used there
// through its public entries only, as a new user's program would.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(root, 'node_modules', '.bin', 'tsc');

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

const SCRATCH_TSCONFIG = {
  compilerOptions: {
    target: 'ES2023',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    // The user's own @types/node, borrowed from this repository rather than installed again.
    typeRoots: [join(root, 'node_modules', '@types')],
    types: ['node'],
  },
  files: ['typed.ts'],
};

/** The option and error types a user writes down, each from the main entry. */
const TYPED_PROGRAM = `
import {
  type AskOptions, type BullmqTaskRunnerOptions, type NatsTransportOptions, type Reply, type RunTaskOptions,
  type SendOptions, type SpawnOptions, type SystemOptions, type TaskContext, type TellOptions,
  createSystem, defineActor, defineTask, ErrorCode, InvalidOptionsError, TaskError, TransportError, TroupeError,
} from 'troupe';

const spawn: SpawnOptions = { name: 'counter' };
const ask: AskOptions = { timeout: 1000 };
const tell: TellOptions = {};
const send: SendOptions = { messageId: 'm1' };
const run: RunTaskOptions = { attempts: 2 };
const nats: NatsTransportOptions = { servers: 'nats://127.0.0.1:4222', namespace: 'scratch' };
const redis: BullmqTaskRunnerOptions = { redis: 'redis://127.0.0.1:6379' };
const system: SystemOptions = { nodeId: 'scratch' };
const square = defineTask('square', async (n: number, ctx: TaskContext) => (ctx.signal.aborted ? 0 : n * n));
const counter = defineActor<{ get: Reply<number> }, number>({ init: () => 0, handlers: { get: (_m, ctx) => ctx.state } });
const codes: string[] = [ErrorCode.AskTimeout, new TaskError(ErrorCode.TaskFailed, 'x').code];
const errors: TroupeError[] = [new TransportError('TRANSPORT_CLOSED', 'x'), new InvalidOptionsError('f', 'x')];
const n: Promise<number> = createSystem(system).then((s) => s.spawn(counter, spawn).ask({ type: 'get' }, ask));
export { codes, errors, n, nats, redis, run, send, square, tell };
`;

let work: string;
let pack: PackResult;
let tarball: string;
let scratch: string;
const timings: Record<string, number> = {};

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await step();
  } finally {
    timings[label] = Math.round(performance.now() - start);
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'troupe-pack-'));
  // Pack a fresh build in a staging copy: the working tree's dist/ may hold files of modules since removed,
  // and `npm pack` there would rebuild the dist/ other tests run from. The prepack script (which empties dist/
  // before prepare builds it) is skipped: the build here is already fresh.
  const stage = join(work, 'stage');
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'bin'])
    cpSync(join(root, entry), join(stage, entry), { recursive: true });
  await timed('build', () =>
    run(tsc, ['-p', join(root, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], {
      cwd: root,
    }).catch((err: { stdout?: string }) => {
      // Type errors elsewhere still emit; packaging is checked here, types by `npm run typecheck`.
      if (!existsSync(join(stage, 'dist', 'index.js'))) throw err;
    }),
  );
  const packed = await timed('pack', () =>
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: stage }),
  );
  pack = (JSON.parse(packed.stdout) as PackResult[])[0]!;
  tarball = join(work, pack.filename);

  scratch = join(work, 'scratch');
  cpSync(fileURLToPath(new URL('./fixtures/pack-scratch', import.meta.url)), scratch, { recursive: true });
  // The typed program lives here rather than in fixtures/, which the repository's own typecheck would read.
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(SCRATCH_TSCONFIG));
  writeFileSync(join(scratch, 'typed.ts'), TYPED_PROGRAM);
  // Dependencies come from npm's cache when it has them; the registry only for what it lacks.
  await timed('install', () =>
    run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: scratch,
      timeout: 90_000,
    }),
  );
}, 120_000);

afterAll(() => {
  process.stdout.write(
    `pack test: tarball ${(pack?.size / 1024).toFixed(0)} KiB, unpacked ${(pack?.unpackedSize / 1024).toFixed(0)} KiB, ` +
      `${pack?.entryCount} files; ${JSON.stringify(timings)} ms\n`,
  );
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the build, the command, the license and the readme, and nothing from the working tree', () => {
    const paths = pack.files.map((f) => f.path);
    for (const needed of ['LICENSE', 'README.md', 'package.json', 'bin/troupe.js', 'dist/index.js'])
      expect(paths).toContain(needed);
    const stray = paths.filter(
      (p) =>
        !(
          p.startsWith('dist/') ||
          p.startsWith('bin/') ||
          ['LICENSE', 'README.md', 'package.json'].includes(p)
        ),
    );
    expect(stray).toEqual([]);
    // Fault injection is a development tool whose fixtures live outside dist/; tests are never built.
    expect(paths.filter((p) => /^dist\/(chaos|test)\//.test(p) || p.includes('.tmp/'))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
  });

  it('points every export at a file it ships', () => {
    const paths = new Set(pack.files.map((f) => f.path));
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
      bin: Record<string, string>;
    };
    const missing: string[] = [];
    for (const [entry, target] of Object.entries(manifest.exports)) {
      for (const file of typeof target === 'string' ? [target] : [target.types, target.default])
        if (!paths.has(file.replace(/^\.\//, ''))) missing.push(`${entry}: ${file}`);
    }
    for (const file of Object.values(manifest.bin))
      if (!paths.has(file.replace(/^\.\//, ''))) missing.push(`bin: ${file}`);
    expect(missing).toEqual([]);
  });

  it('ships each source map with its TypeScript source inside', () => {
    const maps = pack.files.filter((f) => f.path.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(50);
    const installed = join(scratch, 'node_modules', 'troupe');
    const without = maps.filter((f) => {
      const map = JSON.parse(readFileSync(join(installed, f.path), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      return !(
        map.sourcesContent?.length === map.sources.length &&
        map.sourcesContent.every((s) => typeof s === 'string' && s.length > 0)
      );
    });
    expect(without.map((f) => f.path)).toEqual([]);
  });
});

describe('the main entry', () => {
  it('re-exports every value of the public layers but their adapter helpers', async () => {
    const main = new Set(Object.keys(await import('../../index.js')));
    const adapterOnly = new Set([
      // wire framing, for transports
      'BATCH_MARKER',
      'packBatch',
      'WIRE_VERSION',
      // option resolvers and the machinery supervisors are built from
      'Backoff',
      'resolveBackoffOptions',
      'resolveChildSpec',
      'RestartIntensity',
      'resolveIntensityOptions',
      'strategyOf',
      'resolvePoolOptions',
    ]);
    const layers = {
      runtime: await import('../../runtime/index.js'),
      supervisor: await import('../../supervisor/index.js'),
      actors: await import('../../actors/index.js'),
      transport: await import('../../transport/index.js'),
      'tasks-bullmq': await import('../../tasks-bullmq/index.js'),
    };
    const missing = Object.entries(layers).flatMap(([layer, mod]) =>
      Object.keys(mod)
        .filter((name) => !main.has(name) && !adapterOnly.has(name))
        .map((name) => `${layer}: ${name}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('installed into a scratch project', () => {
  it('runs a program that asks an actor and loads every public entry', async () => {
    const { stdout } = await run(process.execPath, ['main.mjs'], {
      cwd: scratch,
      timeout: 30_000,
    });
    expect(stdout).toContain('ask answered 3');
    expect(stdout).toContain('errors: TaskError TASK_FAILED, TransportError TRANSPORT_CLOSED');
    expect(stdout).toContain(
      'entries: transport, tasks-bullmq, supervisor, actors, testing, telemetry, telemetry/sdk, models, agents, interop/openai',
    );
  });

  it('type-checks a TypeScript program against the shipped declarations', async () => {
    const result = await run(tsc, ['-p', 'tsconfig.json'], { cwd: scratch }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    expect(result).toBe('');
  });

  it('installs the troupe command', async () => {
    const bin = join(scratch, 'node_modules', '.bin', 'troupe');
    const { stdout } = await run(bin, ['help'], { cwd: scratch });
    expect(stdout).toMatch(/^troupe\b[\s\S]*\bnode\b/);
    expect(readdirSync(join(scratch, 'node_modules', 'troupe'))).not.toContain('test');
  });
});
