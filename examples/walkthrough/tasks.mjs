// The walkthrough's tasks module, for worker nodes:
//   npx troupe node --redis redis://127.0.0.1:6379 --tasks examples/walkthrough/tasks.mjs
// A worker runs every task definition the module exports. Actor nodes import the same definition to queue it.
import { defineTask } from 'troupe';

/** Heavy work kept off the actors (it stands in for an embedding or a model call): counts words. */
export const wordCount = defineTask(
  'word-count',
  async ({ text }) => {
    const words = text.split(/\s+/).filter(Boolean);
    return { words: words.length, longest: words.reduce((a, w) => (w.length > a.length ? w : a), '') };
  },
  { concurrency: 4, attempts: 3, timeoutMs: 10_000 },
);
