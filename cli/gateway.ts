// `troupe gateway`: the HTTP gateway on a client node of the fleet (NATS) until SIGTERM/SIGINT. Streams and the
// audit of denials live in JetStream logs, so several gateways behind a load balancer resume each other's
// streams; webhooks publish on the NATS topic bus; GET /agents reads the agents' cards from the KV bucket.

import { readFileSync } from 'node:fs';
import { agentRegistry } from '../agents/index.js';
import { type AuthOptions, authFromEnv, type Gateway, gateway, parseApiKeys } from '../gateway/index.js';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  type KeyValueStore,
  type TopicBus,
} from '../runtime/index.js';
import {
  DEFAULT_SHARED_BUCKET,
  natsAppendLog,
  natsKeyValue,
  natsTopicBus,
  natsTransport,
} from '../transport/index.js';
import { type Topics, topics } from '../workflows/index.js';
import { invocation, UsageError } from './args.js';
import { connectTo, natsAuthOption } from './connect.js';
import { type NodeState, startNodeTelemetry } from './node-telemetry.js';
import { auditRefusals, SECURITY_HELP, SECURITY_OPTION, securityOption } from './security.js';

const USAGE = `Usage: troupe gateway [--port P] [--host H] [--api-keys-file F] [--nats URL] [--namespace NS]

Serves the fleet over HTTP on a client node: agents (cards, status, pause/resume, config, runs, SSE run
streams resumable on any gateway of the namespace), JSON graphs, actor ask/tell, dead letters, nodes and
webhooks (published on topics webhooks.<topic>). GET /openapi.json describes every route; GET /healthz needs
no credential, every other route an API key (x-api-key) or a JWT (Authorization: Bearer) with scopes.

Credentials (never on the command line):
  --api-keys-file F        lines of key:scope,scope (or key:scope;key2:scope); # starts a comment
  TROUPE_GATEWAY_API_KEYS  the same, in the environment
  TROUPE_GATEWAY_JWT_SECRET  HS256 secret of bearer tokens (scopes in the "scope" or "scopes" claim);
                           TROUPE_GATEWAY_JWT_ISSUER / TROUPE_GATEWAY_JWT_AUDIENCE check iss / aud
Scopes: agents:read, agents:write, agents:run:<agent glob>, graphs:run, actors:ask, actors:tell, ops:read,
webhooks:<topic>, admin (everything).

Options:
  --port P                 the port (default 8080; 0: any free port, printed on start)
  --host H                 the address to listen on (default 127.0.0.1)
  --trace-url U            trace page the fleet page links to, e.g. http://jaeger:16686/trace/{traceId}
                           (GET /fleet is a live fleet page: open /fleet?key=KEY in a browser; scope fleet:read)
  --metrics-port P         serve /metrics, /healthz and /readyz of the gateway's node on P (env TROUPE_METRICS_PORT)
  --metrics-host H         the address of that server (env TROUPE_METRICS_HOST; default 127.0.0.1)
  --bucket B               the KV bucket of the agents' cards (default ${DEFAULT_SHARED_BUCKET})
  --node-id ID             the gateway's node id (default gateway-<pid>)
${SECURITY_HELP}
  --stream-hours N         how long run streams stay resumable: JetStream drops their events after N hours
                           (default 24; 0 keeps them forever)
  --rate-limit N           requests per second each credential may make on this instance, bursts of N
                           (past it: 429 GATEWAY_RATE_LIMITED with retry-after; default unlimited)

SIGTERM or SIGINT stops it: open streams end, the node leaves, exit 0.
`;

function authOf(file: string | undefined): AuthOptions {
  const auth = authFromEnv();
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    auth.apiKeys = [...(auth.apiKeys ?? []), ...parseApiKeys(text)];
  }
  if ((auth.apiKeys ?? []).length === 0 && auth.jwt === undefined)
    throw new UsageError(
      'no credentials: give --api-keys-file, TROUPE_GATEWAY_API_KEYS or TROUPE_GATEWAY_JWT_SECRET',
    );
  return auth;
}

/** Run streams are read while a client may resume them: a day, by default, then JetStream drops them. */
const DEFAULT_STREAM_HOURS = 24;

function hoursOf(value: unknown): number {
  if (value === undefined) return DEFAULT_STREAM_HOURS;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 24 * 365)
    throw new UsageError(`--stream-hours expects a number of hours 0-8760, got ${String(value)}`);
  return n;
}

function rateOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000)
    throw new UsageError(`--rate-limit expects requests per second above 0, got ${String(value)}`);
  return n;
}

function portOf(value: unknown): number {
  if (value === undefined) return 8080;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port expects an integer 0-65535, got ${String(value)}`);
  return n;
}

/** Runs `troupe gateway` until a signal; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-keys-file': { type: 'string' },
      bucket: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'trace-url': { type: 'string' },
      'stream-hours': { type: 'string' },
      'rate-limit': { type: 'string' },
      'node-id': { type: 'string' },
      ...SECURITY_OPTION,
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const { values, logger } = inv;
  const port = portOf(values.port);
  const streamHours = hoursOf(values['stream-hours']);
  const rate = rateOf(values['rate-limit']);
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const auth = authOf(typeof values['api-keys-file'] === 'string' ? values['api-keys-file'] : undefined);
  const { nats, namespace } = inv.config.values;
  const nodeId = typeof values['node-id'] === 'string' ? values['node-id'] : `gateway-${process.pid}`;
  // A signing gateway is named by its key: its id is the one given (the default one would change each start).
  const security = securityOption(
    values['security-file'],
    typeof values['node-id'] === 'string' ? nodeId : undefined,
  );
  const transport = natsTransport({
    servers: nats,
    namespace,
    logger,
    ...natsAuthOption(inv.config),
    ...security,
  });
  let system: ActorSystem | undefined;
  const logs: AppendLog[] = [];
  let bus: TopicBus | undefined;
  let events: Topics | undefined;
  let store: KeyValueStore | undefined;
  let gw: Gateway | undefined;
  let refusals: { close(): Promise<void> } | undefined;
  // The gateway's own node: /metrics, /healthz and /readyz as a worker node serves them (--metrics-port).
  const state: NodeState = { system: undefined, hasRunner: false, draining: false, started: false };
  const telemetry = await startNodeTelemetry(
    inv.config.values.metricsPort,
    logger,
    state,
    inv.config.values.metricsHost,
  );
  const closeAll = async (): Promise<void> => {
    state.draining = true;
    await gw?.close();
    await events?.close();
    await bus?.close();
    for (const log of logs) await log.close().catch(() => {});
    await refusals?.close();
    await store?.close();
    await system?.close();
    await telemetry.close();
  };
  try {
    system = await connectTo('NATS', nats, () =>
      createSystem({
        nodeId,
        transport,
        logger,
        tracing: telemetry.tracing,
        ...(telemetry.metrics === undefined ? {} : { metrics: telemetry.metrics }),
      }),
    );
    state.system = system;
    if (security.security !== undefined) refusals = await auditRefusals(system, namespace);
    const streams = await natsAppendLog({
      transport,
      name: 'gateway-streams',
      namespace,
      maxAgeMs: Math.round(streamHours * 3_600_000),
    });
    logs.push(streams);
    const audit = await natsAppendLog({ transport, name: 'gateway-audit', namespace });
    logs.push(audit);
    bus = await natsTopicBus({ transport, namespace });
    events = topics({ system, bus });
    store = await natsKeyValue({
      transport,
      bucket: typeof values.bucket === 'string' ? values.bucket : DEFAULT_SHARED_BUCKET,
    });
    const registry = agentRegistry({ store, heartbeatMs: 0, logger });
    gw = await gateway({
      system,
      auth,
      registry,
      topics: events,
      streams,
      audit,
      logger,
      fleet: typeof values['trace-url'] === 'string' ? { traceUrl: values['trace-url'] } : {},
      ...(rate !== undefined && { rateLimit: { perSecond: rate } }),
    });
    const url = await gw.listen(port, host);
    state.started = true;
    process.stdout.write(`troupe gateway listening on ${url} (namespace ${namespace})\n`);
    if (telemetry.url !== undefined) process.stdout.write(`telemetry on ${telemetry.url}\n`);
  } catch (err) {
    await closeAll();
    throw err;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      logger.info(`gateway: ${signal}, stopping`);
      // A handle left open must not keep the process alive once closed.
      setTimeout(() => process.exit(0), 5000).unref();
      closeAll().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error('gateway: close failed', { error: (err as Error).message });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
