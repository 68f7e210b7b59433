// The graph run routes: a graph posted as JSON run to its result, and a run's status and resume by name.

import type { GraphDefinition, JsonState } from '../../workflows/index.js';
import type { CustomGraphs } from '../graphs.js';
import * as S from '../schemas.js';
import type { Route } from './route.js';

export interface GraphRunRoutesDeps {
  graphs: CustomGraphs;
  askTimeoutMs: number;
  /** Deadline of a posted graph's result. */
  runTimeoutMs: number;
}

/** POST /graph/custom, GET /graphs/:name/runs/:runId, POST /graphs/:name/runs/:runId/resume. */
export function graphRunRoutes(deps: GraphRunRoutesDeps): Route[] {
  const { graphs, askTimeoutMs, runTimeoutMs } = deps;
  return [
    {
      method: 'POST',
      url: '/graph/custom',
      summary: 'Runs a graph given as a JSON definition (node types: set, template) as a durable run',
      scope: () => 'graphs:run',
      schema: { body: S.customGraph },
      handler: async (req) => {
        const body = req.body as {
          name: string;
          definition: GraphDefinition;
          input?: Partial<JsonState>;
          runId?: string;
        };
        const runs = graphs.runs(body.name, body.definition);
        const runId = body.runId ?? `gw-${crypto.randomUUID()}`;
        await runs.start(runId, body.input, { timeout: askTimeoutMs });
        return { runId, graph: body.name, ...(await runs.result(runId, { timeout: runTimeoutMs })) };
      },
    },
    {
      method: 'GET',
      url: '/graphs/:name/runs/:runId',
      summary: "A graph run's status",
      scope: () => 'graphs:run',
      schema: { params: S.graphRunParams },
      handler: async (req) => {
        const { name, runId } = req.params as { name: string; runId: string };
        return graphs.client(name).status(runId, { timeout: askTimeoutMs });
      },
    },
    {
      method: 'POST',
      url: '/graphs/:name/runs/:runId/resume',
      summary: 'Gives the node a graph run waits at its value',
      scope: () => 'graphs:run',
      schema: { params: S.graphRunParams, body: S.resumeBody },
      handler: async (req) => {
        const { name, runId } = req.params as { name: string; runId: string };
        const { value, node } = req.body as { value: unknown; node?: string };
        return graphs
          .client(name)
          .resume(runId, value, { timeout: askTimeoutMs, ...(node === undefined ? {} : { node }) });
      },
    },
  ];
}
