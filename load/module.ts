// Loading a load test's module: read where the run starts, shipped to nodes by value, imported there by hash.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
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
 * Reads a load test module into a {@link ModuleRef} (absolute path, source, sha256). TypeScript is refused
 * with LOAD_MODULE: Node 20 cannot strip types, so compile it first (tsc) or run under a loader (tsx).
 *
 * @example
 * const ref = await readModuleRef('tests/checkout.mjs');
 */
export async function readModuleRef(path: string): Promise<ModuleRef> {
  const absolute = resolve(path);
  if (TYPESCRIPT.has(extname(absolute).toLowerCase()))
    throw new LoadError(
      LoadErrorCode.Module,
      `${path} is TypeScript, which Node 20 cannot run as is: compile it to .mjs/.js first (e.g. tsc), or run troupe under a TypeScript loader such as tsx`,
      { data: { path: absolute } },
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
  return { path: absolute, source, sha256: sha256(source) };
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
