// Fuzz: forged, malformed, truncated and oversized frames at every subject a node listens on, while the node
// must keep answering correctly, stay alive and spend little CPU per frame.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type ActorSystem, createSystem } from '../../runtime/index.js';
import { startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { FrameForge, type FuzzTarget } from '../fuzz/frames.js';
import type { CounterProtocol, EchoProtocol, NodeStats, ProbeProtocol } from '../fuzz/node.js';
import type { ChaosScenario, ChaosSettings } from '../scenario.js';
import type { ChaosSummary } from '../summary.js';

/** The node's frame limit (set in chaos/fuzz/node.ts): bodies above it are "oversized". */
export const FUZZ_MAX_FRAME_BYTES = 64 * 1024;

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  /** Frames to send at least (the short run's default is 12,000). */
  frames?: number;
  /** Frames between two rounds of checks. @defaultValue 500 */
  batch?: number;
  /** @defaultValue a random seed (printed in the notes) */
  seed?: number;
  /**
   * After the fuzz, flood the node with this many malformed frames to a missing actor, in steps, and
   * measure its memory after each step (after a forced GC). 0 skips it.
   * @defaultValue 0
   */
  memoryFlood?: number;
  /** Size of the binary value in each memory-flood frame's payload. @defaultValue 200 */
  floodBlobBytes?: number;
  /** Only frames whose kind (`<subject class>/<body class>`) matches, to measure one class alone. */
  only?: RegExp;
}

/** Memory of the node under fuzz at one point, in MiB (after a forced GC). */
export interface MemoryPoint {
  afterFrames: number;
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  retainedDeadLetters: number;
}

/** What {@link runFuzz} measured, beyond the summary. */
export interface FuzzResult {
  summary: ChaosSummary;
  seed: number;
  framesSent: number;
  /** Frames sent per subject/body class. */
  byKind: Record<string, number>;
  checks: number;
  checksCorrect: number;
  /** Checks answered with a wrong value, or failed (first few, for the report). */
  checkFailures: string[];
  /** Node CPU time (user + system) during the fuzz divided by frames sent, in microseconds. */
  cpuMicrosPerFrame: number;
  /** Dead letters the node recorded during the fuzz, by reason. */
  deadLetters: Record<string, number>;
  deadLetterCount: number;
  memory: MemoryPoint[];
  nodeExit: string | undefined;
}

const MB = 1024 * 1024;

/** The compiled node fixture: next to this file when running from dist/, else under dist/. */
function nodeScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, '..', 'fuzz', 'node.js');
  if (existsSync(sibling)) return sibling;
  const built = resolve(here, '..', '..', 'dist', 'chaos', 'fuzz', 'node.js');
  if (existsSync(built)) return built;
  throw new Error(`fuzz: ${built} is missing; run \`npm run build\` first`);
}

function startNode(
  url: string,
  namespace: string,
  nodeId: string,
): Promise<{ child: ChildProcess; exit: Promise<string> }> {
  const child = spawn(process.execPath, ['--expose-gc', nodeScript(), url, namespace, nodeId], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<string>((resolveExit) =>
    child.once('exit', (code, signal) =>
      resolveExit(`exited with ${signal ?? code}: ${output.slice(-2000)}`),
    ),
  );
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fuzz node did not start within 20 s: ${output}`));
    }, 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      if (output.includes('ready\n')) {
        clearTimeout(timer);
        resolveReady({ child, exit });
      }
    });
    void exit.then((why) => {
      clearTimeout(timer);
      reject(new Error(`fuzz node ${why}`));
    });
  });
}

/** Settles with the promise, or with `undefined` marked as never settled after `ms`. */
function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ settled: true; value?: T; error?: unknown } | { settled: false }> {
  return new Promise((done) => {
    const timer = setTimeout(() => done({ settled: false }), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        done({ settled: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        done({ settled: true, error });
      },
    );
  });
}

/** Runs the fuzz against a fresh node and returns everything it measured. */
export async function runFuzz(settings: ChaosSettings, options: FuzzOptions = {}): Promise<FuzzResult> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const batch = options.batch ?? 500;
  const minFrames = options.frames ?? (settings.short ? 12_000 : 0);
  const until = settings.short ? 0 : Date.now() + settings.minutes * 60_000;
  const namespace = `fuzz${seed.toString(36)}`;
  const nodeId = 'target';
  const target: FuzzTarget = {
    namespace,
    nodeId,
    shards: 8,
    types: ['greeter', 'ledger', 'roamer'],
    durable: ['ledger'],
    ids: ['a', 'b', 'c', 'd'],
    maxFrameBytes: FUZZ_MAX_FRAME_BYTES,
  };
  const nats = await startNats();
  let child: ChildProcess | undefined;
  let client: ActorSystem | undefined;
  let raw: NatsConnection | undefined;
  const byKind: Record<string, number> = {};
  const checkFailures: string[] = [];
  const memory: MemoryPoint[] = [];
  let framesSent = 0;
  let checks = 0;
  let checksCorrect = 0;
  let answered = 0;
  let neverSettled = 0;
  let nodeExit: string | undefined;
  let stopping = false;
  let deafNode: string | undefined;
  let peakRss = 0;
  let first: NodeStats | undefined;
  let last: NodeStats | undefined;
  try {
    const started = await startNode(nats.url, namespace, nodeId);
    child = started.child;
    void started.exit.then((why) => {
      if (!stopping) nodeExit = why;
    });
    client = await createSystem({
      nodeId: 'fuzz-client',
      askTimeoutMs: 5000,
      transport: natsTransport({
        servers: nats.url,
        namespace,
        cluster: { shards: target.shards, heartbeatMs: 250, failureTimeoutMs: 1500 },
      }),
    });
    raw = await connect({ servers: nats.url, name: 'fuzzer' });
    const counter = client.ref<CounterProtocol>(`${nodeId}/counter`);
    const probe = client.ref<ProbeProtocol>(`${nodeId}/probe`);
    let expectedSum = 0;
    let round = 0;

    const stats = async (gc: boolean): Promise<NodeStats | undefined> => {
      const r = await within(probe.ask({ type: 'stats', gc }, { timeout: 10_000 }), 15_000);
      if (!r.settled) {
        neverSettled++;
        return undefined;
      }
      if (r.error !== undefined) return undefined;
      peakRss = Math.max(peakRss, r.value!.rss);
      return r.value;
    };

    /** One round of checks: each kind of actor answers, and answers right. */
    /** Check rounds in a row in which nothing answered: a node that is alive but deaf. */
    let deafRounds = 0;
    const check = async (): Promise<void> => {
      round++;
      const text = `r${round}`;
      const asks: [string, Promise<unknown>, unknown][] = [];
      const n = round;
      expectedSum += n;
      asks.push(['counter.add', counter.ask({ type: 'add', n }), expectedSum]);
      for (const type of target.types) {
        const id = target.ids[round % target.ids.length]!;
        asks.push([
          `${type}.echo`,
          client!.virtual<EchoProtocol>(type, id).ask({ type: 'echo', text }),
          `${type}:$v/${type}/${id}:${text}`,
        ]);
      }
      const results = await Promise.all(asks.map(([, p]) => within(p, 15_000)));
      deafRounds = results.every((r) => !r.settled || r.error !== undefined) ? deafRounds + 1 : 0;
      results.forEach((r, i) => {
        const [name, , expected] = asks[i]!;
        checks++;
        if (!r.settled) {
          neverSettled++;
          checkFailures.push(`${name}: never settled`);
        } else if (r.error !== undefined) {
          checkFailures.push(`${name}: ${(r.error as Error).message}`);
        } else {
          answered++;
          if (JSON.stringify(r.value) === JSON.stringify(expected)) checksCorrect++;
          else
            checkFailures.push(
              `${name}: got ${JSON.stringify(r.value)}, expected ${JSON.stringify(expected)}`,
            );
        }
      });
    };

    // Wait until the client sees the node and its shards answer.
    const ready = Date.now() + 20_000;
    for (;;) {
      try {
        await client
          .virtual<EchoProtocol>('greeter', 'a')
          .ask({ type: 'echo', text: 'hi' }, { timeout: 1000 });
        await client
          .virtual<EchoProtocol>('ledger', 'a')
          .ask({ type: 'echo', text: 'hi' }, { timeout: 1000 });
        await client
          .virtual<EchoProtocol>('roamer', 'a')
          .ask({ type: 'echo', text: 'hi' }, { timeout: 1000 });
        break;
      } catch (err) {
        if (Date.now() > ready)
          throw new Error(`fuzz: the node's virtual actors never answered: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await check();
    first = await stats(true);
    settings.log(`seed ${seed}; node rss ${((first?.rss ?? 0) / MB).toFixed(1)} MiB before the fuzz`);

    const forge = new FrameForge(target, seed);
    const connection = raw;
    while (nodeExit === undefined && deafRounds < 3 && (framesSent < minFrames || Date.now() < until)) {
      for (let i = 0; i < batch; i++) {
        let frame = forge.next();
        while (options.only && !options.only.test(frame.kind)) frame = forge.next();
        byKind[frame.kind] = (byKind[frame.kind] ?? 0) + 1;
        connection.publish(frame.subject, frame.data, {
          ...(frame.reply !== undefined && { reply: frame.reply }),
          ...(frame.headers !== undefined && { headers: frame.headers }),
        });
        framesSent++;
      }
      await connection.flush();
      await check();
      if (framesSent % (batch * 10) === 0) {
        const s = await stats(false);
        if (s)
          settings.log(
            `${framesSent} frames; node rss ${(s.rss / MB).toFixed(1)} MiB, ${s.deadLetters} dead letters`,
          );
      }
    }
    if (deafRounds >= 3) {
      deafNode = `the node stopped answering after ${framesSent} frames`;
      settings.log(deafNode);
    }
    // Whatever is still queued behind the last frames is counted too.
    await check();
    last = await stats(true);

    if ((options.memoryFlood ?? 0) > 0 && nodeExit === undefined && deafNode === undefined) {
      // Frames that decode, to an actor that does not exist: every one is a dead letter with its payload.
      const step = 10_000;
      const blob = new Uint8Array(options.floodBlobBytes ?? 200).fill(7);
      const record = (s: NodeStats | undefined, after: number): void => {
        if (!s) return;
        memory.push({
          afterFrames: after,
          rssMb: s.rss / MB,
          heapUsedMb: s.heapUsed / MB,
          externalMb: s.external / MB,
          arrayBuffersMb: s.arrayBuffers / MB,
          retainedDeadLetters: s.retained,
        });
      };
      record(await stats(true), 0);
      const flood = new FrameForge(target, seed + 1);
      for (let sent = 0; sent < options.memoryFlood!; ) {
        for (let i = 0; i < step; i++, sent++) {
          const body = flood.malformedToMissingActor(blob, sent);
          connection.publish(body.subject, body.data);
        }
        await connection.flush();
        await check();
        record(await stats(true), sent);
        framesSent += step;
      }
    }
  } finally {
    await raw?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    stopping = true;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child!.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await nats.stop();
  }
  const cpuMicrosPerFrame =
    first && last && framesSent > 0 ? (last.cpuMicros - first.cpuMicros) / framesSent : Number.NaN;
  const deadLetters: Record<string, number> = {};
  for (const [reason, count] of Object.entries(last?.byReason ?? {}))
    deadLetters[reason] = count - (first?.byReason[reason] ?? 0);
  const deadLetterCount = (last?.deadLetters ?? 0) - (first?.deadLetters ?? 0);
  const crashed = nodeExit !== undefined ? 1 : 0;
  const summary: ChaosSummary = {
    scenario: 'fuzz',
    sent: framesSent + checks,
    acknowledged: answered,
    handled: checksCorrect,
    lost: checks - checksCorrect,
    duplicated: 0,
    reordered: 0,
    nodeCrashes: crashed,
    neverSettled,
    peakRssMb: peakRss / MB,
    notes:
      `${framesSent} forged frames (seed ${seed}), ${checks} check asks, ` +
      `${cpuMicrosPerFrame.toFixed(1)} µs node CPU/frame, ${deadLetterCount} dead letters` +
      (nodeExit ? `; node ${nodeExit.split('\n')[0]}` : '') +
      (deafNode ? `; ${deafNode}` : '') +
      (checkFailures.length > 0 ? `; first failure: ${checkFailures[0]}` : ''),
  };
  return {
    summary,
    seed,
    framesSent,
    byKind,
    checks,
    checksCorrect,
    checkFailures: checkFailures.slice(0, 20),
    cpuMicrosPerFrame,
    deadLetters,
    deadLetterCount,
    memory,
    nodeExit,
  };
}

/** The `fuzz` chaos scenario. */
export const fuzzScenario: ChaosScenario = {
  name: 'fuzz',
  description:
    'Publishes malformed, truncated, oversized and forged frames at every subject a node listens on; between batches its actors must answer right, and the node must not crash.',
  async run(settings: ChaosSettings): Promise<ChaosSummary> {
    return (await runFuzz(settings)).summary;
  },
};
