// An example module for `troupe node`: a task for worker nodes (--tasks) and a virtual actor type (--actors).
//   troupe node --redis redis://127.0.0.1:6379 --tasks examples/fleet.mjs
//   troupe node --nats nats://127.0.0.1:4222 --actors examples/fleet.mjs
import { defineActor, defineTask } from 'troupe';

/** Heavy work off the actors: counts words (stands in for an embedding or a model call). */
export const countWords = defineTask(
  'count-words',
  async ({ text }) => ({ words: text.split(/\s+/).filter(Boolean).length }),
  {
    concurrency: 8,
    attempts: 3,
    timeoutMs: 10_000,
  },
);

/** Registers `note` virtual actors: `system.virtual('note', id)` from any process reaches one of them. */
export function start(system) {
  system.register(
    'note',
    defineActor({
      type: 'note',
      init: () => ({ text: '' }),
      handlers: {
        append: (m, ctx) => {
          ctx.state.text += m.text;
        },
        read: (_m, ctx) => ctx.state.text,
        // Uses the node's task runner when the node was also given --redis.
        count: async (_m, ctx) =>
          system.tasks ? ctx.runTask(countWords, { text: ctx.state.text }) : { words: -1 },
      },
    }),
    { passivateAfterMs: 60_000 },
  );
}
