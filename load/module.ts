// Loading a load test's module: read where the run starts, shipped to nodes by value, imported there by hash.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleRef } from './agent/protocol.js';
import { defineLoad, isDefinedLoad } from './define.js';
import { LoadError, LoadErrorCode } from './errors.js';
import type { LoadTest } from './test.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Reads a load test module into a {@link ModuleRef} (absolute path, source, sha256). A TypeScript test (`.ts`,
 * `.mts`) is compiled to an ES module first with the `typescript` its own project has (Node 20 cannot
 * strip types): types are erased, not checked (`tsc` in the project does that), and the compiled source is what
 * travels and is hashed. Its relative imports are not compiled along: keep a TypeScript test in one file, or
 * compile the project and run the `.js`. Unreadable files and a missing `typescript` fail with LOAD_MODULE.
 *
 * @example
 * const ref = await readModuleRef('tests/checkout.mjs');
 */
export async function readModuleRef(path: string): Promise<ModuleRef> {
  const absolute = resolve(path);
  const extension = extname(absolute).toLowerCase();
  if (extension === '.tsx' || extension === '.cts')
    throw new LoadError(
      LoadErrorCode.Module,
      `${path}: a load test is an ES module; name it .ts, .mts or .mjs`,
      {
        data: { path: absolute },
      },
    );
  let source: string;
  try {
    source = await readFile(absolute, 'utf8');
  } catch (cause) {
    throw new LoadError(
      LoadErrorCode.Module,
      `cannot read the load test ${path}: ${(cause as Error).message}`,
      {
        cause,
        data: { path: absolute },
      },
    );
  }
  if (TYPESCRIPT.has(extension)) source = await compileTypeScript(absolute);
  return { path: absolute, source, sha256: sha256(source) };
}

/** Bounds on compiling one test file: a stuck compiler fails the run instead of holding it. */
const COMPILE_TIMEOUT_MS = 60_000;
const COMPILE_OUTPUT_BYTES = 16 * 1024 * 1024;

/** The `tsc` of the project the test is in, else the one installed beside troupe; undefined if neither. */
function findTsc(file: string): string | undefined {
  for (const from of [join(dirname(file), 'noop.js'), import.meta.url]) {
    try {
      const require = createRequire(from);
      const manifest = require.resolve('typescript/package.json');
      const bin = (require(manifest) as { bin?: Record<string, string> }).bin?.tsc;
      if (typeof bin === 'string') return join(dirname(manifest), bin);
    } catch {
      // Not resolvable from there.
    }
  }
  return undefined;
}

/** Compiles one TypeScript file to ES module source with `tsc` (no type check, imports left as written). */
async function compileTypeScript(file: string): Promise<string> {
  const tsc = findTsc(file);
  if (tsc === undefined)
    throw new LoadError(
      LoadErrorCode.Module,
      `${file} is TypeScript and no typescript package is installed to compile it (npm install -D typescript), or compile it to .mjs first`,
      { data: { path: file } },
    );
  const out = await mkdtemp(join(tmpdir(), 'troupe-load-ts-'));
  try {
    const args = [
      tsc,
      file,
      '--outDir',
      out,
      '--module',
      'esnext',
      '--target',
      'es2022',
      '--noCheck',
      '--noResolve',
      '--isolatedModules',
      '--skipLibCheck',
      '--declaration',
      'false',
      '--sourceMap',
      'false',
    ];
    await new Promise<void>((done, fail) => {
      execFile(
        process.execPath,
        args,
        // From the empty output folder: tsc refuses a file argument beside a tsconfig.json in its working folder.
        { cwd: out, timeout: COMPILE_TIMEOUT_MS, maxBuffer: COMPILE_OUTPUT_BYTES },
        (error, stdout, stderr) => {
          if (error === null) done();
          else {
            const said = `${stdout}${stderr}`.trim().slice(0, 2000);
            fail(new Error(said === '' ? error.message : said));
          }
        },
      );
    });
    // tsc names its output after the input: .ts → .js, .mts → .mjs.
    const emitted = join(
      out,
      basename(file).replace(/\.(m?)ts$/i, (_, m: string) => `.${m}js`),
    );
    return await readFile(emitted, 'utf8');
  } catch (cause) {
    throw new LoadError(
      LoadErrorCode.Module,
      `cannot compile the TypeScript load test ${file}: ${(cause as Error).message}`,
      { cause, data: { path: file } },
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Imports the load test of `ref`: from `ref.path` when this machine has that very file (same sha256), else from
 * `<cacheDir ?? cwd>/.troupe/load/<sha256>.mjs`, written from `ref.source` (so bare imports such as `troupe/load`
 * resolve from this node's node_modules). A source that does not match its sha256 is refused (LOAD_MODULE). The
 * test is the module's default export, or its export `test`, checked by defineLoad.
 */
export async function importLoadTest(ref: ModuleRef, cacheDir?: string): Promise<LoadTest> {
  if (
    typeof ref !== 'object' ||
    ref === null ||
    typeof ref.source !== 'string' ||
    typeof ref.sha256 !== 'string'
  )
    throw new LoadError(LoadErrorCode.Module, 'expected a module ref { path, source, sha256 }');
  if (sha256(ref.source) !== ref.sha256)
    throw new LoadError(
      LoadErrorCode.Module,
      `the load test's source does not match its sha256 ${ref.sha256}`,
      {
        data: { sha256: ref.sha256 },
      },
    );
  const file = (await sameFile(ref)) ? ref.path : await cachedCopy(ref, cacheDir ?? process.cwd());
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new LoadError(
      LoadErrorCode.Module,
      `cannot import the load test ${ref.path}: ${(cause as Error).message}`,
      {
        cause,
        data: { path: ref.path },
      },
    );
  }
  const test = module.default ?? module.test;
  if (test === undefined)
    throw new LoadError(
      LoadErrorCode.Module,
      `${ref.path} exports no load test: export default defineLoad({...}) (or export const test)`,
      { data: { path: ref.path } },
    );
  return isDefinedLoad(test) ? test : defineLoad(test as LoadTest);
}

async function sameFile(ref: ModuleRef): Promise<boolean> {
  if (typeof ref.path !== 'string' || ref.path === '' || TYPESCRIPT.has(extname(ref.path).toLowerCase()))
    return false;
  try {
    return sha256(await readFile(ref.path, 'utf8')) === ref.sha256;
  } catch {
    return false;
  }
}

async function cachedCopy(ref: ModuleRef, base: string): Promise<string> {
  const dir = join(base, '.troupe', 'load');
  const file = join(dir, `${ref.sha256}.mjs`);
  try {
    if (sha256(await readFile(file, 'utf8')) === ref.sha256) return file;
  } catch {
    // Not there yet.
  }
  try {
    await mkdir(dir, { recursive: true });
    // Written aside then renamed, so a node importing it meanwhile never reads half a file.
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, ref.source, 'utf8');
    await rename(temp, file);
  } catch (cause) {
    throw new LoadError(
      LoadErrorCode.Module,
      `cannot write the load test to ${file}: ${(cause as Error).message}`,
      {
        cause,
        data: { path: file },
      },
    );
  }
  return file;
}
