// The walkthrough's client: a short-lived node that writes a document and asks for its stats.
//   node examples/walkthrough/client.mjs          (NATS_URL picks the server; default nats://127.0.0.1:4222)
import { createSystem, natsTransport } from 'troupe';

const system = await createSystem({
  transport: natsTransport({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' }),
});
// In TypeScript, `await using system = ...` drains the same way; plain JavaScript on Node 20 cannot parse it.
try {
  const readme = system.virtual('doc', 'readme');
  readme.tell({ type: 'write', text: 'Three processes in five minutes, one message at a time.' });
  // An ask after a tell from the same sender is handled after it; the worker's answer comes back through the actor.
  const stats = await readme.ask({ type: 'stats' }, { timeout: 10_000 });
  console.log(`doc:readme has ${stats.words} words; the longest is "${stats.longest}"`);
} finally {
  await system.drain();
}
