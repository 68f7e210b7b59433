// Scenario `signed-tell`: tells from one sender process to one receiver process over NATS, with Ed25519-signed
// frames (signed on send, verified on receipt) against the same tells unsigned, in the same run.

import { generateKeyPairSync, type KeyObject, type KeyPairKeyObjectResult } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { createSystem, defineActor } from '../../runtime/index.js';
import { type NatsSecurityOptions, natsTransport } from '../../transport/index.js';
import { wallNow } from '../load.js';
import { PAYLOAD_STRING } from '../payload.js';
import type { Figure, RoleCommands, Scenario } from '../scenario.js';
import type { WorkerHandle } from '../worker-client.js';

type Mode = 'signed' | 'plain';

/** What the parent passes to both roles: keys as PEM (a bench's own throwaway keys). */
interface SignedTellInit {
  url: string;
  namespace: string;
  privateKey: string;
  publicKeys: Record<string, string>;
}

const SENDER = 'signer';
const RECEIVER = 'verifier';
/** Flush every so many messages, so the socket buffer stays bounded (as nats-tell does). */
const FLUSH_EVERY = 8192;
/** Longest wait for the last messages after the sender is done. */
const SETTLE_MS = 30_000;

/** The two systems of one process: the same node, signed and not, in namespaces of their own. */
async function systems(init: SignedTellInit, nodeId: string) {
  const nc = await connect({ servers: init.url, name: `bench-${nodeId}` });
  const security: NatsSecurityOptions = {
    signing: { privateKey: init.privateKey, publicKeys: init.publicKeys },
  };
  const signed = await createSystem({
    nodeId,
    transport: natsTransport({ connection: nc, namespace: `${init.namespace}-signed`, security }),
  });
  const plain = await createSystem({
    nodeId,
    transport: natsTransport({ connection: nc, namespace: `${init.namespace}-plain` }),
  });
  return {
    nc,
    signed,
    plain,
    async close() {
      await signed.close();
      await plain.close();
      await nc.close();
    },
  };
}

async function senderRole(init: unknown): Promise<RoleCommands> {
  const s = await systems(init as SignedTellInit, SENDER);
  return {
    async send(args): Promise<{ sent: number }> {
      const { mode, count, deadline } = args as { mode: Mode; count: number; deadline: number };
      const ref = (mode === 'signed' ? s.signed : s.plain).ref<{ m: { body: string } }>(`${RECEIVER}/sink`);
      const message = { type: 'm', body: PAYLOAD_STRING } as const;
      let sent = 0;
      for (let i = 0; i < count; i++) {
        ref.tell(message);
        sent++;
        if ((i & 1023) === 1023 && wallNow() > deadline) break;
        if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await s.nc.flush();
      }
      await s.nc.flush();
      return { sent };
    },
    close: () => s.close(),
  };
}

async function receiverRole(init: unknown): Promise<RoleCommands> {
  const s = await systems(init as SignedTellInit, RECEIVER);
  let count = 0;
  let expected = Number.POSITIVE_INFINITY;
  let lastAt = 0;
  let waiter: (() => void) | undefined;
  const hit = (): void => {
    const c = ++count;
    if ((c & 1023) === 0) lastAt = wallNow();
    if (c === expected) {
      lastAt = wallNow();
      waiter?.();
    }
  };
  const sink = defineActor<{ m: { body: string } }, undefined>({ type: 'sink', handlers: { m: hit } });
  s.signed.spawn(sink, { name: 'sink' });
  s.plain.spawn(sink, { name: 'sink' });
  return {
    reset() {
      count = 0;
      lastAt = 0;
      expected = Number.POSITIVE_INFINITY;
      return undefined;
    },
    async await(args): Promise<{ received: number; lastAt: number; rejected: number }> {
      const { expected: actual, timeoutMs } = args as { expected: number; timeoutMs: number };
      expected = actual;
      if (count < actual) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = undefined;
      }
      return { received: count, lastAt: lastAt || wallNow(), rejected: s.signed.deadLetters.count };
    },
    close: () => s.close(),
  };
}

/** Messages per second from first send to last receipt. */
async function runMode(
  mode: Mode,
  sender: WorkerHandle,
  receiver: WorkerHandle,
  total: number,
  deadline: number,
): Promise<number> {
  await receiver.call('reset', {});
  const t0 = wallNow();
  const { sent } = await sender.call<{ sent: number }>('send', { mode, count: total, deadline });
  const got = await receiver.call<{ received: number; lastAt: number; rejected: number }>('await', {
    expected: sent,
    timeoutMs: SETTLE_MS,
  });
  if (got.rejected > 0) throw new Error(`signed-tell: ${got.rejected} signed frames were refused`);
  return (got.received / Math.max(got.lastAt - t0, 0.001)) * 1000;
}

function pem(key: KeyObject, type: 'pkcs8' | 'spki'): string {
  return key.export({ type, format: 'pem' }).toString();
}

/** `signed-tell`: see the file comment. */
export const signedTell: Scenario = {
  name: 'signed-tell',
  description: 'tells between two processes over NATS with Ed25519-signed frames vs the same tells unsigned',
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: 'signed tell throughput 1 sender → 1 receiver (baseline: unsigned troupe tells)',
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.7,
      processes: { clients: 1, nodes: 1 },
    },
  ],
  roles: { sender: senderRole, receiver: receiverRole },
  async open(ctx) {
    const keys: Record<string, KeyPairKeyObjectResult> = {
      [SENDER]: generateKeyPairSync('ed25519'),
      [RECEIVER]: generateKeyPairSync('ed25519'),
    };
    const publicKeys = Object.fromEntries(
      Object.entries(keys).map(([id, k]) => [id, pem(k.publicKey, 'spki')]),
    );
    const init = (id: string): SignedTellInit => ({
      url: ctx.natsUrl!,
      namespace: ctx.namespace,
      privateKey: pem(keys[id]!.privateKey, 'pkcs8'),
      publicKeys,
    });
    ctx.progress('starting the receiver and sender processes');
    const receiver = await ctx.fork('receiver', init(RECEIVER));
    const sender = await ctx.fork('sender', init(SENDER));
    return {
      async round(budget) {
        const total = ctx.count(100_000, 300_000, budget);
        ctx.progress(`signed: ${total} tells`);
        const troupe = await runMode('signed', sender, receiver, total, budget.deadline());
        ctx.progress(`unsigned: ${total} tells`);
        const baseline = await runMode('plain', sender, receiver, total, budget.deadline());
        const figures: Record<string, Figure> = { throughput: { troupe, baseline } };
        return { figures };
      },
      async close() {
        await Promise.all([sender.close(), receiver.close()]);
      },
    };
  },
};
