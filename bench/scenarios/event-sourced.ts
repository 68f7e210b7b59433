// Scenario `event-sourced`: commands through event-sourced entity actors (decide, one event appended with the
// expected last sequence on natsAppendLog, applied, answered) vs plain JetStream publishes of the same record
// with expected-last-subject-sequence, chained per subject, in the same run.

import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type ActorSystem, type AppendLog, createSystem } from '../../runtime/index.js';
import { localTransport, natsAppendLog, natsTransport } from '../../transport/index.js';
import { defineEventSourced, type EventSourcedProtocol, eventSourcedActor } from '../../workflows/index.js';
import { pipelinedRate } from '../load.js';
import { PAYLOAD_STRING } from '../payload.js';
import type { Scenario } from '../scenario.js';

/** Commands (and publishes) outstanding at once, on both sides. */
const WINDOW = 64;
/** Entities (and baseline subjects): each takes one append at a time, so this many appends are in flight. */
const KEYS = 16;

type Note = { count: number };
type Cmd = { body: string };
type Evt = { kind: 'noted'; body: string };
type Proto = EventSourcedProtocol<Note, Cmd, Evt>;

const notes = defineEventSourced<Note, Cmd, Evt>({
  type: 'note',
  initial: { count: 0 },
  decide: (_state, c) => [{ kind: 'noted', body: c.body }],
  apply: (state) => ({ count: state.count + 1 }),
});

/** What the entity stores per command (a command without id: the events array), the baseline's record. */
const RECORD = JSON.stringify([{ kind: 'noted', body: PAYLOAD_STRING }]);

/** `event-sourced`: see the file comment. */
export const eventSourced: Scenario = {
  name: 'event-sourced',
  description: `commands to ${KEYS} event-sourced entities (${WINDOW} in flight; one event each, appended with the expected last sequence on natsAppendLog) vs plain js.publish() of the same ${RECORD.length}-byte record with expected-last-subject-sequence, chained per subject`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: `commands, entity in process (window ${WINDOW}, ${KEYS} entities)`,
      unit: 'cmd/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.8,
    },
    {
      id: 'throughput-tuned',
      label: `commands, entity in process, vs baseline with noAsyncTraces`,
      unit: 'cmd/s',
      kind: 'throughput',
      better: 'higher',
    },
    {
      // The same commands asked across NATS from a client node to the entities' host: one more round trip.
      id: 'throughput-remote',
      label: `commands asked over NATS to the host node (window ${WINDOW})`,
      unit: 'cmd/s',
      kind: 'throughput',
      better: 'higher',
    },
  ],
  async open(ctx) {
    const url = ctx.natsUrl!;
    const ns = ctx.namespace;
    const command = { type: 'command', command: { body: PAYLOAD_STRING } } as const;

    // troupe, in process: the entity actors on a local system, their log on JetStream.
    // noAsyncTraces, as natsTransport sets on its own connection (the remote host's log below shares that one).
    const localLog: AppendLog = await natsAppendLog({
      servers: url,
      name: 'bench-local',
      namespace: ns,
      connectOptions: { noAsyncTraces: true },
    });
    const local: ActorSystem = await createSystem({ nodeId: 'es-local', transport: localTransport() });
    local.register(notes.type, eventSourcedActor(notes, { log: localLog }), { passivateAfterMs: 0 });
    const localRefs = Array.from({ length: KEYS }, (_, k) => local.virtual<Proto>(notes.type, `k${k}`));

    // troupe, across NATS: a host node with the entities, a client node asking them.
    const cluster = { shards: 4 };
    const host: ActorSystem = await createSystem({
      nodeId: 'es-host',
      transport: natsTransport({ servers: url, namespace: ns, cluster }),
    });
    const hostLog: AppendLog = await natsAppendLog({
      transport: host.transport!,
      name: 'bench-remote',
      namespace: ns,
    });
    host.register(notes.type, eventSourcedActor(notes, { log: hostLog }), { passivateAfterMs: 0 });
    const client: ActorSystem = await createSystem({
      nodeId: 'es-client',
      transport: natsTransport({ servers: url, namespace: ns, cluster }),
    });
    const deadline = Date.now() + 10_000;
    while (
      !(client.transport?.members?.() ?? []).some((m) => m.id === 'es-host' && m.types.includes(notes.type))
    ) {
      if (Date.now() > deadline) throw new Error('event-sourced: the client never saw the host');
      await new Promise((r) => setTimeout(r, 20));
    }
    const remoteRefs = Array.from({ length: KEYS }, (_, k) => client.virtual<Proto>(notes.type, `k${k}`));

    // Baseline: the same records with plain JetStream, one subject per key, each publish expecting the
    // subject's last sequence (what the previous publish on it returned): optimistic concurrency by hand.
    const nc: NatsConnection = await connect({ servers: url, name: 'bench-es-baseline' });
    const jsm = await jetstreamManager(nc);
    const stream = `BASE_ES_${ns.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const subject = `base.${ns}.es`;
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject}.*`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    const tunedNc: NatsConnection = await connect({
      servers: url,
      name: 'bench-es-tuned',
      noAsyncTraces: true,
    });
    /** Appends to subject `k` one after another, each publish expecting the last one's sequence. */
    const chained = (nats: NatsConnection, tag: string) => {
      const js = jetstream(nats);
      const last = new Array<number>(KEYS).fill(0);
      const chains = new Array<Promise<unknown>>(KEYS).fill(Promise.resolve());
      return (k: number): Promise<unknown> => {
        const next = chains[k]!.then(async () => {
          const ack = await js.publish(`${subject}.${tag}k${k}`, RECORD, {
            expect: { lastSubjectSequence: last[k]! },
          });
          last[k] = ack.seq;
        });
        chains[k] = next.catch(() => undefined);
        return next;
      };
    };
    const baselineAppend = chained(nc, 'p');
    const tunedAppend = chained(tunedNc, 't');

    return {
      async round(budget) {
        const total = ctx.count(3_000, 20_000, budget);
        ctx.progress(`troupe: ${total} commands to ${KEYS} entities in process, ${WINDOW} in flight`);
        const troupe = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: (i) => localRefs[i % KEYS]!.ask(command),
        });
        ctx.progress(`troupe: ${total} commands asked over NATS, ${WINDOW} in flight`);
        const remote = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: (i) => remoteRefs[i % KEYS]!.ask(command),
        });
        ctx.progress(
          `baseline: ${total} js.publish with expected last subject sequence, ${WINDOW} in flight`,
        );
        const baseline = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: (i) => baselineAppend(i % KEYS),
        });
        ctx.progress(`baseline: the same with noAsyncTraces`);
        const tuned = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: (i) => tunedAppend(i % KEYS),
        });
        return {
          figures: {
            throughput: { troupe, baseline },
            'throughput-tuned': { troupe, baseline: tuned },
            'throughput-remote': { troupe: remote, baseline },
          },
        };
      },
      async close() {
        await client.close();
        await host.close();
        await hostLog.close();
        await local.close();
        await localLog.close();
        await jsm.streams.delete(stream).catch(() => undefined);
        await nc.close();
        await tunedNc.close();
      },
    };
  },
};
