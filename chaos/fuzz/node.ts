// The node under fuzz, run in a process of its own (`node --expose-gc dist/chaos/fuzz/node.js <url> <ns> <id>`)
// so that a crash shows as an exit. It hosts one actor of every kind a node serves and a probe that reports
// the process's CPU time, memory and dead letters over an ordinary ask.

import { createSystem, defineActor, leastLoadedPlacement, type Reply } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';

/** What the probe reports. */
export interface NodeStats {
  /** User + system CPU time of the process, in microseconds. */
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  deadLetters: number;
  byReason: Record<string, number>;
  /** Dead letters kept by the office's ring. */
  retained: number;
}

/** The protocol of the regular actor the fuzzer checks between batches. */
export type CounterProtocol = {
  add: { n: number } & Reply<number>;
  get: Reply<{ sum: number; adds: number }>;
};

/** The protocol of the virtual actors (plain and durable) the fuzzer checks. */
export type EchoProtocol = {
  echo: { text: string } & Reply<string>;
  add: { n: number };
  sum: Reply<number>;
};

/** The probe's protocol. */
export type ProbeProtocol = {
  stats: { gc?: boolean } & Reply<NodeStats>;
};

async function main(): Promise<void> {
  const [url, namespace, nodeId] = process.argv.slice(2) as [string, string, string];
  const transport = natsTransport({
    servers: url,
    namespace,
    cluster: { shards: 8, heartbeatMs: 250, failureTimeoutMs: 1500, tellRetryMs: 1000 },
  });
  const system = await createSystem({ nodeId, transport });

  const counter = defineActor<CounterProtocol, { sum: number; adds: number }>({
    type: 'counter',
    init: () => ({ sum: 0, adds: 0 }),
    handlers: {
      add: (m, ctx) => {
        ctx.state.sum += m.n;
        ctx.state.adds++;
        return ctx.state.sum;
      },
      get: (_m, ctx) => ({ ...ctx.state }),
    },
  });
  const echo = (type: string) =>
    defineActor<EchoProtocol, { sum: number }>({
      type,
      init: () => ({ sum: 0 }),
      handlers: {
        echo: (m, ctx) => `${type}:${ctx.self.address}:${m.text}`,
        add: (m, ctx) => {
          ctx.state.sum += m.n;
        },
        sum: (_m, ctx) => ctx.state.sum,
      },
    });
  system.register('greeter', echo('greeter'));
  system.register('ledger', echo('ledger'), { durable: true });
  system.register('roamer', echo('roamer'), { placement: leastLoadedPlacement() });
  system.spawn(counter, { name: 'counter' });

  const gc = (globalThis as { gc?: () => void }).gc;
  const probe = defineActor<ProbeProtocol, undefined>({
    type: 'probe',
    init: () => undefined,
    handlers: {
      stats: (m) => {
        if (m.gc && gc) {
          gc();
          gc();
        }
        const cpu = process.cpuUsage();
        const mem = process.memoryUsage();
        return {
          cpuMicros: cpu.user + cpu.system,
          rss: mem.rss,
          heapUsed: mem.heapUsed,
          external: mem.external,
          arrayBuffers: mem.arrayBuffers,
          deadLetters: system.deadLetters.count,
          byReason: system.deadLetters.byReason(),
          retained: system.deadLetters.recent().length,
        };
      },
    },
  });
  system.spawn(probe, { name: 'probe' });

  process.on('SIGTERM', () => {
    void system.close().then(() => process.exit(0));
  });
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz node: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
