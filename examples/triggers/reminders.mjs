// Reminders, a cron schedule and a condition trigger: an `invoice` actor chases itself until paid, and a
// trigger over a stream of payments wakes an `auditor` when a large one comes in (how proactive agents start).
//   node examples/triggers/reminders.mjs                    embedded: one process, an in-memory store
//   node examples/triggers/reminders.mjs --nats URL         on NATS: reminders in NATS KV, fired by any node
import { EventEmitter } from 'node:events';
import { createSystem, defineActor, memoryKeyValue } from 'troupe';
import { natsKeyValue, natsTransport } from 'troupe/transport';
import { conditionTrigger, parseCron, reminders } from 'troupe/workflows';

const natsUrl = process.argv.includes('--nats')
  ? process.argv[process.argv.indexOf('--nats') + 1]
  : undefined;
const transport = natsUrl ? natsTransport({ servers: natsUrl, namespace: 'example-triggers' }) : undefined;
const system = await createSystem(transport ? { transport } : {});
const kv = transport ? await natsKeyValue({ transport, namespace: 'example-triggers' }) : memoryKeyValue();
const service = reminders({ system, kv, leaseMs: 2000 });
let paid;
const done = new Promise((resolve) => {
  paid = resolve;
});

system.register(
  'invoice',
  defineActor({
    init: () => ({ chased: 0, paid: false }),
    handlers: {
      // Sets its own reminder: it fires wherever the invoice lives then, even if this node is gone.
      open: (_m, ctx) => service.of(ctx.self).set('chase', { every: 200 }, { type: 'chase' }),
      chase: async (m, ctx) => {
        ctx.state.chased++;
        console.log(`chase ${ctx.state.chased} (${m.reminder.occurrence})`);
        if (ctx.state.chased === 3) {
          ctx.state.paid = true;
          await service.of(ctx.self).cancel('chase');
          console.log('paid: reminder cancelled');
          paid();
        }
      },
    },
  }),
  { durable: true },
);
system.register(
  'auditor',
  defineActor({
    handlers: { investigate: (m) => console.log(`audit payment ${m.payment.id} of ${m.payment.amount}`) },
  }),
);

// A condition trigger over any event stream; here an EventEmitter stands in for a topic.
const payments = new EventEmitter();
const trigger = await conditionTrigger({
  system,
  name: 'large-payments',
  source: (handler) => {
    payments.on('payment', handler);
    return () => payments.off('payment', handler);
  },
  when: 'event.amount > 1000',
  send: (payment) => ({ to: '$v/auditor/main', message: { type: 'investigate', payment } }),
});
for (const [id, amount] of [
  ['p1', 20],
  ['p2', 5000],
  ['p3', 70],
])
  payments.emit('payment', { id, amount });

const nightly = parseCron('0 2 * * *');
console.log(
  `nightly run after 2026-12-01T12:00Z: ${new Date(nightly.next(Date.parse('2026-12-01T12:00:00Z'))).toISOString()}`,
);

await system.virtual('invoice', 'inv-7').send({ type: 'open' });
// troupe's timers never keep a process alive on their own (a server or a NATS connection would): hold it open.
const keepAlive = setInterval(() => {}, 1000);
await done;
clearInterval(keepAlive);
await trigger.drain();
await service.drain();
await system.drain();
await kv.close();
console.log('done');
