// A copy of the README's 20-line example (imports aside), run as written: keep the two in step.
import { expect, it, vi } from 'vitest';
import { createSystem, defineActor, type Reply } from '../../index.js';

it('runs the README example', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  {
    type Counter = { inc: { by: number }; get: Reply<number> }; // the protocol: messages and reply types

    const counter = defineActor<Counter, { n: number }>({
      init: () => ({ n: 0 }),
      handlers: {
        inc: (msg, ctx) => {
          ctx.state.n += msg.by;
        },
        get: (_msg, ctx) => ctx.state.n, // returning a value answers an ask
      },
    });

    await using system = await createSystem(); // embedded; or { transport: natsTransport(...) }
    const ref = system.spawn(counter, { name: 'counter' });
    ref.tell({ type: 'inc', by: 2 });
    const n = await ref.ask({ type: 'get' }, { timeout: 1000 }); // n: number
    console.log(n, ref.address); // 2 'n1a2b3c4d/counter'

    // From another process on the same NATS:
    // const remote = other.ref<Counter>('api/counter'); await remote.ask({ type: 'get' });
  }
  expect(log).toHaveBeenCalledWith(2, expect.stringMatching(/^n[0-9a-f]{8}\/counter$/));
  log.mockRestore();
});
