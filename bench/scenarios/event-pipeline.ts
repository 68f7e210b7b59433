// Scenario `event-pipeline`: the seeds' figure for an event-driven agent pipeline, with tracing on (an OpenTelemetry
// SDK recording every span: AlwaysOn sampler, BatchSpanProcessor into memory). Events published on a fast topic ->
// a type subscription -> one of 1,000 virtual "triage" actors (by the event's subject) doing a cheap agent-like
// step without a model (keep a short history, build the prompt it would send, pick a label) -> a result published
// on another topic -> a listener that settles the event's latency. Goal: at least 10,000 events/s with p99 under
// 100 ms. Two troupe settings: the actors on a system without a transport (the node consuming the topic hosts
// them), and on a system with the NATS transport (each tell to a virtual actor crosses NATS to its shard's owner,
// here the same node). Baseline: the same step in plain nats.js callbacks (subscribe, JSON, per-key state, publish).

import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { type ActorSystem, createSystem, defineActor, type TopicBus } from '../../runtime/index.js';
import { otelTracing } from '../../telemetry/index.js';
import { natsTopicBus, natsTransport } from '../../transport/index.js';
import { type TopicEventProtocol, type Topics, topics } from '../../workflows/index.js';
import { Histogram } from '../histogram.js';
import { pipelined } from '../load.js';
import type { Figure, Scenario } from '../scenario.js';

/** Virtual actors the events spread over (by subject). */
const KEYS = 1_000;
/** Events in the pipeline at once (published, result not yet seen), on both sides. */
const WINDOW = 500;
/** The seeds' goals. */
const GOAL_RATE = 10_000;
const GOAL_P99_MS = 100;

interface Ticket {
  i: number;
  text: string;
}

/** The agent-like step: remember the last 3 tickets, build the prompt a model would get, pick a label. */
function triage(history: string[], ticket: Ticket): { label: string; promptChars: number } {
  history.push(ticket.text);
  if (history.length > 3) history.shift();
  const prompt = `You triage support tickets.\nRecent:\n${history.join('\n')}\nTicket ${ticket.i}: ${ticket.text}\nLabel:`;
  const label = /refund|charge/.test(ticket.text)
    ? 'billing'
    : /crash|error/.test(ticket.text)
      ? 'bug'
      : 'other';
  return { label, promptChars: prompt.length };
}

const TEXTS = [
  'app crash on start',
  'double charge on card',
  'how do I export',
  'refund please',
  'error 500',
];

function installSdk(): { uninstall(): Promise<void>; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    exporter,
    async uninstall() {
      trace.disable();
      context.disable();
      propagation.disable();
      await provider.shutdown();
    },
  };
}

/** One troupe pipeline: a system, its bus and hub, the triage type subscribed, a listener on the results. */
interface Pipeline {
  issue(i: number): Promise<unknown>;
  /** Forgets events still waiting (the round ended before they came back). */
  clear(): void;
  close(): Promise<void>;
}

async function openPipeline(system: ActorSystem, bus: TopicBus, prefix: string): Promise<Pipeline> {
  const hub: Topics = topics({ system, bus });
  system.register(
    'triage',
    defineActor<TopicEventProtocol<Ticket>, { history: string[] }>({
      init: () => ({ history: [] }),
      handlers: {
        topicEvent: async (m, c) => {
          const { label } = triage(c.state.history, m.event.data);
          await hub.publish(`${prefix}.results.triaged`, {
            type: 'ticket.triaged',
            subject: m.event.subject as string,
            data: { i: m.event.data.i, label },
          });
        },
      },
    }),
    { passivateAfterMs: 60_000 },
  );
  await hub.subscribeType<Ticket>(`${prefix}.tickets.>`, 'triage', (e) => e.subject as string, {
    delivery: 'tell',
  });
  const waiting = new Map<number, () => void>();
  await bus.subscribe(`${prefix}.results.>`, (m) => {
    const i = (JSON.parse(m.data) as { data: { i: number } }).data.i;
    waiting.get(i)?.();
    waiting.delete(i);
  });
  return {
    issue(i) {
      const done = new Promise<void>((resolve) => waiting.set(i, resolve));
      const data: Ticket = { i, text: TEXTS[i % TEXTS.length] as string };
      return hub
        .publish(`${prefix}.tickets.new`, { type: 'ticket.new', subject: `u${i % KEYS}`, data })
        .then(() => done);
    },
    clear: () => waiting.clear(),
    async close() {
      await hub.close();
      await bus.close();
      await system.close();
    },
  };
}

/** The baseline: the same step in plain nats.js callbacks. */
async function openBaseline(url: string, ns: string): Promise<Pipeline> {
  const nc: NatsConnection = await connect({ servers: url, name: 'bench-pipeline-baseline' });
  const history = new Map<string, string[]>();
  const waiting = new Map<number, () => void>();
  const subs: Subscription[] = [
    nc.subscribe(`base.${ns}.tickets.>`, {
      callback: (_err, msg) => {
        const event = JSON.parse(msg.string()) as { subject: string; data: Ticket };
        let h = history.get(event.subject);
        if (h === undefined) {
          h = [];
          history.set(event.subject, h);
        }
        const { label } = triage(h, event.data);
        nc.publish(
          `base.${ns}.results.triaged`,
          JSON.stringify({
            type: 'ticket.triaged',
            subject: event.subject,
            data: { i: event.data.i, label },
          }),
        );
      },
    }),
    nc.subscribe(`base.${ns}.results.>`, {
      callback: (_err, msg) => {
        const i = (JSON.parse(msg.string()) as { data: { i: number } }).data.i;
        waiting.get(i)?.();
        waiting.delete(i);
      },
    }),
  ];
  await nc.flush();
  return {
    issue(i) {
      const done = new Promise<void>((resolve) => waiting.set(i, resolve));
      const data: Ticket = { i, text: TEXTS[i % TEXTS.length] as string };
      nc.publish(
        `base.${ns}.tickets.new`,
        JSON.stringify({
          id: String(i),
          type: 'ticket.new',
          subject: `u${i % KEYS}`,
          data,
          time: performance.now(),
        }),
      );
      return done;
    },
    clear: () => waiting.clear(),
    async close() {
      for (const s of subs) s.unsubscribe();
      await nc.close();
    },
  };
}

const SIDES = ['local', 'nats', 'baseline'] as const;
type Side = (typeof SIDES)[number];

/** `event-pipeline`: see the file comment. */
export const eventPipeline: Scenario = {
  name: 'event-pipeline',
  description: `events -> fast topic -> type subscription -> ${KEYS} virtual triage actors (traced, no model) -> result topic, ${WINDOW} in flight; actors on a local system, and on the NATS transport; vs plain nats.js callbacks; goal >= ${GOAL_RATE} events/s, p99 < ${GOAL_P99_MS} ms`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: `events through the pipeline, actors local to the consuming node (window ${WINDOW})`,
      unit: 'events/s',
      kind: 'throughput',
      better: 'higher',
    },
    {
      id: 'p50',
      label: 'event -> result latency p50, actors local',
      unit: 'µs',
      kind: 'latency',
      better: 'lower',
    },
    {
      id: 'p99',
      label: 'event -> result latency p99, actors local',
      unit: 'µs',
      kind: 'latency',
      better: 'lower',
    },
    {
      id: 'throughput-nats',
      label: `events through the pipeline, actors on the NATS transport (window ${WINDOW})`,
      unit: 'events/s',
      kind: 'throughput',
      better: 'higher',
    },
    {
      id: 'p99-nats',
      label: 'event -> result latency p99, actors on NATS',
      unit: 'µs',
      kind: 'latency',
      better: 'lower',
    },
  ],
  async open(ctx) {
    const url = ctx.natsUrl!;
    const ns = ctx.namespace.replace(/[^A-Za-z0-9_-]/g, '_');
    const sdk = installSdk();
    const pipelines: Partial<Record<Side, Pipeline>> = {};
    try {
      pipelines.local = await openPipeline(
        await createSystem({ nodeId: 'pipeline-local', tracing: otelTracing() }),
        await natsTopicBus({ servers: url, namespace: ns }),
        'local',
      );
      const natsSystem = await createSystem({
        nodeId: 'pipeline-nats',
        transport: natsTransport({ servers: url, namespace: `${ns}_n` }),
        tracing: otelTracing(),
      });
      pipelines.nats = await openPipeline(
        natsSystem,
        await natsTopicBus({ transport: natsSystem.transport, namespace: ns }),
        'nats',
      );
      pipelines.baseline = await openBaseline(url, ns);
    } catch (err) {
      await Promise.all(Object.values(pipelines).map((p) => p.close().catch(() => undefined)));
      await sdk.uninstall();
      throw err;
    }
    let next = 0;

    return {
      async round(budget) {
        const total = ctx.count(20_000, 100_000, budget);
        const histograms = { local: new Histogram(), nats: new Histogram(), baseline: new Histogram() };
        const rates = { local: 0, nats: 0, baseline: 0 };
        for (const side of SIDES) {
          ctx.progress(`${side}: ${total} events, ${WINDOW} in flight`);
          const pipeline = pipelines[side] as Pipeline;
          const first = next;
          next += total;
          const histogram = histograms[side];
          const r = await pipelined({
            total,
            window: WINDOW,
            deadline: budget.deadline(),
            onLatency: (nanos) => histogram.record(nanos),
            issue: (k) => pipeline.issue(first + k),
          });
          if (r.failed > 0) throw r.firstError;
          rates[side] = (r.completed / Math.max(r.elapsedMs, 0.001)) * 1000;
          pipeline.clear();
        }
        sdk.exporter.reset();
        const ms = (h: Histogram, p: number): string => (h.percentile(p) / 1e6).toFixed(1);
        ctx.progress(
          `local ${Math.round(rates.local)} events/s p99 ${ms(histograms.local, 99)} ms, nats ${Math.round(rates.nats)} events/s p99 ${ms(histograms.nats, 99)} ms (goal >= ${GOAL_RATE}, < ${GOAL_P99_MS} ms)`,
        );
        const us = (h: Histogram, p: number): number => h.percentile(p) / 1000;
        const figures: Record<string, Figure> = {
          throughput: { troupe: rates.local, baseline: rates.baseline },
          p50: { troupe: us(histograms.local, 50), baseline: us(histograms.baseline, 50) },
          p99: { troupe: us(histograms.local, 99), baseline: us(histograms.baseline, 99) },
          'throughput-nats': { troupe: rates.nats, baseline: rates.baseline },
          'p99-nats': { troupe: us(histograms.nats, 99), baseline: us(histograms.baseline, 99) },
        };
        return { figures, latency: { troupe: histograms.local, baseline: histograms.baseline } };
      },
      async close() {
        for (const p of Object.values(pipelines)) await p.close().catch(() => undefined);
        await sdk.uninstall();
      },
    };
  },
};
