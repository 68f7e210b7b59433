// What the NATS transport logs about its connection and its cluster: disconnects and reconnects (from the
// nats.js status iterator), members joining and leaving. Nothing here runs on the message path.

import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock, Logger, Membership } from '../../runtime/index.js';
import { defaultLogger, LogLimiter, type TransportSink } from '../../runtime/internal.js';

/**
 * The transport's logger once bound: its own (`natsTransport({ logger })`), else the binding system's, else the
 * default; tagged with the node, which the transport only learns at bind, and `component: 'nats'`.
 */
export function transportLogger(own: Logger | undefined, sink: TransportSink, nodeId: string): Logger {
  const base =
    own === undefined
      ? (sink.logger ?? defaultLogger().child({ node: nodeId }))
      : own.child({ node: nodeId });
  return base.child({ component: 'nats' });
}

/** Something to stop when the transport closes. */
export interface Watch {
  stop(): void;
}

/**
 * Logs the connection's status changes until stopped or closed: `disconnect` (warn), `reconnect` (info),
 * server errors, stale connections and slow consumers (warn, rate-limited: one line per kind per 5 s with
 * the count), `reconnecting` attempts (debug).
 */
export function watchConnection(nc: NatsConnection, log: Logger, clock: Clock): Watch {
  const limited = new LogLimiter({ logger: log, clock, level: 'warn', kindField: 'event' });
  const statuses = nc.status();
  let stopped = false;
  void (async () => {
    for await (const status of statuses) {
      if (stopped) break;
      switch (status.type) {
        case 'disconnect':
          log.warn('NATS disconnected', { server: status.server });
          break;
        case 'reconnect':
          log.info('NATS reconnected', { server: status.server });
          break;
        case 'reconnecting':
          if (log.enabled('debug')) log.debug('NATS reconnecting');
          break;
        case 'ldm':
          log.warn('NATS server entering lame duck mode', { server: status.server });
          break;
        case 'error':
          limited.note('error', 'NATS server error', () => ({ error: status.error }));
          break;
        case 'staleConnection':
          limited.note('staleConnection', 'NATS connection stale');
          break;
        case 'slowConsumer':
          limited.note('slowConsumer', 'NATS slow consumer', () => ({
            subject: status.sub.getSubject(),
            pending: status.pending,
          }));
          break;
        default:
          break;
      }
    }
  })().catch(() => undefined);
  return {
    stop: () => {
      stopped = true;
      limited.flush();
      // A connection the transport does not own lives on: its iterator must end with the transport.
      (statuses as { stop?: () => void }).stop?.();
    },
  };
}

/** Logs members joining (info), updating their hosted types (debug), leaving (info) and failing (warn). */
export function watchMembers(membership: Membership, log: Logger): Watch {
  const self = membership.self.id;
  const stop = membership.onChange((event) => {
    const node = event.node;
    if (node.id === self) return;
    const fields = {
      member: node.id,
      roles: node.roles,
      types: node.types,
      members: membership.members().length,
    };
    switch (event.type) {
      case 'joined':
        log.info('member joined', fields);
        break;
      case 'updated':
        if (log.enabled('debug')) log.debug('member updated', fields);
        break;
      case 'left':
        log.info('member left', fields);
        break;
      case 'failed':
        log.warn('member failed (no heartbeat)', fields);
        break;
    }
  });
  return { stop };
}
