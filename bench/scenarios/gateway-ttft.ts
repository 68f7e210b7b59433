// Scenario `gateway-ttft`: time to first token through the gateway's SSE stream of an agent run, against a
// direct SSE stream from the model. Troupe: one POST /agents/:id/runs with Accept: text/event-stream, which
// answers with the run's events (one request, as a chat client makes it; the direct stream is one request too)
// over real HTTP, timed from the POST until the first `token` event is parsed. Baseline: the
// `openai` client streaming the same scripted reply from the same offline model server (0 ms latency), timed
// from the call until the first content delta. The two run interleaved one for one, in two set-ups: one node
// with the stream log in memory (`local`), and a gateway node and an agent node on NATS with the stream log on
// JetStream (`nats`), and the same with the agent node in a child process of its own (`apart`, how a fleet
// runs it: in the one-process set-ups the client, the gateway and the agent take turns on one event loop, so the
// agent's model request waits behind the client's request and the gateway's collector). Every run also records
// when the model server saw the request (its
// script is a function called in this process), which splits each TTFT into "to the model" (client → gateway →
// agent ask → router → openai request) and "back" (model SSE → router stream → agent token tell → collector →
// log append → hand-off to the reader (or a log read) → SSE write → client parse): the figures that say where
// added time goes.

import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { agentKit } from '../../agents/index.js';
import { type Gateway, gateway, streamKey } from '../../gateway/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  memoryAppendLog,
  silentLogger,
} from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import { wallNow } from '../load.js';
import { ttftAgentRole } from '../roles/ttft-agent.js';
import type { MetricSpec, Scenario } from '../scenario.js';
import { readSse } from '../sse-reader.js';
import { quantile } from '../stats.js';
import { type LogMarks, timedLog } from './gateway-ttft-log.js';

const KEY = 'bench-gateway-ttft-key';
const MODEL = 'ttft';
/** The scripted reply: a few words, streamed in the server's usual pieces (one per word). */
const REPLY = 'The answer is forty two.';
/**
 * Pause between the reply's chunks, as a real model's tokens come tens of ms apart: the first token is then
 * timed alone. The `burst` phase sends the chunks back to back instead, where in this one-process bench the
 * later tokens' work (agent, collector, log, SSE) competes with the client for the loop.
 */
const PACE_MS = 5;
/** The target: ms added at p50 over the direct stream. */
const TARGET_MS = 2;

type SetupId = 'local' | 'nats' | 'apart';

interface Setup {
  id: SetupId;
  url: string;
  agent: string;
  marks: Map<string, LogMarks>;
}

/** One timed stream: ms from its start to the model server seeing the request, and to the first token. */
interface Sample {
  toModel: number;
  ttft: number;
  /** Gateway runs only: model request → first token appended to the stream log, the append, append → reader. */
  toAppend?: number;
  append?: number;
  toRead?: number;
  /** Gateway runs only: the token at the SSE reader → the client parsing it (SSE write, HTTP, parse). */
  toClient?: number;
}

const latency = (id: string, label: string): MetricSpec => ({
  id,
  label,
  unit: 'ms',
  kind: 'latency',
  better: 'lower',
});

/** `gateway-ttft`: see the file comment. */
export const gatewayTtft: Scenario = {
  name: 'gateway-ttft',
  description: `time to first token of an agent run through the gateway's SSE stream (one POST /agents/:id/runs with Accept: text/event-stream) vs a direct openai stream of the same scripted reply from the offline model server, interleaved: p50/p99 and added ms, one node (log in memory) and gateway + agent nodes on NATS (log on JetStream) (target < ${TARGET_MS} ms added at p50)`,
  needs: ['nats'],
  metrics: () => [
    latency('p50', 'TTFT p50, local'),
    latency('p99', 'TTFT p99, local'),
    latency('added-p50', `added p50, local (target < ${TARGET_MS} ms)`),
    latency('added-p99', 'added p99, local'),
    latency('to-model-p50', 'start → model request p50, local'),
    latency('back-p50', 'model request → first token p50, local'),
    latency('log-in-p50', 'model request → first token appended to the stream log p50, local'),
    latency('log-append-p50', 'stream log append of the first token p50, local'),
    latency('log-out-p50', 'first token appended → at the SSE reader (read, or handed over) p50, local'),
    latency('sse-out-p50', 'first token at the SSE reader → parsed by the client p50, local'),
    latency('added-p50-burst', 'added p50, local, chunks back to back'),
    latency('added-p99-burst', 'added p99, local, chunks back to back'),
    latency('p50-nats', 'TTFT p50, on NATS'),
    latency('p99-nats', 'TTFT p99, on NATS'),
    latency('added-p50-nats', `added p50, on NATS (target < ${TARGET_MS} ms)`),
    latency('added-p99-nats', 'added p99, on NATS'),
    latency('to-model-p50-nats', 'start → model request p50, on NATS'),
    latency('back-p50-nats', 'model request → first token p50, on NATS'),
    latency('log-in-p50-nats', 'model request → first token appended to the stream log p50, on NATS'),
    latency('log-append-p50-nats', 'stream log append of the first token p50, on NATS'),
    latency(
      'log-out-p50-nats',
      'first token appended → at the SSE reader (read, or handed over) p50, on NATS',
    ),
    latency('sse-out-p50-nats', 'first token at the SSE reader → parsed by the client p50, on NATS'),
    latency('p50-apart', 'TTFT p50, on NATS, agent node in its own process'),
    latency('p99-apart', 'TTFT p99, on NATS, agent node in its own process'),
    latency(
      'added-p50-apart',
      `added p50, on NATS, agent node in its own process (target < ${TARGET_MS} ms)`,
    ),
    latency('added-p99-apart', 'added p99, on NATS, agent node in its own process'),
    latency('to-model-p50-apart', 'start → model request p50, on NATS, agent node in its own process'),
    latency('back-p50-apart', 'model request → first token p50, on NATS, agent node in its own process'),
    latency('log-in-p50-apart', 'model request → first token appended to the stream log p50, agent apart'),
    latency('log-append-p50-apart', 'stream log append of the first token p50, agent apart'),
    latency('log-out-p50-apart', 'first token appended → at the SSE reader p50, agent apart'),
    latency('sse-out-p50-apart', 'first token at the SSE reader → parsed by the client p50, agent apart'),
  ],
  roles: { agent: ttftAgentRole },
  async open(ctx) {
    const server: LlmServer = await startLlmServer();
    // When the model server saw each request, by its text; set by the script, which runs in this process.
    const seen = new Map<string, number>();
    let pace = PACE_MS;
    const script = () =>
      server.script(MODEL, (req) => {
        seen.set(req.lastUserText, performance.now());
        return { text: REPLY, chunkDelayMs: pace };
      });
    script();
    const router: ModelRouter = modelRouter({
      groups: { [MODEL]: { deployments: [{ id: MODEL, baseURL: server.url, model: MODEL }] } },
      logger: silentLogger,
    });
    const client = new OpenAI({ baseURL: server.url, apiKey: 'no-key', maxRetries: 0, logLevel: 'off' });
    const kit = agentKit({ router, journal: false, logger: silentLogger });
    const def = kit.defineAgent({ name: 'desk', model: MODEL, instructions: 'Talk.' });
    const auth = { apiKeys: [{ key: KEY, scopes: ['agents:run:*'] }] };
    const closers: (() => Promise<void>)[] = [];
    const setups: Setup[] = [];
    /** A gateway node on NATS with its stream log on JetStream, for the fleet set-ups (its agent elsewhere). */
    const gatewayNode = async (id: SetupId, ns: string, agent: string): Promise<Setup> => {
      const transport = natsTransport({ servers: ctx.natsUrl!, namespace: ns });
      const system = await createSystem({ nodeId: `ttft-gateway-${id}`, logger: silentLogger, transport });
      closers.push(() => system.close());
      const log: AppendLog = await natsAppendLog({ transport, name: 'gateway-streams', namespace: ns });
      closers.push(() => log.close());
      const marks = new Map<string, LogMarks>();
      const gw = await gateway({ system, auth, streams: timedLog(log, marks), logger: silentLogger });
      closers.push(() => gw.close());
      return { id, url: await gw.listen(0), agent, marks };
    };
    try {
      // One node: the agent, the gateway and its stream log (in memory) in one system.
      {
        const system = await createSystem({ nodeId: 'ttft-local', logger: silentLogger });
        closers.push(() => system.close());
        const agent = system.spawn(def, { name: 'desk' });
        const log = memoryAppendLog();
        closers.push(() => log.close());
        const marks = new Map<string, LogMarks>();
        const gw: Gateway = await gateway({
          system,
          auth,
          streams: timedLog(log, marks),
          logger: silentLogger,
        });
        closers.push(() => gw.close());
        setups.push({ id: 'local', url: await gw.listen(0), agent: agent.address, marks });
      }
      // A fleet: the agent on one node, the gateway on another, the stream log on JetStream.
      {
        const ns = `${ctx.namespace}-ttft`;
        const fleet: ActorSystem = await createSystem({
          nodeId: 'ttft-fleet',
          logger: silentLogger,
          transport: natsTransport({ servers: ctx.natsUrl!, namespace: ns }),
        });
        closers.push(() => fleet.close());
        const agent = fleet.spawn(def, { name: 'desk' });
        setups.push(await gatewayNode('nats', ns, agent.address));
      }
      // The same fleet with its agent node in a child process; this process keeps the gateway node.
      {
        const ns = `${ctx.namespace}-ttft-apart`;
        const worker = await ctx.fork('agent', {
          natsUrl: ctx.natsUrl!,
          namespace: ns,
          modelUrl: server.url,
          model: MODEL,
        });
        closers.push(() => worker.close());
        setups.push(await gatewayNode('apart', ns, await worker.call<string>('address')));
      }
    } catch (err) {
      for (const close of closers.reverse()) await close().catch(() => {});
      await router.close();
      await server.close();
      throw err;
    }

    let n = 0;
    const messages = (text: string) => [{ role: 'user' as const, content: text }];

    /** The direct stream: the openai client, from the call to the first content delta, then drained. */
    async function direct(): Promise<Sample> {
      const text = `direct ${++n}`;
      const t0 = performance.now();
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: messages(text),
        stream: true,
      });
      let first: number | undefined;
      let got = '';
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta?.content;
        if (delta) {
          first ??= performance.now();
          got += delta;
        }
      }
      if (first === undefined || got !== REPLY) throw new Error(`direct stream answered "${got}"`);
      return sample(text, t0, first);
    }

    /** The gateway's stream: POST the run and read its events from the answer: to the first token, then `finished`. */
    async function viaGateway(s: Setup): Promise<Sample> {
      const text = `${s.id} ${++n}`;
      const runId = `ttft-${n}`;
      const headers = { 'x-api-key': KEY, 'content-type': 'application/json' };
      const t0 = performance.now();
      // One request, as a chat client makes it: the POST answers with the run's events.
      const res = await fetch(`${s.url}/agents/${encodeURIComponent(s.agent)}/runs`, {
        method: 'POST',
        headers: { ...headers, accept: 'text/event-stream' },
        body: JSON.stringify({ input: text, runId }),
      });
      if (res.status !== 200 || res.body === null)
        throw new Error(`POST /runs answered ${res.status}: ${await res.text()}`);
      let first: number | undefined;
      let got = '';
      let output: unknown;
      await readSse(res.body, (event, data) => {
        const e = JSON.parse(data) as { kind: string; text?: string; output?: unknown; message?: string };
        if (event === 'error' || e.kind === 'failed') throw new Error(`run failed: ${data}`);
        if (e.kind === 'token') {
          first ??= performance.now();
          got += e.text ?? '';
        }
        if (e.kind === 'finished') {
          output = e.output;
          return true;
        }
        return false;
      });
      if (first === undefined || got !== REPLY || output !== REPLY)
        throw new Error(
          `gateway stream (${s.id}) answered tokens "${got}", output ${JSON.stringify(output)}`,
        );
      const x = sample(text, t0, first);
      const key = streamKey(s.agent, runId);
      const m = s.marks.get(key);
      s.marks.delete(key);
      if (m?.appendStart === undefined || m.appendEnd === undefined)
        throw new Error(`no stream log marks for ${key}`);
      const model = t0 + x.toModel;
      // A token this gateway appended reaches its readers by hand-off as the append resolves; only a token the
      // client got after a read returned it went through a read.
      const atReader = m.readEnd !== undefined && m.readEnd <= first ? m.readEnd : m.appendEnd;
      return {
        ...x,
        toAppend: m.appendStart - model,
        append: m.appendEnd - m.appendStart,
        toRead: atReader - m.appendEnd,
        toClient: first - atReader,
      };
    }

    function sample(text: string, t0: number, first: number): Sample {
      const at = seen.get(text);
      seen.delete(text);
      if (at === undefined) throw new Error(`the model server never saw "${text}"`);
      return { toModel: at - t0, ttft: first - t0 };
    }

    return {
      async round(budget) {
        const total = ctx.count(300, 2000, budget);
        const figures: Record<string, { troupe: number; baseline?: number }> = {};
        const phases = [
          { s: setups[0]!, suffix: '', pace: PACE_MS },
          { s: setups[1]!, suffix: '-nats', pace: PACE_MS },
          { s: setups[2]!, suffix: '-apart', pace: PACE_MS },
          { s: setups[0]!, suffix: '-burst', pace: 0 },
        ];
        for (const { s, suffix, pace: phasePace } of phases) {
          pace = phasePace;
          ctx.progress(
            `${s.id}, ${phasePace} ms between chunks: ${total} gateway streams, each after a direct openai stream`,
          );
          const base: Sample[] = [];
          const gw: Sample[] = [];
          const deadline = budget.deadline();
          for (let i = 0; i < total && wallNow() < deadline && !ctx.signal.aborted; i++) {
            base.push(await direct());
            gw.push(await viaGateway(s));
          }
          const q = (samples: Sample[], field: keyof Sample, p: number) =>
            quantile(
              samples.map((x) => x[field] ?? 0).sort((a, b) => a - b),
              p,
            );
          figures[`added-p50${suffix}`] = { troupe: q(gw, 'ttft', 0.5) - q(base, 'ttft', 0.5) };
          figures[`added-p99${suffix}`] = { troupe: q(gw, 'ttft', 0.99) - q(base, 'ttft', 0.99) };
          if (suffix === '-burst') continue;
          figures[`p50${suffix}`] = { troupe: q(gw, 'ttft', 0.5), baseline: q(base, 'ttft', 0.5) };
          figures[`p99${suffix}`] = { troupe: q(gw, 'ttft', 0.99), baseline: q(base, 'ttft', 0.99) };
          figures[`to-model-p50${suffix}`] = {
            troupe: q(gw, 'toModel', 0.5),
            baseline: q(base, 'toModel', 0.5),
          };
          const back = (xs: Sample[]) => xs.map((x) => ({ toModel: 0, ttft: x.ttft - x.toModel }));
          figures[`log-in-p50${suffix}`] = { troupe: q(gw, 'toAppend', 0.5) };
          figures[`log-append-p50${suffix}`] = { troupe: q(gw, 'append', 0.5) };
          figures[`log-out-p50${suffix}`] = { troupe: q(gw, 'toRead', 0.5) };
          figures[`sse-out-p50${suffix}`] = { troupe: q(gw, 'toClient', 0.5) };
          figures[`back-p50${suffix}`] = {
            troupe: q(back(gw), 'ttft', 0.5),
            baseline: q(back(base), 'ttft', 0.5),
          };
        }
        server.reset();
        script();
        return { figures };
      },
      async close() {
        for (const close of closers.reverse()) await close().catch(() => {});
        await router.close();
        await server.close();
      },
    };
  },
};
