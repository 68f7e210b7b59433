// `troupe graph run def.json`: a graph from a JSON definition, run as a durable run: embedded (an in-memory log)
// by default, on NATS (the run's log on JetStream) with --nats, where the same command with the same --run-id
// picks a run up where it stopped. `troupe graph validate` only builds it.

import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { modelRouter } from '../models/index.js';
import { type ActorSystem, type AppendLog, createSystem, memoryAppendLog } from '../runtime/index.js';
import { type LlmServer, startLlmServer } from '../testing/index.js';
import { natsAppendLog, natsTransport } from '../transport/index.js';
import {
  defineGraphRun,
  fillTemplate,
  type GraphDefinition,
  type GraphRegistry,
  type GraphRunOutcome,
  graphFromJson,
  graphRuns,
  type JsonState,
  stockNodes,
  stringConfig,
} from '../workflows/index.js';
import { type Invocation, invocation, printJson, UsageError } from './args.js';
import { isSet } from './config.js';
import { connectTo, natsAuthOption } from './connect.js';
import { importModule } from './modules.js';

const USAGE = `Usage: troupe graph run <def.json> [--input JSON] [--run-id ID] [--resume JSON] [--modules M]...
                        [--model-url URL] [--nats URL] [--namespace NS] [--json]
       troupe graph validate <def.json> [--modules M]...

Builds the graph a JSON definition describes (nodes by registered type, conditions in the safe expression
language, never code) and runs it as a durable run: each node's update and each step are recorded in the run's
log. Embedded by default; with --nats the log is on JetStream and this process hosts the run, so running the
same command again with the same --run-id goes on from the last checkpoint (nothing finished runs again).

Stock node types (a node's "config" configures it):
  set        returns its config as the update: {"type":"set","config":{"verdict":"ok"}}
  template   {"field":"greeting","text":"Hello {{user.name}}"}: fills {{paths}} from the state
  llm        {"prompt":"Classify: {{text}}","field":"label"}: one model call; the reply goes to field. The model
             is --model-url (any OpenAI-compatible server), else an offline model server started here
  input      {"field":"approval","question":"Ship {{item}}?"}: waits for --resume (an interrupt), sets field
--modules M  a module exporting "nodes" (type -> (config, name) => node function) and "reducers"

Options:
  --input JSON     the run's input (a partial state)
  --run-id ID      the run's id (default: a new one); an existing run is not started again
  --resume JSON    the value for the node the run waits at (after ctx.interrupt)
  --model-url URL  the OpenAI-compatible endpoint of llm nodes
Exit codes: 0 done, 3 waiting at an interrupt, 1 failed (the code is printed).
`;

/** The stock node types, plus the modules' own. */
async function registryOf(
  modules: string[],
  model: () => Promise<(prompt: string) => Promise<string>>,
): Promise<GraphRegistry> {
  const nodes: GraphRegistry['nodes'] = {
    ...stockNodes(),
    llm: (config, name) => {
      const { field, prompt } = stringConfig(config, name, ['field', 'prompt']);
      return async (state) => ({
        [field as string]: await (await model())(fillTemplate(prompt as string, state)),
      });
    },
  };
  const reducers: NonNullable<GraphRegistry['reducers']> = {};
  for (const spec of modules) {
    const mod = await importModule(spec);
    Object.assign(nodes, (mod.nodes ?? {}) as GraphRegistry['nodes']);
    Object.assign(reducers, (mod.reducers ?? {}) as NonNullable<GraphRegistry['reducers']>);
  }
  return { nodes, reducers };
}

function readDefinition(path: string): GraphDefinition & { name?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${path}`);
  }
  try {
    return JSON.parse(text) as GraphDefinition & { name?: string };
  } catch (err) {
    throw new UsageError(`${path} is not JSON: ${(err as Error).message}`);
  }
}

function parseJson(flag: string, value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(String(value));
  } catch {
    throw new UsageError(`${flag} expects JSON, got ${String(value)}`);
  }
}

async function run(inv: Invocation<Record<string, unknown>>, file: string): Promise<number> {
  const { values } = inv;
  const def = readDefinition(file);
  const name = (typeof def.name === 'string' ? def.name : basename(file, extname(file))).replace(
    /[^-_a-zA-Z0-9]/g,
    '-',
  );
  let server: LlmServer | undefined;
  const model = async () => {
    let baseURL = typeof values['model-url'] === 'string' ? values['model-url'] : undefined;
    if (baseURL === undefined) {
      server ??= await startLlmServer();
      baseURL = server.url;
    }
    const router = modelRouter({
      groups: { g: { deployments: [{ id: 'm', baseURL, model: 'troupe-graph' }] } },
    });
    return async (prompt: string) =>
      (await router.chat('g', { messages: [{ role: 'user', content: prompt }] })).text ?? '';
  };
  const compiled = graphFromJson(def, await registryOf((values.modules as string[]) ?? [], model));
  if (inv.positionals[0] === 'validate') {
    if (inv.json) printJson({ ok: true, name, nodes: compiled.nodes });
    else
      process.stdout.write(`${name}: valid (${compiled.nodes.length} nodes: ${compiled.nodes.join(', ')})\n`);
    return 0;
  }
  const input = parseJson('--input', values.input) as Partial<JsonState> | undefined;
  const resume = parseJson('--resume', values.resume);
  const runId = typeof values['run-id'] === 'string' ? values['run-id'] : `run-${Date.now().toString(36)}`;
  const distributed = isSet(inv.config, 'nats');
  const { nats, namespace } = inv.config.values;
  let system: ActorSystem | undefined;
  let log: AppendLog | undefined;
  try {
    if (distributed) {
      const transport = natsTransport({
        servers: nats,
        namespace,
        logger: inv.logger,
        ...natsAuthOption(inv.config),
      });
      system = await connectTo('NATS', nats, () =>
        createSystem({ nodeId: `graph-${process.pid}`, transport, logger: inv.logger }),
      );
      log = await natsAppendLog({ transport, name: 'graph-runs', namespace });
    } else {
      system = await createSystem({ nodeId: 'graph', logger: inv.logger });
      log = memoryAppendLog();
    }
    const type = defineGraphRun(name, compiled, { log, logger: inv.logger });
    system.register(type);
    const runs = graphRuns(system, type);
    const timeout = 10 * 60_000;
    await runs.start(runId, input, { timeout: 30_000 });
    if (resume !== undefined) await runs.resume(runId, resume, { timeout: 30_000 });
    let outcome: GraphRunOutcome<JsonState>;
    try {
      outcome = await runs.result(runId, { timeout });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (inv.json) printJson({ runId, status: 'failed', code: e.code, message: e.message });
      else process.stderr.write(`run ${runId} failed: ${e.code}: ${e.message}\n`);
      return 1;
    }
    const steps = (await runs.history(runId)).length - 1;
    if (inv.json) printJson({ runId, graph: name, steps, ...outcome });
    else if (outcome.status === 'done')
      process.stdout.write(
        `run ${runId} done in ${steps} steps\n${JSON.stringify(outcome.state, null, 2)}\n`,
      );
    else
      process.stdout.write(
        `run ${runId} waits at ${outcome.interrupts.map((i) => `${i.node} (${JSON.stringify(i.payload)})`).join(', ')}: ` +
          `run again with --run-id ${runId} --resume '<json>'${distributed ? '' : ' (embedded runs end with this process: use --nats to keep them)'}\n`,
      );
    return outcome.status === 'done' ? 0 : 3;
  } finally {
    await system?.close();
    await log?.close();
    await server?.close();
  }
}

/** Runs `troupe graph`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      input: { type: 'string' },
      'run-id': { type: 'string' },
      resume: { type: 'string' },
      modules: { type: 'string', multiple: true },
      'model-url': { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const [verb, file] = inv.positionals;
  if ((verb !== 'run' && verb !== 'validate') || file === undefined)
    throw new UsageError('expected: troupe graph run <def.json> (or validate <def.json>)');
  return run(inv, file);
}
