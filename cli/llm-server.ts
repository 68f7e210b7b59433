// `troupe llm-server`: the offline OpenAI-compatible model server, standalone, for demos, benches and trying an
// agent without a model API.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type LlmReply, startLlmServer } from '../testing/index.js';

const USAGE = `Usage: troupe llm-server [--port P] [--host H] [--latency MS] [--script FILE.json] [--api-key KEY]

Serves an offline OpenAI-compatible API (/v1/chat/completions with SSE, /v1/embeddings, /v1/models) until
SIGINT or SIGTERM. Unscripted chats answer "Echo: <last user message>"; embeddings are deterministic.

Options:
  --port P             port to listen on (default: a free one; the URL is printed)
  --host H             address to bind (default 127.0.0.1)
  --latency MS         delay before every answer (default 0)
  --chunk-delay MS     pause between streamed chunks (default 0)
  --script FILE.json   replies per model, replayed in a loop: { "model": ["text", { "toolCalls": [...] }] }
                       ("*" for every model)
  --api-key KEY        require this bearer key (default: any)
  --models A,B         model ids /v1/models lists
  -h, --help           show this help
`;

function nonNegative(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} expects a whole number >= 0, got "${value}"`);
  return n;
}

/** The script file: an object mapping model names to a reply or a list of replies. */
async function loadScript(path: string): Promise<Record<string, LlmReply[]>> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${path}: expected an object mapping model names to replies`);
  }
  const out: Record<string, LlmReply[]> = {};
  for (const [model, replies] of Object.entries(parsed)) {
    const list = Array.isArray(replies) ? replies : [replies];
    for (const reply of list) {
      if (
        typeof reply !== 'string' &&
        (typeof reply !== 'object' || reply === null || Array.isArray(reply))
      ) {
        throw new Error(`${path}: a reply of "${model}" is neither text nor an object`);
      }
    }
    out[model] = list as LlmReply[];
  }
  return out;
}

/**
 * Runs `troupe llm-server`; resolves with the exit code once SIGINT or SIGTERM (or `stop`, for tests) ends it.
 */
export async function main(argv: string[], stop?: AbortSignal): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        latency: { type: 'string' },
        'chunk-delay': { type: 'string' },
        script: { type: 'string' },
        'api-key': { type: 'string' },
        models: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`troupe llm-server: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const str = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  let port: number | undefined;
  let latency: number | undefined;
  let chunkDelay: number | undefined;
  try {
    port = nonNegative(str('port'), '--port');
    latency = nonNegative(str('latency'), '--latency');
    chunkDelay = nonNegative(str('chunk-delay'), '--chunk-delay');
  } catch (err) {
    process.stderr.write(`troupe llm-server: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const scriptPath = str('script');
  const script = scriptPath === undefined ? {} : await loadScript(scriptPath);
  const apiKey = str('api-key');
  const models = str('models');
  const server = await startLlmServer({
    ...(port === undefined ? {} : { port }),
    ...(str('host') === undefined ? {} : { host: str('host') as string }),
    ...(latency === undefined ? {} : { latencyMs: latency }),
    ...(chunkDelay === undefined ? {} : { chunkDelayMs: chunkDelay }),
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(models === undefined ? {} : { models: models.split(',').filter((m) => m !== '') }),
  });
  for (const [model, replies] of Object.entries(script)) server.script(model, replies, { repeat: true });
  process.stdout.write(`troupe llm-server: listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (stop?.aborted) done();
    else stop?.addEventListener('abort', done, { once: true });
  });
  await server.close();
  process.stdout.write(`troupe llm-server: stopped after ${server.requests.length} requests\n`);
  return 0;
}
