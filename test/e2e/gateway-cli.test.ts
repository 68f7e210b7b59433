// `troupe gateway` as a process (from dist/: run `npm run build` first): it serves the fleet with keys from a
// file and stops on SIGTERM with exit 0; SIGKILLed mid-run, the events it stored survive and the run's stream
// goes on through another gateway of the namespace, after the client's Last-Event-ID, to its end.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKit } from '../../agents/index.js';
import { gateway, streamKey } from '../../gateway/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import { type ActorSystem, type AppendLog, createSystem } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import { on } from '../helpers/models.js';

const KEY = 'cli-key-0123456789';
const ns = `gwc${process.pid}`;
const ENTRY = new URL('../../dist/cli/gateway.js', import.meta.url).href;

let nats: ServerProcess;
let server: LlmServer;
let router: ModelRouter;
let fleet: ActorSystem;
let keysFile: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  nats = await startNats();
  server = await startLlmServer();
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  fleet = await createSystem({
    nodeId: 'fleet',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  fleet.spawn(agentKit({ router }).defineAgent({ name: 'desk', model: 'g', instructions: 'Talk.' }), {
    name: 'desk',
  });
  const dir = mkdtempSync(join(tmpdir(), 'troupe-gw-'));
  keysFile = join(dir, 'keys');
  writeFileSync(keysFile, `# the test's key\n${KEY}:admin\n`);
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await fleet?.close();
  await router?.close();
  await server?.close();
  await nats?.stop();
});

/** Starts `troupe gateway` on a free port; resolves with the process, its URL and its output so far. */
async function startGateway(
  extra: string[] = [],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const script = `import(${JSON.stringify(ENTRY)}).then((m) => m.main(process.argv.slice(1))).then((c) => process.exit(c), (e) => { console.error(e); process.exit(1); })`;
  const child = spawn(
    process.execPath,
    [
      ...['-e', script, '--', '--nats', nats.url, '--namespace', ns, '--port', '0'],
      ...['--api-keys-file', keysFile, '--metrics-port', '0'],
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TROUPE_LOG_LEVEL: 'warn' } },
  );
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 20_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out}`)));
  });
  return { child, url, output: () => out };
}

interface Ev {
  id: number;
  data: { kind: string; text?: string; output?: unknown };
}

function parse(raw: string): Ev[] {
  return [...raw.matchAll(/id: (\d+)\nevent: \w+\ndata: (.*)\n\n/g)].map((m) => ({
    id: Number(m[1]),
    data: JSON.parse(m[2] as string) as Ev['data'],
  }));
}

const tokensOf = (events: Ev[]) =>
  events.filter((e) => e.data.kind === 'token').map((e) => e.data.text ?? '');

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

describe('troupe gateway', () => {
  it('serves with keys from a file and exits 0 on SIGTERM', async () => {
    const { child, url, output } = await startGateway();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/nodes`)).status).toBe(401);
    const nodes = await fetch(`${url}/nodes`, { headers: { 'x-api-key': KEY } });
    expect(nodes.status).toBe(200);
    expect(((await nodes.json()) as { nodes: string[] }).nodes).toContain('fleet');
    // The gateway's node serves telemetry like a worker node (Prometheus scrapes it in the deploy configs).
    const telemetry = /telemetry on (http:\/\/\S+)/.exec(output())?.[1];
    expect(telemetry).toBeDefined();
    expect((await fetch(`${telemetry}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${telemetry}/metrics`)).text()).toContain('troupe_asks');
    // Run streams are kept a day (--stream-hours), not forever.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`TROUPE_LOG_${ns}_gateway-streams`);
      expect(info.config.max_age).toBe(24 * 3_600_000 * 1_000_000);
    } finally {
      await nc.close();
    }
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(output()).not.toContain(KEY); // the secret is never printed
  }, 60_000);

  it('limits each credential with --rate-limit, and refuses a bad one as a usage error', async () => {
    const { child, url } = await startGateway(['--rate-limit', '1']);
    const get = () => fetch(`${url}/nodes`, { headers: { 'x-api-key': KEY } });
    expect((await get()).status).toBe(200);
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code: string }).code).toBe('GATEWAY_RATE_LIMITED');
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    const bad = spawnSync(
      process.execPath,
      [new URL('../../bin/troupe.js', import.meta.url).pathname, 'gateway', '--rate-limit', '0'],
      { encoding: 'utf8', env: { ...process.env, NATS_URL: nats.url } },
    );
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('--rate-limit expects requests per second above 0');
  }, 60_000);

  it('a run streamed by a gateway SIGKILLed mid-run goes on from another gateway to its end', async () => {
    const { child, url } = await startGateway();
    const text = Array.from({ length: 80 }, (_, i) => `t${i}`).join(' ');
    server.script('m', [{ text, chunkDelayMs: 60 }]);
    const agent = encodeURIComponent('fleet/desk');
    const started = await fetch(`${url}/agents/${agent}/runs`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'talk', runId: 'kill-1' }),
    });
    expect(started.status).toBe(202);
    const { events: path } = (await started.json()) as { events: string };
    // The first few events through the CLI gateway.
    const res = await fetch(`${url}${path}`, { headers: { 'x-api-key': KEY } });
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let raw = '';
    while (parse(raw).length < 6) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += value;
    }
    await reader.cancel();
    const seen = parse(raw);
    expect(seen.length).toBeGreaterThanOrEqual(6);

    // Another gateway on the namespace; then the first one dies while the run still streams.
    const transport = natsTransport({ servers: nats.url, namespace: ns });
    const system = await createSystem({ nodeId: 'gw-b', transport });
    const log: AppendLog = await natsAppendLog({ transport, name: 'gateway-streams', namespace: ns });
    const b = await gateway({ system, streams: log, auth: { apiKeys: [{ key: KEY, scopes: ['admin'] }] } });
    try {
      child.kill('SIGKILL');
      expect((await exited(child)).signal).toBe('SIGKILL');
      const stored = await log.read(streamKey('fleet/desk', 'kill-1'));
      expect(stored.some((r) => r.data.includes('"finished"'))).toBe(false); // it was mid-run
      const lastId = seen.at(-1)?.id as number;
      const listening = await b.listen(0);
      const rest = await fetch(`${listening}${path}`, {
        headers: { 'x-api-key': KEY, 'last-event-id': String(lastId) },
        signal: AbortSignal.timeout(30_000),
      });
      expect(rest.status).toBe(200);
      const more = parse(await rest.text());
      const all = [...seen, ...more];
      const ids = all.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length); // none repeated
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(more.at(-1)?.data).toMatchObject({ kind: 'finished', output: text });
      // Tokens told to the dead gateway before its collector moved are lost; the rest come in order, and the
      // step event carries the whole text.
      const words = text.split(' ');
      let at = 0;
      for (const w of tokensOf(all).join('').split(' ')) {
        at = words.indexOf(w, at);
        expect(at, `token ${w} out of order`).toBeGreaterThanOrEqual(0);
        at++;
      }
      expect(all.find((e) => e.data.kind === 'step')?.data).toMatchObject({ text });
    } finally {
      await b.close();
      await log.close();
      await system.close();
    }
  }, 60_000);
});
