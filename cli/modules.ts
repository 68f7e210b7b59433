// Loading the modules `troupe node --tasks/--actors` is given: their task definitions and start(system) hooks,
// and a clear way out when a TypeScript module cannot be loaded as it is.

import { extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ActorSystem, type AnyTaskDefinition, ErrorCode, TroupeError } from '../runtime/index.js';
import { isTaskDefinition } from '../runtime/internal.js';

export type StartHook = (system: ActorSystem) => unknown;

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** What to do about a TypeScript module this Node could not load. */
export function typescriptHelp(spec: string, reason: string): string {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const strip =
    major > 22 || (major === 22 && minor >= 6)
      ? `run with NODE_OPTIONS=--experimental-strip-types (this Node, ${process.version}, supports it)`
      : `on Node >= 22.6, run with NODE_OPTIONS=--experimental-strip-types (this is ${process.version})`;
  return (
    `cannot load TypeScript module ${spec} (${reason}). Node does not run .ts files by itself here: ` +
    `compile it to JavaScript (npx tsc) and pass the .js file, or load a TypeScript loader: ` +
    `NODE_OPTIONS="--import tsx" troupe node … (after npm install -D tsx), or ${strip}`
  );
}

/** Imports `spec` (a path or file: URL); a TypeScript module that fails to load gets a helpful error. */
export async function importModule(spec: string): Promise<Record<string, unknown>> {
  const url = spec.startsWith('file:') ? spec : pathToFileURL(resolve(spec)).href;
  const isTs = TS_EXTENSIONS.has(extname(new URL(url).pathname));
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const path = fileURLToPath(url);
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(`'${path}'`))
      throw new TroupeError(ErrorCode.InvalidOptions, `no such module: ${path}`);
    if (isTs && e.code !== 'ERR_MODULE_NOT_FOUND')
      throw new TroupeError(ErrorCode.InvalidOptions, typescriptHelp(spec, e.code ?? e.message));
    throw err;
  }
}

/** Imports each module and collects the task definitions it exports (named or in arrays) and its `start` hooks. */
export async function loadModules(
  modules: string[],
): Promise<{ tasks: AnyTaskDefinition[]; starts: StartHook[] }> {
  const tasks: AnyTaskDefinition[] = [];
  const starts: StartHook[] = [];
  for (const spec of modules) {
    const mod = await importModule(spec);
    for (const [name, value] of Object.entries(mod)) {
      if (name === 'start' && typeof value === 'function' && !starts.includes(value as StartHook))
        starts.push(value as StartHook);
      for (const candidate of Array.isArray(value) ? value : [value])
        if (isTaskDefinition(candidate) && !tasks.includes(candidate)) tasks.push(candidate);
    }
  }
  return { tasks, starts };
}
