// Status frames (no-responders) come from the wire too: what they cost must be bounded by what this node sent.

import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, defineActor, ErrorCode, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

const echo = defineActor<{ echo: { v: number } & Reply<number> }, undefined>({
  init: () => undefined,
  handlers: { echo: (msg) => msg.v },
});

let server: ServerProcess;
let raw: NatsConnection;
let node: ActorSystem;
let client: ActorSystem;

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  node = await createSystem({
    nodeId: 'victim',
    transport: natsTransport({ servers: server.url, namespace: 'fs' }),
  });
  client = await createSystem({
    nodeId: 'client',
    transport: natsTransport({ servers: server.url, namespace: 'fs' }),
  });
  node.spawn(echo, { name: 'echo' });
});

afterAll(async () => {
  await client?.close();
  await node?.close();
  await raw?.close();
  await server?.stop();
});

/** An empty frame carrying a no-responders status, as the server sends it, but forged by any client. */
function forgeStatus(subject: string): void {
  raw.publish(subject, new Uint8Array(0), { headers: headers(503, 'No Responders') });
}

describe('forged no-responders statuses', () => {
  it('cost one dead letter each, whatever count their subject names', async () => {
    const before = node.deadLetters.count;
    forgeStatus('troupe.fs.victim.$nr.1000000.victim.echo');
    forgeStatus('troupe.fs.victim.$nr.999999999.x');
    forgeStatus('troupe.fs.victim.$nv.5.1000000.$v.t.x');
    forgeStatus('troupe.fs.victim.$nv.1.99999999.$v.t.y');
    await raw.flush();
    await until(() => node.deadLetters.count - before >= 4, 5000, 'forged statuses recorded');
    // The node keeps answering, and recorded one letter per forged frame, not millions.
    expect(
      await client.ref<{ echo: { v: number } & Reply<number> }>('victim/echo').ask({ type: 'echo', v: 5 }),
    ).toBe(5);
    expect(node.deadLetters.count - before).toBe(4);
    expect(node.deadLetters.byReason()[ErrorCode.NoResponders]).toBe(4);
  });

  it('still count every tell of a real batch that found no subscriber', async () => {
    const before = client.deadLetters.byReason()[ErrorCode.NoResponders] ?? 0;
    const ghost = client.ref<{ echo: { v: number } }>('ghost/nobody');
    for (let i = 0; i < 25; i++) ghost.tell({ type: 'echo', v: i }); // one batch of 25 in one turn
    await until(
      () => (client.deadLetters.byReason()[ErrorCode.NoResponders] ?? 0) - before === 25,
      5000,
      'a dead letter per bounced tell',
    );
  });
});
