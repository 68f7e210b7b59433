// Reaching NATS and Redis from the CLI: a quick TCP probe first (so an unreachable server is named at once,
// with what to try), a "connecting to …" line when it takes more than a second, and the short-lived node
// client commands talk to the cluster through.

import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { type ActorSystem, createSystem, type Logger, TroupeError } from '../runtime/index.js';
import { type NatsTransportOptions, natsTransport } from '../transport/index.js';
import { type ResolvedConfig, redactUrl, type TroupeConfig } from './config.js';

const CONNECT_FAILED = 'TRANSPORT_CONNECT_FAILED';
type NatsAuth = NonNullable<NatsTransportOptions['auth']>;
/** After this long without a connection, say what we are waiting for. */
const SLOW_MS = 1000;
/** Longest a probe waits for a TCP connection. */
const PROBE_MS = 4000;

const HINTS = {
  NATS: 'is nats-server running? set --nats or NATS_URL (credentials: --nats-user/--nats-pass, --nats-token, --nats-nkey-seed-file, --nats-creds-file; TLS: --nats-tls-ca)',
  Redis: 'is redis-server running? set --redis or REDIS_URL',
} as const;
type Server = keyof typeof HINTS;

function connectError(server: Server, url: string, reason: string, cause?: unknown): TroupeError {
  return new TroupeError(
    CONNECT_FAILED,
    `could not connect to ${server} at ${redactUrl(url)} (${reason}): ${HINTS[server]}`,
    cause === undefined ? {} : { cause },
  );
}

/** The reason a NATS connect failed, named plainly: authorization or TLS, else the client's message. */
function natsReason(err: unknown): string {
  const all = chain(err);
  if (AUTH.test(all)) return 'authorization violation: wrong or missing credentials';
  if (TLS.test(all)) return `TLS: ${innermost(err)}`;
  return innermost(err);
}

const AUTH = /authori[sz]ation violation|authentication (timeout|expired|failed)|user authentication/i;
const TLS = /certificate|self[- ]signed|\btls\b|\bssl\b|handshake|EPROTO/i;
const AUTH_OR_TLS = new RegExp(`${AUTH.source}|${TLS.source}`, 'i');

/** The messages of an error and its causes, joined. */
function chain(err: unknown): string {
  const seen: string[] = [];
  for (let e: unknown = err; e instanceof Error && seen.length < 5; e = (e as { cause?: unknown }).cause)
    seen.push(e.message);
  return seen.length === 0 ? String(err) : seen.join(': ');
}

function innermost(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5 && e instanceof Error && (e as { cause?: unknown }).cause instanceof Error; i++)
    e = (e as { cause?: unknown }).cause;
  return e instanceof Error ? e.message : String(e);
}

/**
 * NATS credentials and TLS from the configuration, for a transport's or store's \`auth\` option; undefined
 * when none is set. Secrets stay in this object: nothing here logs them.
 */
export function natsAuth(config: ResolvedConfig | TroupeConfig): NatsAuth | undefined {
  const v = 'values' in config ? config.values : config;
  const tls =
    v.natsTlsCa === undefined && v.natsTlsCert === undefined
      ? undefined
      : {
          ...(v.natsTlsCa === undefined ? {} : { caFile: v.natsTlsCa }),
          ...(v.natsTlsCert === undefined ? {} : { certFile: v.natsTlsCert }),
          ...(v.natsTlsKey === undefined ? {} : { keyFile: v.natsTlsKey }),
        };
  const auth: NatsAuth = {
    ...(v.natsUser === undefined ? {} : { user: v.natsUser }),
    ...(v.natsPass === undefined ? {} : { pass: v.natsPass }),
    ...(v.natsToken === undefined ? {} : { token: v.natsToken }),
    ...(v.natsNkeySeedFile === undefined ? {} : { nkeySeedFile: v.natsNkeySeedFile }),
    ...(v.natsCredsFile === undefined ? {} : { credsFile: v.natsCredsFile }),
    ...(tls === undefined ? {} : { tls }),
  };
  return Object.keys(auth).length === 0 ? undefined : auth;
}

/** `{ auth }` to spread into a NATS transport's or store's options (nothing when no credentials are set). */
export function natsAuthOption(config: ResolvedConfig | TroupeConfig): { auth?: NatsAuth } {
  const auth = natsAuth(config);
  return auth === undefined ? {} : { auth };
}

/** Runs `work`, printing "connecting to …" on stderr if it has not settled within a second. */
export async function announced<T>(server: Server, url: string, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(
    () => process.stderr.write(`troupe: connecting to ${server} at ${redactUrl(url)}…\n`),
    SLOW_MS,
  );
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once one of the URL's servers accepts a TCP connection; else throws naming the URL and the reason. */
export async function probe(server: Server, url: string): Promise<void> {
  const targets = url.split(',').map((u) => u.trim());
  const reasons: string[] = [];
  for (const target of targets) {
    let host: string;
    let port: number;
    try {
      const parsed = new URL(target);
      host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
      port = Number(parsed.port) || (server === 'NATS' ? 4222 : 6379);
    } catch {
      throw connectError(server, url, `not a URL: ${target}`);
    }
    const reason = await new Promise<string | undefined>((resolve) => {
      const socket = tcpConnect({ host, port });
      const done = (why: string | undefined): void => {
        socket.destroy();
        resolve(why);
      };
      socket.setTimeout(PROBE_MS, () => done(`no answer within ${PROBE_MS} ms`));
      socket.once('connect', () => done(undefined));
      socket.once('error', (err: NodeJS.ErrnoException) =>
        done(err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message)),
      );
    });
    if (reason === undefined) return;
    reasons.push(reason);
  }
  throw connectError(server, url, [...new Set(reasons)].join(', '));
}

/** Probes, then runs `work` (announced when slow); a connection error from `work` is restated with the URL. */
export async function connectTo<T>(server: Server, url: string, work: () => Promise<T>): Promise<T> {
  return announced(server, url, async () => {
    await probe(server, url);
    try {
      return await work();
    } catch (err) {
      if (TroupeError.is(err) && err.code === CONNECT_FAILED && !err.message.includes(redactUrl(url)))
        throw connectError(server, url, server === 'NATS' ? natsReason(err) : err.message, err);
      // A store or listNatsNodes connects with the client directly: its auth and TLS failures are connect
      // failures too.
      if (server === 'NATS' && !TroupeError.is(err) && AUTH_OR_TLS.test(chain(err)))
        throw connectError(server, url, natsReason(err), err);
      throw err;
    }
  });
}

/** A short-lived node on NATS for a command to talk to the cluster through. */
export function cliNode(config: ResolvedConfig, logger: Logger): Promise<ActorSystem> {
  const { nats, namespace } = config.values;
  return connectTo('NATS', nats, () =>
    createSystem({
      nodeId: `cli-${randomBytes(4).toString('hex')}`,
      logger,
      transport: natsTransport({
        servers: nats,
        namespace,
        logger,
        ...natsAuthOption(config),
        connectOptions: { reconnect: false },
      }),
    }),
  );
}
