// The BullMQ workers connected to Redis under a prefix, for `troupe nodes`: task-only nodes have no NATS
// presence, so Redis is where they are seen (BullMQ names each worker's connection after its queue).

import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BullmqError, BullmqErrorCode } from './errors.js';
import { blockingConnection, metaPattern, queueOfMetaKey, resolveBullmqOptions } from './options.js';

/** One worker connection on one task queue, as Redis lists it. */
export interface BullmqWorkerInfo {
  /** The task (queue) it works on. */
  queue: string;
  /** Its worker name (`troupe node --node-id`, the runner's `workerName`), when it has one. */
  name: string | undefined;
  /** Its address as Redis sees it (`host:port`). */
  addr: string;
  /** Seconds since it connected. */
  ageSeconds: number;
}

/** Options of {@link listBullmqWorkers}. */
export interface ListBullmqWorkersOptions {
  /** @defaultValue `redis://127.0.0.1:6379` */
  redis?: string;
  /** @defaultValue `troupe` */
  prefix?: string;
  /** Longest wait for Redis before failing with `TRANSPORT_CONNECT_FAILED`. @defaultValue 10000 */
  connectTimeoutMs?: number;
}

/** Lists the workers of every task queue under the prefix (through BullMQ's `Queue.getWorkers()`). */
export async function listBullmqWorkers(options: ListBullmqWorkersOptions = {}): Promise<BullmqWorkerInfo[]> {
  const config = resolveBullmqOptions({
    ...(options.redis === undefined ? {} : { redis: options.redis }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  const control = new Redis(config.url, { maxRetriesPerRequest: null, lazyConnect: true });
  const errors: unknown[] = [];
  control.on('error', (err: unknown) => errors.push(err));
  const queues: Queue[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const last = errors.at(-1);
      reject(
        new BullmqError(
          BullmqErrorCode.Connect,
          `cannot connect to Redis at ${config.url} within ${config.connectTimeoutMs} ms` +
            (last instanceof Error ? ` (${last.message})` : ''),
        ),
      );
    }, config.connectTimeoutMs);
  });
  const list = async (): Promise<BullmqWorkerInfo[]> => {
    await control.connect();
    const names = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await control.scan(cursor, 'MATCH', metaPattern(config.prefix), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) names.add(queueOfMetaKey(config.prefix, key));
    } while (cursor !== '0');
    const out: BullmqWorkerInfo[] = [];
    for (const name of [...names].sort()) {
      const queue = new Queue(name, { connection: blockingConnection(config.url), prefix: config.prefix });
      queue.on('error', (err: unknown) => errors.push(err));
      queues.push(queue);
      for (const client of (await queue.getWorkers()) as Record<string, string>[]) {
        const raw = client.rawname ?? '';
        const marker = raw.indexOf(':w:');
        out.push({
          queue: name,
          name: marker < 0 ? undefined : raw.slice(marker + 3),
          addr: client.addr ?? '',
          ageSeconds: Number(client.age ?? 0),
        });
      }
    }
    return out;
  };
  try {
    return await Promise.race([list(), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.allSettled(queues.map((q) => q.close()));
    control.disconnect();
  }
}
