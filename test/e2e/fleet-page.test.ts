// The gateway's live fleet page against a real fleet (nats-server, a node with a supervised tree, an agent with a
// registry card, a dead letter carrying a trace id): the routes' auth (401/403, audited), the snapshot and its
// server-sent events, and the page in headless Chromium driven over the DevTools pipe: it renders the fleet,
// applies a live update (an actor spawned after load appears without a reload), and its screenshot is checked.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentRegistry, agentKit, agentRegistry } from '../../agents/index.js';
import { AUDIT_KEY, type FleetSnapshot, type Gateway, gateway, traceIdOf } from '../../gateway/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  memoryKeyValue,
  type Reply,
} from '../../runtime/index.js';
import { defineSupervisor } from '../../supervisor/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { on } from '../helpers/models.js';

const CHROMIUM = '/usr/bin/chromium';
const READER = 'fleet-reader-0123456789';
const OTHER = 'agents-reader-0123456789';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACE_URL = 'http://jaeger.test:16686/trace/{traceId}';
const WIDTH = 1280;
const HEIGHT = 900;
const ns = `fleetpage${process.pid}`;

let nats: ServerProcess;
let server: LlmServer;
let router: ModelRouter;
let registry: AgentRegistry;
let fleet: ActorSystem;
let client: ActorSystem;
let gw: Gateway;
let url: string;
let dir: string;

const worker = defineActor<{ ping: Reply<string> }>({ type: 'worker', handlers: { ping: () => 'pong' } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-fleet-page-'));
  nats = await startNats();
  server = await startLlmServer();
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  registry = agentRegistry({ store: memoryKeyValue(), heartbeatMs: 0, flushEveryMs: 50 });
  fleet = await createSystem({
    nodeId: 'fleet-a',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  client = await createSystem({
    nodeId: 'gw',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  fleet.spawn(
    defineSupervisor({
      children: [
        { name: 'db', actor: worker },
        { name: 'api', actor: worker },
      ],
    }),
    { name: 'app' },
  );
  const kit = agentKit({ router, registry });
  fleet.spawn(
    kit.defineAgent({
      name: 'desk',
      model: 'g',
      instructions: 'Help.',
      description: 'the help desk',
      capabilities: ['help'],
      costPer1kTokens: { input: 0.0025, output: 0.01 },
    }),
    { name: 'desk' },
  );
  // A message to nobody, carrying a W3C trace context: a dead letter on fleet-a that links to its trace.
  client
    .ref('fleet-a/nobody')
    .tell({ type: 'lost', traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } as never);
  gw = await gateway({
    system: client,
    registry,
    auth: {
      apiKeys: [
        { key: READER, scopes: ['fleet:read'] },
        { key: OTHER, scopes: ['agents:read'] },
      ],
    },
    fleet: { traceUrl: TRACE_URL, intervalMs: 1000, waitMs: 300 },
  });
  url = await gw.listen(0);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await client?.close();
  await fleet?.close();
  await registry?.close();
  await router?.close();
  await server?.close();
  await nats?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function snapshot(): Promise<FleetSnapshot> {
  const res = await fetch(`${url}/fleet/snapshot`, { headers: { 'x-api-key': READER } });
  expect(res.status).toBe(200);
  return (await res.json()) as FleetSnapshot;
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('fleet options and trace ids', () => {
  it('refuses bad fleet options with INVALID_OPTIONS', async () => {
    const auth = { apiKeys: [{ key: READER, scopes: ['fleet:read'] }] };
    for (const fleet of [
      { intervalMs: 0 },
      { waitMs: 1.5 },
      { maxDeadLetters: -1 },
      { traceUrl: 'http://jaeger/trace/' },
      { traceUrl: 'javascript:alert(1)/{traceId}' },
      { traceSearchUrl: 'ftp://x/{address}' },
    ])
      await expect(
        gateway({ system: client, auth, fleet: fleet as never }),
        JSON.stringify(fleet),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTIONS',
      });
  });

  it('finds a trace id in a message, or none', () => {
    expect(traceIdOf({ traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` })).toBe(TRACE_ID);
    expect(traceIdOf({ type: 'x', trace: { traceId: TRACE_ID } })).toBe(TRACE_ID);
    expect(traceIdOf({ headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } })).toBe(TRACE_ID);
    expect(traceIdOf({ traceId: '0'.repeat(32) })).toBeUndefined();
    expect(traceIdOf({ traceparent: 'garbage' })).toBeUndefined();
    expect(traceIdOf('text')).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});

describe('fleet routes', () => {
  it('answers 401 without a key or with a wrong one and 403 without fleet:read, each audited', async () => {
    for (const path of ['/fleet', '/fleet/snapshot', '/fleet/events'])
      expect((await fetch(`${url}${path}`)).status, path).toBe(401);
    expect((await fetch(`${url}/fleet?key=not-a-key-at-all`)).status).toBe(401);
    expect((await fetch(`${url}/fleet/snapshot`, { headers: { 'x-api-key': OTHER } })).status).toBe(403);
    expect((await fetch(`${url}/fleet?key=${OTHER}`)).status).toBe(403);
    // ?key= is only for the fleet routes: the rest of the API keeps needing a header.
    expect((await fetch(`${url}/agents?key=${OTHER}`)).status).toBe(401);
    const records = (await gw.audit.read(AUDIT_KEY)).map((r) => r.data);
    const denials = records.map((d) => JSON.parse(d) as { status: number; route: string; path: string });
    expect(denials.filter((d) => d.route.startsWith('/fleet') && d.status === 401)).toHaveLength(4);
    expect(denials.filter((d) => d.route.startsWith('/fleet') && d.status === 403)).toHaveLength(2);
    // The key a browser put in the query string is never written to the audit log.
    for (const d of records) {
      expect(d).not.toContain('not-a-key-at-all');
      expect(d).not.toContain(OTHER);
    }
  });

  it('serves the page with a key in the query, self-contained', async () => {
    const res = await fetch(`${url}/fleet?key=${READER}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('<script>');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);
  });

  it('snapshots the nodes, the supervision tree, the agent card and a dead letter with its trace link', async () => {
    const snap = await eventually(
      snapshot,
      (s) =>
        s.nodes.some((n) => n.id === 'fleet-a' && n.tree.some((a) => a.address === 'fleet-a/app')) &&
        (s.agents ?? []).some((a) => a.address === 'fleet-a/desk') &&
        s.deadLetters.some((l) => l.address === 'fleet-a/nobody'),
      15_000,
      'a full snapshot',
    );
    expect(snap.self).toBe('gw');
    expect(snap.nodes.map((n) => n.id)).not.toContain('gw');
    const node = snap.nodes.find((n) => n.id === 'fleet-a');
    const app = node?.tree.find((a) => a.address === 'fleet-a/app');
    expect(app?.supervisor).toBe(true);
    expect(app?.children.map((c) => c.address).sort()).toEqual(['fleet-a/app/api', 'fleet-a/app/db']);
    expect(app?.traces).toContain('http://jaeger.test:16686/search?');
    const desk = snap.agents?.find((a) => a.address === 'fleet-a/desk');
    expect(desk).toMatchObject({ name: 'desk', node: 'fleet-a', status: 'running', model: 'g' });
    expect(desk?.costPer1kTokens).toEqual({ input: 0.0025, output: 0.01 });
    const letter = snap.deadLetters.find((l) => l.address === 'fleet-a/nobody');
    expect(letter).toMatchObject({ node: 'fleet-a', type: 'lost', traceId: TRACE_ID });
    expect(letter?.traces).toBe(`http://jaeger.test:16686/trace/${TRACE_ID}`);
  }, 30_000);

  it('pushes a snapshot about every second over server-sent events', async () => {
    const ac = new AbortController();
    const res = await fetch(`${url}/fleet/events`, { headers: { 'x-api-key': READER }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const started = Date.now();
    const events: { id: number; at: number; snap: FleetSnapshot }[] = [];
    try {
      while (events.length < 3 && Date.now() - started < 10_000) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: snapshot$/m.test(block) && id !== undefined && data !== undefined)
            events.push({ id: Number(id), at: Date.now(), snap: JSON.parse(data) as FleetSnapshot });
          end = text.indexOf('\n\n');
        }
      }
    } finally {
      ac.abort();
    }
    expect(events).toHaveLength(3);
    expect(events[1]?.id).toBeGreaterThan(events[0]?.id ?? Number.POSITIVE_INFINITY);
    expect(events[2]?.id).toBeGreaterThan(events[1]?.id ?? Number.POSITIVE_INFINITY);
    // Three snapshots take about two intervals (the first comes at once or is the latest kept one).
    const span = (events[2]?.at ?? 0) - (events[0]?.at ?? 0);
    expect(span).toBeGreaterThan(1200);
    expect(span).toBeLessThan(6000);
    expect(events[2]?.snap.nodes.some((n) => n.id === 'fleet-a')).toBe(true);
  }, 20_000);
});

// A second node in its own OS process (from dist/: run `npm run build` first), SIGKILLed by its PID.
const NODE_SCRIPT = `
const { createSystem, defineActor, natsTransport } = await import(process.env.TROUPE_DIST);
const system = await createSystem({
  nodeId: process.env.NODE_ID,
  transport: natsTransport({ servers: process.env.NATS_URL, namespace: process.env.NS }),
});
system.spawn(defineActor({ type: 'kid', handlers: { ping: () => 'pong' } }), { name: 'kid' });
process.stdout.write('READY\\n');
`;

describe('fleet page under faults', () => {
  it('drops a SIGKILLed node from the next snapshots while the event stream keeps going', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', NODE_SCRIPT], {
      env: {
        ...process.env,
        TROUPE_DIST: new URL('../../dist/index.js', import.meta.url).href,
        NODE_ID: 'fleet-k',
        NATS_URL: nats.url,
        NS: ns,
        TROUPE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await eventually(
        async () => out,
        (o) => o.includes('READY'),
        15_000,
        'the child node',
      );
      await eventually(
        snapshot,
        (s) => s.nodes.some((n) => n.id === 'fleet-k' && n.tree.some((a) => a.address === 'fleet-k/kid')),
        10_000,
        'fleet-k on the snapshot',
      );
      const events = sse(`${url}/fleet/events`);
      try {
        await eventually(
          async () => events.snapshots,
          (l) => l.length >= 1,
          5000,
          'a first event',
        );
        child.kill('SIGKILL');
        await exited;
        const killedAt = events.snapshots.length;
        const after = await eventually(
          async () => events.snapshots,
          (l) => l.length > killedAt && !(l.at(-1)?.nodes ?? []).some((n) => n.id === 'fleet-k'),
          10_000,
          'fleet-k gone from the stream',
        );
        // The rest of the fleet is still drawn.
        expect(after.at(-1)?.nodes.some((n) => n.id === 'fleet-a')).toBe(true);
      } finally {
        events.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  }, 45_000);

  it('keeps streaming through a nats-server restart and shows the fleet again after it', async () => {
    const events = sse(`${url}/fleet/events`);
    try {
      await eventually(
        async () => events.snapshots,
        (l) => l.length >= 1,
        5000,
        'a first event',
      );
      await nats.restart(500);
      const before = events.snapshots.length;
      const after = await eventually(
        async () => events.snapshots,
        (l) =>
          l.length > before &&
          (l.at(-1)?.nodes ?? []).some(
            (n) => n.id === 'fleet-a' && n.tree.some((a) => a.address === 'fleet-a/app'),
          ),
        20_000,
        'the fleet back on the stream',
      );
      expect(after.at(-1)?.deadLetters.some((l) => l.address === 'fleet-a/nobody')).toBe(true);
      expect(events.failed()).toBe(false);
    } finally {
      events.close();
    }
  }, 45_000);
});

/** Reads a fleet event stream in the background, collecting its snapshots. */
function sse(target: string): { snapshots: FleetSnapshot[]; failed(): boolean; close(): void } {
  const ac = new AbortController();
  const snapshots: FleetSnapshot[] = [];
  let failed = false;
  void (async () => {
    const res = await fetch(target, { headers: { 'x-api-key': READER }, signal: ac.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        failed = !ac.signal.aborted;
        return;
      }
      text += decoder.decode(value, { stream: true });
      let end = text.indexOf('\n\n');
      while (end >= 0) {
        const data = /^data: (.*)$/m.exec(text.slice(0, end))?.[1];
        if (data !== undefined) snapshots.push(JSON.parse(data) as FleetSnapshot);
        text = text.slice(end + 2);
        end = text.indexOf('\n\n');
      }
    }
  })().catch(() => {
    failed = !ac.signal.aborted;
  });
  return { snapshots, failed: () => failed, close: () => ac.abort() };
}

// ---- headless Chromium over the DevTools pipe (fd 3 in, fd 4 out, NUL-separated JSON) ----

interface Cdp {
  send(
    method: string,
    params?: Record<string, unknown>,
    sessionId?: string,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function chromium(profile: string): Cdp {
  const child: ChildProcess = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      '--remote-debugging-pipe',
      `--window-size=${WIDTH},${HEIGHT}`,
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 10_000) stderr += d.toString();
  });
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  const pending = new Map<
    number,
    { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  let buffered = '';
  let next = 1;
  output.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let end = buffered.indexOf('\0');
    while (end >= 0) {
      const msg = JSON.parse(buffered.slice(0, end)) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
      };
      buffered = buffered.slice(end + 1);
      const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
      if (waiter !== undefined) {
        pending.delete(msg.id as number);
        if (msg.error !== undefined) waiter.reject(new Error(msg.error.message));
        else waiter.resolve(msg.result ?? {});
      }
      end = buffered.indexOf('\0');
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const w of pending.values()) w.reject(new Error(`chromium exited: ${stderr.slice(-500)}`));
    pending.clear();
  });
  return {
    send(method, params = {}, sessionId) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
      });
    },
    async close() {
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Width, height, and the luminance variance and distinct colours of a sample of an 8-bit RGB(A) PNG's pixels. */
function inspectPng(png: Buffer): { width: number; height: number; variance: number; colors: number } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  let depth = 0;
  let interlace = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8] as number;
      colorType = data[9] as number;
      interlace = data[12] as number;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  expect(depth).toBe(8);
  expect(interlace).toBe(0);
  expect([2, 6]).toContain(colorType);
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? (row[x - bpp] as number) : 0;
      const b = up[x] as number;
      const c = x >= bpp ? (up[x - bpp] as number) : 0;
      const s = src[x] as number;
      let v: number;
      if (filter === 0) v = s;
      else if (filter === 1) v = s + a;
      else if (filter === 2) v = s + b;
      else if (filter === 3) v = s + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = s + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      row[x] = v & 0xff;
    }
  }
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  const colors = new Set<number>();
  for (let i = 0; i < pixels.length; i += bpp * 7) {
    const r = pixels[i] as number;
    const g = pixels[i + 1] as number;
    const b = pixels[i + 2] as number;
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += lum;
    sumSq += lum * lum;
    n++;
    colors.add((r << 16) | (g << 8) | b);
  }
  const mean = sum / n;
  return { width, height, variance: sumSq / n - mean * mean, colors: colors.size };
}

describe('fleet page in headless Chromium', () => {
  const missing = !existsSync(CHROMIUM);
  it.skipIf(missing)(
    `renders the fleet, applies a live update without reloading, and screenshots${missing ? ' (SKIPPED: /usr/bin/chromium is not installed)' : ''}`,
    async () => {
      const browser = chromium(join(dir, 'profile'));
      try {
        const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' })) as {
          targetId: string;
        };
        const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true })) as {
          sessionId: string;
        };
        await browser.send(
          'Emulation.setDeviceMetricsOverride',
          { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false },
          sessionId,
        );
        await browser.send('Page.enable', {}, sessionId);
        await browser.send('Page.navigate', { url: `${url}/fleet?key=${READER}` }, sessionId);
        const evaluate = async <T>(expression: string): Promise<T> => {
          const { result } = (await browser.send(
            'Runtime.evaluate',
            { expression, returnByValue: true },
            sessionId,
          )) as { result: { value: T } };
          return result.value;
        };
        type PageState = { updates: number; html: string; search: string; marker: unknown };
        // While the page is still navigating there is no context to evaluate in: read that as nothing yet.
        const nothing: PageState = { updates: 0, html: '', search: '', marker: undefined };
        const state = async (): Promise<PageState> =>
          (await evaluate<PageState | undefined>(
            `({ updates: Number(document.documentElement.dataset.updates || 0), html: document.documentElement.outerHTML, search: location.search, marker: window.__marker })`,
          ).catch(() => undefined)) ?? nothing;
        const first = await eventually(
          state,
          (s) =>
            s.updates >= 1 &&
            s.html.includes('data-actor="fleet-a/app/db"') &&
            s.html.includes('data-agent="fleet-a/desk"') &&
            s.html.includes('data-dead-letter="fleet-a/nobody"'),
          20_000,
          'the first snapshot on the page',
        );
        expect(first.html).toContain('data-node="fleet-a"');
        expect(first.html).toContain('data-actor="fleet-a/app"');
        expect(first.html).toContain('data-actor="fleet-a/app/api"');
        expect(first.html).toContain(`href="http://jaeger.test:16686/trace/${TRACE_ID}"`);
        expect(first.html).not.toContain('data-actor="fleet-a/late"');
        // The key left the address bar (it stays in sessionStorage for the event stream's reconnects).
        expect(first.search).toBe('');
        // A marker on the window survives only if the page is never reloaded.
        await evaluate('window.__marker = 42');

        fleet.spawn(worker, { name: 'late' });
        const live = await eventually(
          state,
          (s) => s.html.includes('data-actor="fleet-a/late"'),
          15_000,
          'the late actor on the page',
        );
        expect(live.marker).toBe(42);
        expect(live.updates).toBeGreaterThan(first.updates);

        const shot = (await browser.send('Page.captureScreenshot', { format: 'png' }, sessionId)) as {
          data: string;
        };
        const png = Buffer.from(shot.data, 'base64');
        writeFileSync(join(dir, 'fleet.png'), png);
        if (process.env.TROUPE_FLEET_SCREENSHOT) writeFileSync(process.env.TROUPE_FLEET_SCREENSHOT, png);
        const image = inspectPng(png);
        expect(image.width).toBe(WIDTH);
        expect(image.height).toBe(HEIGHT);
        // Not blank: a blank page has one colour and no variance; the drawn page has text, panels and badges.
        expect(image.variance).toBeGreaterThan(50);
        expect(image.colors).toBeGreaterThan(20);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
