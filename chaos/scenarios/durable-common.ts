// The harness of the durable chaos scenarios: `troupe node` host processes with a durable, KV-persisted
// `ledger`, a sender in this process streaming acknowledged sends (plus tells and asks), faults injected
// meanwhile, and an exact count of what was acknowledged, handled, lost, repeated and reordered.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  defineVirtual,
  type Reply,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { type NatsTransport, natsTransport } from '../../transport/index.js';
import {
  builtCli,
  type CliNode,
  endCliNode,
  packageRoot,
  samplePeakRss,
  sleep,
  startCliNode,
} from '../processes.js';
import type { ChaosSettings } from '../scenario.js';
import type { ChaosSummary } from '../summary.js';
import { collect, tally } from './durable-tally.js';

type Ledger = { add: { seq: number }; note: { seq: number }; get: Reply<number>; seen: Reply<number[]> };

/** The sender's view of the hosts' `ledger` (chaos/fixtures/durable-ledger.mjs): its name, protocol, durability. */
const ledgerType = defineVirtual(
  'ledger',
  defineActor<Ledger, undefined>({
    handlers: { add: () => undefined, note: () => undefined, get: () => 0, seen: () => [] },
  }),
  { durable: true },
);

/** One `troupe node` host process. */
export type Host = CliNode;

/** What a fault injector gets: the server, the hosts, and ways to change them. */
export interface DurableWorld {
  nats: ServerProcess;
  hosts: Host[];
  log(line: string): void;
  /** Starts one more host process and waits until the sender's view lists it with the durable type. */
  startHost(): Promise<Host>;
  /** SIGKILLs a host and waits for it to exit. */
  killHost(host: Host): Promise<void>;
  /** True once the stream's planned time is over: injectors end (the stream ends after them). */
  done(): boolean;
  /** Acknowledged sends so far. */
  acknowledged(): number;
  /** Resolves once `count` more sends were acknowledged (or after `timeoutMs`). */
  progress(count: number, timeoutMs: number): Promise<void>;
}

export interface DurableScenarioOptions {
  name: string;
  settings: ChaosSettings;
  /** Host processes at the start. */
  hosts: number;
  /** Injects faults while the stream runs; returns a description of what it did. */
  faults(world: DurableWorld): Promise<string>;
}

export async function runDurableScenario(options: DurableScenarioOptions): Promise<ChaosSummary> {
  const { settings } = options;
  const log = settings.log;
  const short = settings.short;
  const root = packageRoot();
  const built = builtCli(root);
  const fixture = join(root, 'chaos', 'fixtures', 'durable-ledger.mjs');
  const ns = `c${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'troupe-chaos-'));
  const file = join(dir, 'notes.log');
  writeFileSync(file, '');

  const actors = short ? 6 : 10;
  const paceMs = short ? 40 : 20;
  const streamMs = short ? 4_000 : Math.max(30_000, settings.minutes * 60_000);
  const tailMs = short ? 1_500 : 5_000;
  const settleMs = short ? 8_000 : 70_000;

  const nats = await startNats();
  const hosts: Host[] = [];
  let hostSeq = 0;
  let nodeCrashes = 0;
  let system: ActorSystem | undefined;
  let transport: NatsTransport | undefined;
  const rss = samplePeakRss(() => hosts.filter((h) => !h.ended).map((h) => h.proc.pid));

  const startHost = async (): Promise<Host> => {
    const id = `h${++hostSeq}`;
    const host = startCliNode({
      id,
      built,
      args: ['--nats', nats.url, '--namespace', ns, '--node-id', id, '--actors', fixture],
      env: { CHAOS_NOTES_FILE: file, CHAOS_NAMESPACE: ns },
      readyText: `actors on NATS as ${id}`,
      role: 'host',
      crashed: (line) => {
        nodeCrashes++;
        log(line);
      },
    });
    await host.ready;
    hosts.push(host);
    if (transport) {
      const t = transport;
      const deadline = Date.now() + 15_000;
      while (!t.members().some((m) => m.id === id && m.durable.includes('ledger'))) {
        if (Date.now() > deadline) throw new Error(`host ${id} not seen in membership`);
        await sleep(50);
      }
    }
    return host;
  };

  const killHost = async (host: Host): Promise<void> => {
    host.ended = true;
    if (host.proc.exitCode !== null || host.proc.signalCode !== null) return;
    host.proc.kill('SIGKILL');
    await host.exited;
  };

  // Per actor: the highest seq acknowledged, and which seqs were.
  const acked = new Map<string, Set<number>>();
  /** Per actor, seqs whose first send attempt failed (for pipelined actors, left out of the order check). */
  const retried = new Map<string, Set<number>>();
  const pipelinedIds = new Set<string>();
  const skipOrder = (id: string, seq: number): boolean =>
    pipelinedIds.has(id) && retried.get(id)?.has(seq) === true;
  let sent = 0;
  let acknowledged = 0;
  let sendFailures = 0;
  let tells = 0;
  let asks = 0;
  let askFailures = 0;
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    const done = (): void => {
      inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  };
  let stop = false;
  let faultNotes = '';
  let neverSettled = 0;
  const logs = new Map<string, number[]>();
  try {
    for (let i = 0; i < options.hosts; i++) await startHost();
    transport = natsTransport({ servers: nats.url, namespace: ns });
    system = await createSystem({ nodeId: 'sender', transport });
    const t = transport;
    const deadline = Date.now() + 15_000;
    while (t.members().filter((m) => m.durable.includes('ledger')).length < options.hosts) {
      if (Date.now() > deadline) throw new Error('hosts not seen in membership');
      await sleep(50);
    }
    const sys = system;
    if (process.env.CHAOS_VERBOSE === '1' && t.connection) {
      const nc = t.connection;
      void (async () => {
        for await (const s of nc.status()) log(`sender connection: ${s.type}`);
      })();
    }
    // Senders name the type through the same kind of value the hosts register: it declares it durable, so
    // sends are stored even while no host runs.
    const ledger = (id: string) => sys.virtual(ledgerType, id);
    const ids = Array.from({ length: actors }, (_, i) => `acct${i}`);
    for (const id of ids) {
      acked.set(id, new Set());
      retried.set(id, new Set());
    }
    ids.forEach((id, i) => {
      if (i % 2 === 1) pipelinedIds.add(id);
    });

    const started = Date.now();
    const world: DurableWorld = {
      nats,
      hosts,
      log,
      startHost,
      killHost,
      done: () => stop || Date.now() - started >= streamMs,
      acknowledged: () => acknowledged,
      progress: async (count, timeoutMs) => {
        const target = acknowledged + count;
        const until = Date.now() + timeoutMs;
        while (acknowledged < target && Date.now() < until) await sleep(50);
      },
    };
    /** One send with retries (same message id, so stored once); true once acknowledged. */
    const sendOne = async (id: string, seq: number): Promise<boolean> => {
      for (let attempt = 0; ; attempt++) {
        try {
          await track(ledger(id).send({ type: 'add', seq }, { messageId: `${id}-${seq}` }));
          acknowledged++;
          acked.get(id)!.add(seq);
          return true;
        } catch {
          sendFailures++;
          if (attempt === 0) retried.get(id)!.add(seq);
          if (stop && attempt >= 3) return false;
          await sleep(Math.min(50 * 2 ** attempt, 500));
        }
      }
    };
    const sideTraffic = (id: string, seq: number): void => {
      if (seq % 10 === 0) {
        try {
          ledger(id).tell({ type: 'note', seq });
          tells++;
        } catch {
          // Refused at once (the transport is closed): not counted.
        }
      }
      if (seq % 25 === 0) {
        asks++;
        void track(ledger(id).ask({ type: 'get' }, { timeout: 5000 })).catch(() => {
          askFailures++;
        });
      }
    };
    // Even actors get one send at a time (the next once the last resolved); odd ones get a send every paceMs
    // without waiting, as a busy sender would. Their sends that needed a retry may land after later ones,
    // so only their first-attempt sends count for order.
    const stream = async (id: string, offset: number, pipelined: boolean): Promise<void> => {
      await sleep(offset);
      const pending: Promise<boolean>[] = [];
      for (let seq = 1; !stop; seq++) {
        sent++;
        if (pipelined) pending.push(sendOne(id, seq));
        else await sendOne(id, seq);
        sideTraffic(id, seq);
        await sleep(paceMs);
      }
      await Promise.all(pending);
    };
    const streams = ids.map((id, i) => stream(id, (i * paceMs) / actors, pipelinedIds.has(id)));
    const injector = options.faults(world).then(
      (notes) => {
        faultNotes = notes;
      },
      (err: unknown) => {
        faultNotes = `fault injector failed: ${(err as Error).message}`;
        log(faultNotes);
      },
    );
    let lastLog = Date.now();
    let faultsOver = false;
    void injector.then(() => {
      faultsOver = true;
    });
    // The stream runs for streamMs and at least until the faults are over, plus a tail without faults.
    let tailFrom = Number.POSITIVE_INFINITY;
    while (Date.now() - started < streamMs || !faultsOver || Date.now() - tailFrom < tailMs) {
      if (faultsOver && tailFrom === Number.POSITIVE_INFINITY) tailFrom = Date.now();
      await sleep(100);
      if (process.env.CHAOS_VERBOSE === '1' && Date.now() - lastLog >= 1000) {
        lastLog = Date.now();
        log(
          `t=${((lastLog - started) / 1000).toFixed(1)}s acknowledged ${acknowledged}, in flight ${inFlight.size}, send failures ${sendFailures}`,
        );
      }
    }
    stop = true;
    await Promise.all(streams);
    await injector;
    log(`stream over: ${sent} sent, ${acknowledged} acknowledged; waiting for the hosts to catch up`);

    // Wait until every acknowledged message was handled (or the settle time is over): ask each actor for the
    // log in its state.
    const until = Date.now() + settleMs;
    for (;;) {
      const missing = await collect(ledger, acked, logs);
      if (missing === 0 || Date.now() >= until) break;
      await sleep(500);
    }
    // Calls still pending a little after the end never settled.
    const graceUntil = Date.now() + 6000;
    while (inFlight.size > 0 && Date.now() < graceUntil) await sleep(100);
  } finally {
    stop = true;
    rss.stop();
    neverSettled = inFlight.size;
    await system?.close().catch(() => undefined);
    for (const h of hosts) {
      if (!h.ended) await endCliNode(h, 'SIGTERM', 5000);
    }
    await nats.stop();
  }
  const handled = tally(logs, acked, skipOrder);
  const { lostList } = handled;
  if (lostList.length > 0) log(`lost: ${lostList.join(' ')}`);
  if (handled.reorderedList.length > 0) log(`reordered: ${handled.reorderedList.slice(0, 20).join(' ')}`);
  const notes = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  if (notes.length > 0) log(`host notes (${notes.length}): ${notes.slice(0, 15).join(' | ')}`);
  if (process.env.CHAOS_KEEP === '1') log(`notes kept: ${file}`);
  else rmSync(dir, { recursive: true, force: true });
  return {
    scenario: options.name,
    sent,
    acknowledged,
    handled: handled.handled,
    lost: handled.lost,
    duplicated: handled.duplicated,
    reordered: handled.reordered,
    nodeCrashes,
    neverSettled,
    peakRssMb: rss.peakMb,
    notes:
      `${faultNotes}; ${actors} actors, ${tells} tells, ${asks} asks (${askFailures} failed), ` +
      `${sendFailures} send attempts failed and were retried; ${notes.length} host notes; ` +
      `sender peak RSS ${rss.selfPeakMb.toFixed(0)} MiB`,
  };
}
