// One trace across four processes: this one asks actor `front` on node process 1, which asks actor `back` on node
// process 2 over NATS, which runs a task on a BullMQ worker process; the reply flows back. Every process records
// with its own SDK and in-memory exporter; the children write their spans to files on SIGTERM.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, type Reply } from '../../runtime/index.js';
import { otelTracing } from '../../telemetry/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const script = fileURLToPath(new URL('./fixtures/trace-node.mjs', import.meta.url));

/** A finished span as the processes write it. */
interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  pid: number;
  role: string;
}

interface Child {
  role: string;
  proc: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

let nats: ServerProcess;
let redis: ServerProcess;
let dir: string;
const children: Child[] = [];
let system: ActorSystem | undefined;

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
  dir = mkdtempSync(join(tmpdir(), 'troupe-trace-'));
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterAll(async () => {
  await system?.close();
  for (const child of children) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    await child.exited;
  }
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
  await Promise.all([nats?.stop(), redis?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function start(role: string, namespace: string, prefix: string): Promise<Child> {
  const out = join(dir, `${role}.json`);
  const proc = spawn(process.execPath, [script, role, nats.url, redis.url, namespace, prefix, out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child = { role, proc, out, exited };
  children.push(child);
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) resolve();
    });
    void exited.then((code) => reject(new Error(`${role} exited early (${code}): ${stderr}`)));
  });
  return child;
}

describe('one trace across processes', () => {
  it('follows an ask through two node processes, NATS and a BullMQ worker, and back', async () => {
    const namespace = `te${randomBytes(3).toString('hex')}`;
    const prefix = `te${randomBytes(3).toString('hex')}`;
    await Promise.all([
      start('front', namespace, prefix),
      start('back', namespace, prefix),
      start('worker', namespace, prefix),
    ]);
    system = await createSystem({
      nodeId: 'entry',
      tracing: otelTracing(),
      transport: natsTransport({ servers: nats.url, namespace }),
    });
    type Front = { go: { n: number } & Reply<{ n: number; worker: number; back: number; front: number }> };
    const root = trace.getTracer('e2e').startSpan('entry');
    const reply = await context.with(trace.setSpan(context.active(), root), () =>
      system!.ref<Front>('tf/front').ask({ type: 'go', n: 21 }, { timeout: 20_000 }),
    );
    root.end();
    expect(reply.n).toBe(42);

    for (const child of children) child.proc.kill('SIGTERM');
    const codes = await Promise.all(children.map((c) => c.exited));
    expect(codes).toEqual([0, 0, 0]);
    const mine: SpanRecord[] = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: s.kind,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      attributes: s.attributes as Record<string, unknown>,
      pid: process.pid,
      role: 'entry',
    }));
    const all = [
      ...mine,
      ...children.flatMap((c) => JSON.parse(readFileSync(c.out, 'utf8')) as SpanRecord[]),
    ];
    const traceId = root.spanContext().traceId;
    const inTrace = all.filter((s) => s.traceId === traceId);
    const find = (name: string, role: string): SpanRecord => {
      const found = inTrace.filter((s) => s.name === name && s.role === role);
      expect(found, `${name} in ${role}: ${inTrace.map((s) => `${s.role}:${s.name}`)}`).toHaveLength(1);
      return found[0]!;
    };
    const link = (child: SpanRecord, parent: SpanRecord): void => {
      expect(child.parentSpanId, `${child.name} (${child.role}) under ${parent.name} (${parent.role})`).toBe(
        parent.spanId,
      );
    };

    // Every process took part in the one trace.
    expect(new Set(inTrace.map((s) => s.pid)).size).toBe(4);
    expect(new Set(inTrace.map((s) => s.role))).toEqual(new Set(['entry', 'front', 'back', 'worker']));
    expect(reply.front).toBe(children[0]!.proc.pid);
    expect(reply.back).toBe(children[1]!.proc.pid);
    expect(reply.worker).toBe(children[2]!.proc.pid);

    const entry = find('entry', 'entry');
    const askFront = find('ask tf/front', 'entry');
    const processFront = find('process front', 'front');
    const askBack = find('ask tb/back', 'front');
    const processBack = find('process back', 'back');
    const enqueue = find('send trace-double', 'back');
    const run = find('process trace-double', 'worker');
    link(askFront, entry);
    link(processFront, askFront);
    link(askBack, processFront);
    link(processBack, askBack);
    link(enqueue, processBack);
    link(run, enqueue);

    expect(askFront.kind).toBe(SpanKind.CLIENT);
    expect(askBack.attributes['messaging.system']).toBe('nats');
    expect(processBack.attributes['troupe.node.id']).toBe('tb');
    expect(enqueue.kind).toBe(SpanKind.PRODUCER);
    expect(enqueue.attributes['messaging.system']).toBe('bullmq');
    expect(run.kind).toBe(SpanKind.CONSUMER);
    expect(run.attributes['messaging.message.id']).toBe(enqueue.attributes['messaging.message.id']);
    expect(run.attributes['troupe.task.attempt']).toBe(1);
  });
});
