// Starts a private Chroma server (the `chromadb` package's CLI) on a free loopback port.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type ServerProcess, startProcess } from './server-process.js';

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
