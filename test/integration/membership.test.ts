// Membership over a real nats-server: joins, goodbyes and silent failures, with time driven by hand.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Clock,
  ManualClock,
  type Membership,
  type MembershipEvent,
  type TimerHandle,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsMembership } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});
afterAll(() => nats.stop());

const connections: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
});

async function member(
  nodeId: string,
  clock: Clock,
  namespace: string,
  roles: string[] = [],
): Promise<Membership> {
  const connection = await connect({ servers: nats.url });
  connections.push(connection);
  return natsMembership({
    connection,
    nodeId,
    namespace,
    roles,
    clock,
    heartbeatMs: 500,
    failureTimeoutMs: 2000,
  });
}

/** A clock whose time can jump before its timers run: what a node sees when its own event loop stalls. */
class StallingClock implements Clock {
  #at = 1_000;
  #seq = 0;
  readonly #timers = new Map<number, () => void>();

  now(): number {
    return this.#at;
  }

  setTimeout(fn: () => void, _ms: number): TimerHandle {
    this.#timers.set(++this.#seq, fn);
    return this.#seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, then runs the timers waiting now (not those they set). */
  step(ms: number): void {
    this.#at += ms;
    const due = [...this.#timers.values()];
    this.#timers.clear();
    for (const fn of due) fn();
  }
}

describe('NATS membership', () => {
  it('sees joins at once, goodbyes at once, and a silent node as failed after the timeout', async () => {
    const clock = new ManualClock(1_000);
    const a = await member('a', clock, 'm1');
    const events: string[] = [];
    a.onChange((e: MembershipEvent) => events.push(`${e.type}:${e.node.id}`));
    const b = await member('b', clock, 'm1', ['gpu']);
    const c = await member('c', clock, 'm1');
    await until(() => a.members().length === 3 && c.members().length === 3, 5000, 'full view');
    expect(a.members().map((m) => m.id)).toEqual(['a', 'b', 'c']);
    expect(a.members()[1]?.roles).toEqual(['gpu']);

    await b.drain();
    await until(() => events.includes('left:b'), 5000, 'b left');

    // c goes silent (its timer never fires again: it is closed without goodbye).
    await c.close();
    for (let t = 0; t < 4; t++) {
      clock.advance(500);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(events).not.toContain('failed:c');
    clock.advance(500);
    await until(() => events.includes('failed:c'), 5000, 'c failed');
    expect(a.members().map((m) => m.id)).toEqual(['a']);
    expect(events).toEqual(['joined:b', 'joined:c', 'left:b', 'failed:c']);
    await a.close();
    await a.close();
  });

  it('carries load figures in heartbeats and ignores stray publishes', async () => {
    const clock = new ManualClock();
    const a = await member('a', clock, 'm2');
    const b = await member('b', clock, 'm2');
    b.setLoadSource(() => ({ actors: 42, mailbox: 7 }));
    connections[0]!.publish('troupe.m2.$members', 'not json');
    connections[0]!.publish('troupe.m2.$members', JSON.stringify({ v: 1, kind: 'beat' }));
    clock.advance(500);
    await until(() => a.members().find((m) => m.id === 'b')?.load.actors === 42, 5000, 'load figures');
    expect(a.members().map((m) => m.id)).toEqual(['a', 'b']);
    await Promise.all([a.drain(), b.drain()]);
  });

  it('gives every peer a full timeout again when its own heartbeat check ran late (its event loop stalled)', async () => {
    const clock = new StallingClock();
    const a = await member('a', clock, 'm3');
    // b beats once, on joining (its clock never moves): from then on, a hears nothing from it.
    const b = await member('b', new ManualClock(), 'm3');
    await until(() => a.members().length === 2, 5000, 'b joined');
    const events: string[] = [];
    a.onChange((e) => events.push(`${e.type}:${e.node.id}`));
    // a's check runs 4.5 s late, b silent all along: a judges no one on that check.
    clock.step(5_000);
    expect(events).toEqual([]);
    // On time from here, b gets a full timeout (2 s) counted from the late check, then fails.
    for (let t = 0; t < 4; t++) clock.step(500);
    expect(events).toEqual([]);
    clock.step(500);
    expect(events).toEqual(['failed:b']);
    await a.close();
    await b.close();
  });

  it('declares no peer failed while its own connection to the server is down', async () => {
    const own = await startNats({ jetstream: false });
    try {
      const options = { servers: own.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 };
      const [ca, cb] = [await connect(options), await connect(options)];
      connections.push(ca, cb);
      const common = { namespace: 'outage', heartbeatMs: 100, failureTimeoutMs: 600 };
      const a = await natsMembership({ connection: ca, nodeId: 'a', ...common });
      const b = await natsMembership({ connection: cb, nodeId: 'b', ...common });
      await until(() => a.members().length === 2 && b.members().length === 2, 5000, 'both joined');
      const events: string[] = [];
      a.onChange((e) => events.push(`${e.type}:${e.node.id}`));
      // The server is gone for longer than the failure timeout: everyone hears nothing, nobody is dead.
      await own.restart(1500);
      await until(() => !ca.isClosed() && ca.info !== undefined, 5000, 'reconnected');
      await new Promise((r) => setTimeout(r, 1000));
      expect(events.filter((e) => e.startsWith('failed'))).toEqual([]);
      expect(a.members().map((m) => m.id)).toEqual(['a', 'b']);
      await a.close();
      await b.close();
    } finally {
      await own.stop();
    }
  });
});
