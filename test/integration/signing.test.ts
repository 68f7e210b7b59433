// Signed envelopes on the NATS transport: frames carry their node's Ed25519 signature; unsigned, tampered or
// unknown-signer frames, frames the access list forbids and sealed payloads that do not open are dead letters.

import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createLogger,
  createSystem,
  defineActor,
  type Reply,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { type NatsSecurityOptions, natsTransport, SecurityErrorCode } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

type Msgs = {
  note: { v: number };
  echo: { v: number } & Reply<number>;
  'secret-msg': { text: string };
};

/** What each actor handled, by address. */
const handled: Record<string, unknown[]> = {};
function record(address: string, value: unknown): void {
  const list = handled[address] ?? [];
  list.push(value);
  handled[address] = list;
}

const recorder = defineActor<Msgs, string>({
  init: (ctx) => ctx.self.address,
  handlers: {
    note: (msg, ctx) => record(ctx.state, msg.v),
    echo: (msg) => msg.v,
    'secret-msg': (msg, ctx) => record(ctx.state, msg.text),
  },
});

const NS = 'sg';
const SECRET = 'TOPSECRET-plaintext-4711';
const keys = {
  alpha: generateKeyPairSync('ed25519'),
  beta: generateKeyPairSync('ed25519'),
  gamma: generateKeyPairSync('ed25519'),
  mallory: generateKeyPairSync('ed25519'),
};
const publicKeys = { alpha: keys.alpha.publicKey, beta: keys.beta.publicKey, gamma: keys.gamma.publicKey };
const aesKey = randomBytes(32);

let server: ServerProcess;
let raw: NatsConnection;
let alpha: ActorSystem;
let beta: ActorSystem;
let gamma: ActorSystem;
const betaLog: string[] = [];

function security(
  node: keyof typeof publicKeys,
  extra: Partial<NatsSecurityOptions> = {},
): NatsSecurityOptions {
  return {
    signing: { privateKey: keys[node].privateKey, publicKeys },
    encrypt: { types: ['secret-msg'], key: aesKey },
    ...extra,
  };
}

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  alpha = await createSystem({
    nodeId: 'alpha',
    transport: natsTransport({ servers: server.url, namespace: NS, security: security('alpha') }),
  });
  beta = await createSystem({
    nodeId: 'beta',
    logger: createLogger({ level: 'warn', write: (line) => betaLog.push(line) }),
    transport: natsTransport({
      servers: server.url,
      namespace: NS,
      security: security('beta', {
        // alpha may reach everything on beta; gamma only beta/open, and only by tell.
        acl: [
          { from: 'alpha', to: 'beta/**' },
          { from: 'gam*', to: 'beta/open', kinds: ['tell'] },
        ],
      }),
    }),
  });
  // gamma holds a valid signing key but the wrong payload key.
  gamma = await createSystem({
    nodeId: 'gamma',
    transport: natsTransport({
      servers: server.url,
      namespace: NS,
      security: security('gamma', { encrypt: { types: ['secret-msg'], key: randomBytes(32) } }),
    }),
  });
  for (const system of [alpha, beta]) system.spawn(recorder, { name: 'rec' });
  beta.spawn(recorder, { name: 'open' });
});

afterAll(async () => {
  await gamma?.close();
  await beta?.close();
  await alpha?.close();
  await raw?.close();
  await server?.stop();
});

/** The first frame published on `subject` while `act` runs, with its headers, seen by a raw subscriber. */
async function capture(subject: string, act: () => void): Promise<Msg> {
  let seen: Msg | undefined;
  const sub = raw.subscribe(subject, {
    callback: (_err, msg) => {
      if (seen === undefined) seen = msg;
    },
  });
  await raw.flush();
  act();
  await until(() => seen !== undefined, 5000, `a frame on ${subject}`);
  sub.unsubscribe();
  return seen!;
}

const BETA_REC = `troupe.${NS}.beta.rec`;

describe('signed NATS transport', () => {
  it('carries tells, asks and replies both ways, signed', async () => {
    const msg = await capture(BETA_REC, () => alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: 1 }));
    expect(msg.headers?.get('Troupe-Signer')).toBe('alpha');
    expect(msg.headers?.get('Troupe-Sig')).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    beta.ref<Msgs>('alpha/rec').tell({ type: 'note', v: 2 });
    await until(
      () => !!handled['beta/rec']?.includes(1) && !!handled['alpha/rec']?.includes(2),
      5000,
      'tells',
    );
    expect(await alpha.ref<Msgs>('beta/rec').ask({ type: 'echo', v: 7 })).toBe(7);
    expect(await beta.ref<Msgs>('alpha/rec').ask({ type: 'echo', v: 8 })).toBe(8);
    expect(beta.deadLetters.count).toBe(0);
  });

  it('dead-letters unsigned, tampered and unknown-signer frames without handling them', async () => {
    const genuine = await capture(BETA_REC, () => alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: 100 }));
    await until(() => !!handled['beta/rec']?.includes(100), 5000, 'genuine tell');
    const before = handled['beta/rec']!.length;
    const reasons = () => beta.deadLetters.byReason();
    const base = { ...reasons() };
    const data = genuine.data;
    // Unsigned: the same bytes with no headers.
    raw.publish(BETA_REC, data);
    // Tampered: one byte of the payload flipped, signature kept.
    const tampered = new Uint8Array(data);
    tampered[tampered.length - 1]! ^= 0x01;
    raw.publish(BETA_REC, tampered, { headers: genuine.headers! });
    // Signed by a key beta does not know, under a name it does not know, then under alpha's name.
    for (const signer of ['mallory', 'alpha']) {
      const h = headers();
      h.set('Troupe-Signer', signer);
      const digest = createHash('sha256').update(data).digest();
      h.set('Troupe-Sig', sign(null, digest, keys.mallory.privateKey as KeyObject).toString('base64'));
      raw.publish(BETA_REC, data, { headers: h });
    }
    // A garbage signature.
    const g = headers();
    g.set('Troupe-Signer', 'alpha');
    g.set('Troupe-Sig', 'not base64 at all!');
    raw.publish(BETA_REC, data, { headers: g });
    await raw.flush();
    const delta = (code: string) => (reasons()[code] ?? 0) - (base[code] ?? 0);
    await until(
      () =>
        delta(SecurityErrorCode.UnsignedFrame) === 1 &&
        delta(SecurityErrorCode.BadSignature) === 3 &&
        delta(SecurityErrorCode.UnknownSigner) === 1,
      5000,
      'forged frames dead-lettered',
    );
    // A genuine tell after the forgeries is handled; none of the forged ones was.
    alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: 101 });
    await until(() => !!handled['beta/rec']?.includes(101), 5000, 'tell after forgeries');
    expect(handled['beta/rec']!.length).toBe(before + 1);
    // Logged once per kind (rate-limited), never a key.
    const lines = betaLog.filter((l) => l.includes('refused a frame'));
    expect(lines.filter((l) => l.includes(SecurityErrorCode.BadSignature))).toHaveLength(1);
    expect(betaLog.join('\n')).not.toMatch(/PRIVATE KEY|PUBLIC KEY/);
  });

  it('dead-letters what the access list forbids', async () => {
    const base = beta.deadLetters.byReason()[SecurityErrorCode.AclDenied] ?? 0;
    gamma.ref<Msgs>('beta/rec').tell({ type: 'note', v: 200 });
    // gamma may tell beta/open but not ask it.
    await expect(
      gamma.ref<Msgs>('beta/open').ask({ type: 'echo', v: 201 }, { timeout: 300 }),
    ).rejects.toThrow();
    gamma.ref<Msgs>('beta/open').tell({ type: 'note', v: 202 });
    await until(() => !!handled['beta/open']?.includes(202), 5000, 'allowed tell');
    await until(
      () => (beta.deadLetters.byReason()[SecurityErrorCode.AclDenied] ?? 0) - base === 2,
      5000,
      'two denials',
    );
    expect(handled['beta/rec']).not.toContain(200);
  });

  it('seals named types on the wire and opens them on receipt; a wrong key is a dead letter', async () => {
    const wire = await capture(BETA_REC, () =>
      alpha.ref<Msgs>('beta/rec').tell({ type: 'secret-msg', text: SECRET }),
    );
    expect(Buffer.from(wire.data).includes(SECRET)).toBe(false);
    await until(() => !!handled['beta/rec']?.includes(SECRET), 5000, 'decrypted delivery');
    const base = beta.deadLetters.byReason()[SecurityErrorCode.DecryptFailed] ?? 0;
    gamma.ref<Msgs>('beta/open').tell({ type: 'secret-msg', text: 'from gamma' });
    await until(
      () => (beta.deadLetters.byReason()[SecurityErrorCode.DecryptFailed] ?? 0) - base === 1,
      5000,
      'decrypt failure',
    );
    expect(handled['beta/open'] ?? []).not.toContain('from gamma');
  });

  it('keeps signing and verifying across a NATS server restart', async () => {
    await server.restart(200);
    // Tells sent while the connection comes back may be lost (at most once): send until one arrives.
    let v = 300;
    await until(
      () => {
        alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: ++v });
        return handled['beta/rec']!.some((x) => (x as number) > 300);
      },
      15_000,
      'a signed tell after the restart',
    );
    expect(await beta.ref<Msgs>('alpha/rec').ask({ type: 'echo', v: 9 }, { timeout: 5000 })).toBe(9);
    const h = headers();
    h.set('Troupe-Signer', 'alpha');
    h.set('Troupe-Sig', 'AAAA');
    const base = beta.deadLetters.byReason()[SecurityErrorCode.BadSignature] ?? 0;
    // The raw client reconnects on its own schedule: publish until one arrives.
    await until(
      () => {
        raw.publish(BETA_REC, new Uint8Array([1, 2, 3]), { headers: h });
        return (beta.deadLetters.byReason()[SecurityErrorCode.BadSignature] ?? 0) > base;
      },
      10_000,
      'forgery still refused after the restart',
    );
  });

  it('refuses bad security options with INVALID_OPTIONS, naming the field but never the key', () => {
    expect(() =>
      natsTransport({ security: { signing: { privateKey: keys.alpha.publicKey, publicKeys } } }),
    ).toThrow(/security\.signing\.privateKey/);
    expect(() =>
      natsTransport({
        security: { signing: { privateKey: { env: 'TROUPE_TEST_NO_SUCH_KEY' }, publicKeys } },
      }),
    ).toThrow(/TROUPE_TEST_NO_SUCH_KEY is not set/);
    const pem = keys.alpha.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    try {
      natsTransport({ security: { signing: { privateKey: pem, publicKeys: { x: 'garbage' } } } });
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe('INVALID_OPTIONS');
      expect(String((err as Error).message)).not.toContain('PRIVATE');
    }
    expect(() =>
      natsTransport({
        security: {
          signing: { privateKey: pem, publicKeys },
          encrypt: { types: ['x'], key: new Uint8Array(16) },
        },
      }),
    ).toThrow(/security\.encrypt\.key/);
  });
});
