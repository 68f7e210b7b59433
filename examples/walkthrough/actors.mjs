// The walkthrough's actors module, for an actor node that queues tasks but runs none:
//   npx troupe node --nats nats://127.0.0.1:4222 --redis redis://127.0.0.1:6379 --actors examples/walkthrough/actors.mjs
// `troupe node` calls start(system) once the node is on NATS.
import { defineActor, natsKvPersistence } from 'troupe';
import { wordCount } from './tasks.mjs';

export async function start(system) {
  // Each document's text lives in NATS KV, on the node's own connection: it outlives the actor's passivation
  // (after a minute idle) and the node itself.
  const persistence = await natsKvPersistence({ transport: system.transport, bucket: 'walkthrough-docs' });
  const doc = defineActor({
    init: () => ({ text: '' }),
    persistence,
    handlers: {
      write: (msg, ctx) => {
        ctx.state.text = msg.text;
      },
      read: (_msg, ctx) => ctx.state.text,
      // The node has Redis but no tasks of its own: the task is queued on BullMQ and a worker node runs it.
      stats: (_msg, ctx) => ctx.runTask(wordCount, { text: ctx.state.text }),
    },
  });
  // A virtual actor type: system.virtual('doc', id) reaches document `id` from any process on the same NATS,
  // activating it on first use.
  system.register('doc', doc);
}
