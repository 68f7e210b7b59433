// Where a NATS-backed store (state persistence, the shared key-value store) gets its connection: a transport's,
// a URL of its own, or one the caller owns. One helper, so both stores accept the same three forms.

import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { InvalidOptionsError, type Transport } from '../../runtime/index.js';
import { assertOptionsObject } from '../../runtime/internal.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { type NatsAuthOptions, natsAuthConnectOptions } from './options.js';

/** The three ways to give a store its connection; exactly one must be set. */
export interface ConnectionSourceOptions {
  /** A NATS transport (`system.transport`); it may be bound later: its connection is read at each use. */
  transport?: Transport | undefined;
  /** NATS URL(s): the store opens a connection of its own, which its `close()` ends. */
  servers?: string | string[];
  /** Extra options for `connect()` with `servers` (auth, TLS); reconnects forever, 500 ms apart, by default. */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Credentials and TLS for `servers` as data (see {@link NatsAuthOptions}); `connectOptions` wins over it. */
  auth?: NatsAuthOptions | undefined;
  /** A connection the caller owns (and closes). */
  connection?: NatsConnection;
}

/** The connection to use now (undefined while a given transport is not bound), and the one to close, if owned. */
export interface ConnectionSource {
  current: () => NatsConnection | undefined;
  owned: NatsConnection | undefined;
}

function isConnection(value: unknown): value is NatsConnection {
  return typeof (value as NatsConnection | undefined)?.publish === 'function';
}

/** Resolves `options` to a connection source; `name` labels an owned connection on the server. */
export async function connectionSource(
  options: ConnectionSourceOptions,
  name: string,
): Promise<ConnectionSource> {
  const given = ['transport', 'servers', 'connection'].filter((k) => k in options);
  if (given.length !== 1)
    throw new InvalidOptionsError(
      given.length === 0 ? 'transport' : given.join(', '),
      'give exactly one of transport (e.g. system.transport), servers (a NATS URL) or connection',
    );
  if ('connection' in options) {
    const { connection } = options;
    if (!isConnection(connection)) throw new InvalidOptionsError('connection', 'expected a NATS connection');
    return { current: () => connection, owned: undefined };
  }
  if ('transport' in options) {
    const transport = options.transport as { kind?: unknown; connection?: unknown } | undefined;
    if (transport?.kind !== 'nats' || !('connection' in transport))
      throw new InvalidOptionsError(
        'transport',
        `expected a NATS transport (natsTransport()), got ${transport === undefined ? 'none: the system runs without one' : `a ${String(transport.kind)} transport`}`,
      );
    return {
      current: () => (isConnection(transport.connection) ? transport.connection : undefined),
      owned: undefined,
    };
  }
  const { servers } = options;
  if (
    !(typeof servers === 'string' && servers.length > 0) &&
    !(Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string'))
  )
    throw new InvalidOptionsError('servers', 'expected a URL or a non-empty array of URLs');
  if (options.connectOptions !== undefined) assertOptionsObject(options.connectOptions, 'connectOptions');
  const auth = natsAuthConnectOptions(options.auth);
  try {
    const nc = await connect({
      servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...auth,
      ...options.connectOptions,
    });
    return { current: () => nc, owned: nc };
  } catch (err) {
    const reason = connectFailureReason(err);
    throw new TransportError(
      TransportErrorCode.Connect,
      `cannot connect to NATS at ${String(servers).replace(/(\/\/[^/@:,\s]*:)[^/@,\s]*@/g, '$1***@')}: ${reason}${reason === (err as Error).message ? '; is nats-server running there (with -js)?' : ''}`,
      { cause: err },
    );
  }
}

/**
 * Why a connect failed, said plainly: an authorization violation (wrong or missing credentials) or TLS (a
 * certificate the client does not trust, no client certificate), else the client's own message.
 */
export function connectFailureReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  if (name === 'AuthorizationError' || /authorization violation/i.test(message))
    return `authorization violation: wrong or missing credentials (${message})`;
  if (/certificate|self[- ]signed|\btls\b|\bssl\b|handshake|EPROTO/i.test(message)) return `TLS: ${message}`;
  return message;
}

/** NATS URL(s) fit for a log line: the password of a `nats://user:pass@host` URL masked. */
export function maskedServers(
  servers: string | readonly string[] | undefined,
): string | string[] | undefined {
  const mask = (url: string) => url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  return servers === undefined ? undefined : typeof servers === 'string' ? mask(servers) : servers.map(mask);
}
