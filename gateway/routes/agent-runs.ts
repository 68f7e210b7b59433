// The agent run routes: a run answered when done, or started and its events streamed as server-sent events.

import type { FastifyReply } from 'fastify';
import type { AgentProtocol } from '../../agents/index.js';
import type { ActorSystem } from '../../runtime/index.js';
import { errorAnswer } from '../errors.js';
import { eventKind, type RunStreams } from '../run-streams.js';
import * as S from '../schemas.js';
import { agentIdOf, agentOf } from './agents.js';
import type { Route } from './route.js';

const KEEP_ALIVE_MS = 15_000;

export interface AgentRunRoutesDeps {
  system: ActorSystem;
  streams: RunStreams;
  /** Deadline of POST /agents/:id/run. */
  runTimeoutMs: number;
}

type RunBody = { input: AgentProtocol['run']['input']; runId?: string };

/** True when an Accept header asks for server-sent events. */
function wantsEventStream(accept: string | undefined): boolean {
  return accept?.includes('text/event-stream') === true;
}

/** POST /agents/:id/run, POST /agents/:id/runs, GET /agents/:id/runs/:runId/events; `close` ends open streams. */
export function agentRunRoutes(deps: AgentRunRoutesDeps): { routes: Route[]; close(): void } {
  const { system, streams, runTimeoutMs } = deps;
  const open = new Set<AbortController>();

  /** Streams run `runId`'s events after `after` as server-sent events on `reply`, until it ends or the client goes. */
  async function sendEvents(
    reply: FastifyReply,
    agent: string,
    runId: string,
    after: number,
    extraHeaders: Record<string, string>,
  ): Promise<void> {
    const ac = new AbortController();
    open.add(ac);
    reply.hijack();
    const raw = reply.raw;
    raw.on('close', () => ac.abort());
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...extraHeaders,
    });
    raw.write(': troupe run events\n\n');
    // A comment now and then keeps proxies from closing a quiet stream (a run waiting for approval).
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
    try {
      for await (const record of streams.events(agent, runId, after, ac.signal)) {
        const kind = eventKind(record.data) ?? 'event';
        if (!raw.write(`id: ${record.seq}\nevent: ${kind}\ndata: ${record.data}\n\n`))
          await new Promise<void>((resolve) => {
            raw.once('drain', resolve);
            ac.signal.addEventListener('abort', () => resolve(), { once: true });
          });
      }
    } catch (err) {
      const { body } = errorAnswer(err);
      if (!raw.writableEnded) raw.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    } finally {
      clearInterval(keepAlive);
      open.delete(ac);
      raw.end();
    }
  }

  const routes: Route[] = [
    {
      method: 'POST',
      url: '/agents/:id/run',
      summary: 'Runs an agent and answers its output',
      scope: (req) => `agents:run:${agentIdOf(req)}`,
      schema: { params: S.agentParams, body: S.runBody },
      handler: async (req) => {
        const { input, runId } = req.body as RunBody;
        // An id minted here is new everywhere: the agent reads no journal for it.
        const id = runId ?? `gw-${crypto.randomUUID()}`;
        const output = await agentOf(system, req).ask(
          { type: 'run', input, runId: id, ...(runId === undefined ? { fresh: true } : {}) },
          { timeout: runTimeoutMs },
        );
        return { runId: id, output };
      },
    },
    {
      method: 'POST',
      url: '/agents/:id/runs',
      summary:
        'Starts a run: 202 with the URL of its events, or with Accept: text/event-stream its events at once ' +
        '(the same stream as GET …/events; the troupe-run-id and content-location headers name it for a resume)',
      scope: (req) => `agents:run:${agentIdOf(req)}`,
      schema: { params: S.agentParams, body: S.runBody },
      handler: async (req, reply) => {
        const { input, runId } = req.body as RunBody;
        const agent = agentIdOf(req);
        const id = runId ?? `gw-${crypto.randomUUID()}`;
        streams.start(agent, input, id, runId === undefined);
        // The answer waits one turn of the event loop, so what the run needs first goes first: the ask flushed to
        // the transport, and an agent on this node through its first step up to the model request. The answer is
        // rarely on the path to the first token (a client's GET is in place well before a model's first token);
        // the model request always is, and on one node the client's 202 and GET would be served ahead of it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const events = `/agents/${encodeURIComponent(agent)}/runs/${encodeURIComponent(id)}/events`;
        // One request for the whole run, as a browser's chat client makes it: the run's events from the first.
        if (wantsEventStream(req.headers.accept))
          return sendEvents(reply, agent, id, 0, { 'troupe-run-id': id, 'content-location': events });
        return reply.code(202).send({ runId: id, events });
      },
    },
    {
      method: 'GET',
      url: '/agents/:id/runs/:runId/events',
      summary:
        "A run's events as server-sent events (id: the event's sequence; Last-Event-ID or ?from resumes)",
      scope: (req) => `agents:run:${agentIdOf(req)}`,
      schema: { params: S.runParams, querystring: S.eventsQuery, headers: S.eventsHeaders },
      handler: async (req, reply) => {
        const { id, runId } = req.params as { id: string; runId: string };
        const lastId = req.headers['last-event-id'];
        const from = (req.query as { from?: number }).from;
        const after = typeof lastId === 'string' && /^\d+$/.test(lastId) ? Number(lastId) : (from ?? 0);
        await sendEvents(reply, id, runId, after, {});
      },
    },
  ];
  return {
    routes,
    close() {
      for (const ac of open) ac.abort();
    },
  };
}
