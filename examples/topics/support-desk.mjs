// Topics: support tickets published on a durable topic reach one `desk` virtual actor per customer (a type
// subscription keyed by the event's subject), which triages each and publishes the result; an `escalations`
// actor subscribes to urgent results, and a broadcast reaches every subscription that asked for broadcasts.
//   node examples/topics/support-desk.mjs                embedded: one process, an in-memory bus
//   node examples/topics/support-desk.mjs --nats URL     on NATS: tickets stored in JetStream, results on core NATS
import { createSystem, defineActor } from 'troupe';
import { memoryTopicBus } from 'troupe/runtime';
import { natsTopicBus, natsTransport } from 'troupe/transport';
import { topics } from 'troupe/workflows';

const natsUrl = process.argv.includes('--nats')
  ? process.argv[process.argv.indexOf('--nats') + 1]
  : undefined;
const namespace = `example-topics-${process.pid}`;
const transport = natsUrl ? natsTransport({ servers: natsUrl, namespace }) : undefined;
const system = await createSystem(transport ? { transport } : {});
// Tickets are durable (kept until each durable subscriber handled them); results are fast.
const durable = ['tickets.>'];
const bus = transport ? await natsTopicBus({ transport, namespace, durable }) : memoryTopicBus({ durable });
const hub = topics({ system, bus });

const TICKETS = [
  { customer: 'ada', text: 'I was charged twice' },
  { customer: 'bob', text: 'The app crashes on start' },
  { customer: 'ada', text: 'Still no refund, this is urgent' },
  { customer: 'cy', text: 'How do I export my data?' },
  { customer: 'bob', text: 'Crash again, urgent please' },
];
let pending = TICKETS.length + 1; // every ticket triaged, and the broadcast seen
let finish;
const finished = new Promise((resolve) => {
  finish = resolve;
});
const settle = () => {
  if (--pending === 0) finish();
};

// One desk per customer: it remembers how many tickets it has seen and labels each one.
system.register(
  'desk',
  defineActor({
    init: () => ({ seen: 0 }),
    handlers: {
      topicEvent: async ({ event }, ctx) => {
        ctx.state.seen++;
        const text = event.data.text.toLowerCase();
        const label = text.includes('urgent') ? 'urgent' : /charge|refund/.test(text) ? 'billing' : 'general';
        console.log(`desk ${event.subject} #${ctx.state.seen}: ${event.data.text} -> ${label}`);
        await hub.publish(`triaged.${label}`, {
          type: 'ticket.triaged',
          subject: event.subject,
          data: { text: event.data.text, label },
        });
        settle();
      },
    },
  }),
);

const escalations = system.spawn(
  defineActor({
    handlers: {
      topicEvent: ({ event }) => {
        if (event.type === 'notice') {
          console.log(`escalations got the broadcast: ${event.data}`);
          settle();
        } else console.log(`escalate ${event.subject}: ${event.data.text}`);
      },
    },
  }),
  { name: 'escalations' },
);

// Durable where it matters: tickets wait for their desk across restarts when on NATS.
await hub.subscribeType('tickets.>', 'desk', (event) => event.subject, { durable: 'desks', from: 'all' });
await hub.subscribe('triaged.urgent', escalations, { broadcast: true });

for (const [i, t] of TICKETS.entries())
  await hub.publish('tickets.new', {
    type: 'ticket.opened',
    subject: t.customer,
    data: { n: i + 1, text: t.text },
  });
await hub.broadcast({ type: 'notice', data: 'maintenance tonight at 22:00' });

const timeout = setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 20_000);
await finished;
// Give the last urgent result time to reach the escalations actor, then close everything in order.
await new Promise((r) => setTimeout(r, 200));
clearTimeout(timeout);
await hub.close();
await bus.close();
await system.close();
console.log('done');
