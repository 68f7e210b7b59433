// Envelope denials audited: a secured node wired with auditDenials writes each frame its signed transport
// refuses (unsigned, tampered, denied by the access list, unknown signer, sealed with another key) to the fleet's
// audit log on JetStream, with its code, target, subject and claimed signer and never the payload; `troupe audit
// --kind security` lists them.

import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_LOG_NAME,
  type AuditLog,
  auditDenials,
  auditLog,
  DENIAL_CODES,
  type DenialAudit,
} from '../../agents/index.js';
import type { SecurityAuditEntry } from '../../agents/tools/audit.js';
import { main as auditCli } from '../../cli/audit.js';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  defineActor,
  silentLogger,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import {
  type NatsSecurityOptions,
  natsAppendLog,
  natsTransport,
  SecurityErrorCode,
} from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

type Msgs = { note: { v: number; secret?: string }; 'secret-msg': { text: string } };

const NS = `sa${process.pid}`;
const SECRET = 'PAYLOAD-never-audited-5150';
const keys = {
  alpha: generateKeyPairSync('ed25519'),
  beta: generateKeyPairSync('ed25519'),
  gamma: generateKeyPairSync('ed25519'),
};
const publicKeys = { alpha: keys.alpha.publicKey, beta: keys.beta.publicKey, gamma: keys.gamma.publicKey };
const aesKey = randomBytes(32);
const BETA_REC = `troupe.${NS}.beta.rec`;

const handled: number[] = [];
const recorder = defineActor<Msgs>({
  handlers: {
    note: (msg) => {
      handled.push(msg.v);
    },
    'secret-msg': () => {},
  },
});

let server: ServerProcess;
let raw: NatsConnection;
let alpha: ActorSystem;
let beta: ActorSystem;
let gamma: ActorSystem;
let log: AppendLog;
let audit: AuditLog;
let denials: DenialAudit;

function security(node: keyof typeof keys, extra: Partial<NatsSecurityOptions> = {}): NatsSecurityOptions {
  return {
    signing: { privateKey: keys[node].privateKey, publicKeys },
    encrypt: { types: ['secret-msg'], key: aesKey },
    ...extra,
  };
}

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  const node = (id: keyof typeof keys, extra?: Partial<NatsSecurityOptions>) =>
    createSystem({
      nodeId: id,
      logger: silentLogger,
      transport: natsTransport({ servers: server.url, namespace: NS, security: security(id, extra) }),
    });
  alpha = await node('alpha');
  // alpha may reach everything on beta, gamma only beta/open.
  beta = await node('beta', {
    acl: [
      { from: 'alpha', to: 'beta/**' },
      { from: 'gamma', to: 'beta/open' },
    ],
  });
  // gamma signs properly but seals with a key beta does not hold.
  gamma = await node('gamma', { encrypt: { types: ['secret-msg'], key: randomBytes(32) } });
  beta.spawn(recorder, { name: 'rec' });
  beta.spawn(recorder, { name: 'open' });
  // What `troupe node` wires: the node's denials go to the fleet's audit log.
  log = await natsAppendLog({ transport: beta.transport, name: AUDIT_LOG_NAME, namespace: NS });
  audit = auditLog(log, { logger: silentLogger });
  denials = auditDenials(beta, audit);
}, 30_000);

afterAll(async () => {
  await denials?.close();
  await gamma?.close();
  await beta?.close();
  await alpha?.close();
  await log?.close();
  await raw?.close();
  await server?.stop();
});

/** The first frame published on `subject` while `act` runs, seen by a raw subscriber. */
async function capture(subject: string, act: () => void): Promise<Msg> {
  let seen: Msg | undefined;
  const sub = raw.subscribe(subject, {
    callback: (_err, msg) => {
      seen ??= msg;
    },
  });
  await raw.flush();
  act();
  await until(() => seen !== undefined, 5000, `a frame on ${subject}`);
  sub.unsubscribe();
  return seen as Msg;
}

/** The security records once `n` are stored. */
async function securityRecords(n: number): Promise<SecurityAuditEntry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const records = await audit.query({ kind: 'security', limit: 1000 });
    if (records.length >= n) return records;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} security records`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('audit of envelope denials', () => {
  it('records an unsigned frame, a tampered frame and an ACL-denied tell, each with its code', async () => {
    const genuine = await capture(BETA_REC, () =>
      alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: 1, secret: SECRET }),
    );
    await until(() => handled.includes(1), 5000, 'the genuine tell');
    // Unsigned: the genuine bytes without headers.
    raw.publish(BETA_REC, genuine.data);
    // Tampered: one byte flipped, alpha's signature kept.
    const tampered = new Uint8Array(genuine.data);
    tampered[tampered.length - 1]! ^= 0x01;
    raw.publish(BETA_REC, tampered, { headers: genuine.headers! });
    await raw.flush();
    // Denied by beta's access list: gamma is a known signer with no rule for beta/rec.
    gamma.ref<Msgs>('beta/rec').tell({ type: 'note', v: 2, secret: SECRET });

    const records = await securityRecords(3);
    expect(records.map((r) => r.code).sort()).toEqual(
      [SecurityErrorCode.AclDenied, SecurityErrorCode.BadSignature, SecurityErrorCode.UnsignedFrame].sort(),
    );
    const byCode = Object.fromEntries(records.map((r) => [r.code, r]));
    expect(byCode.UNSIGNED_FRAME).toMatchObject({
      kind: 'security',
      node: 'beta',
      target: 'beta/rec',
      subject: BETA_REC,
    });
    expect(byCode.UNSIGNED_FRAME?.signer).toBeUndefined();
    expect(byCode.BAD_SIGNATURE).toMatchObject({
      node: 'beta',
      target: 'beta/rec',
      subject: BETA_REC,
      signer: 'alpha',
    });
    expect(byCode.ACL_DENIED).toMatchObject({ node: 'beta', target: 'beta/rec', signer: 'gamma' });
    for (const r of records) expect(r.at).toBeGreaterThan(0);
    expect(handled).toEqual([1]);
    // Never the payload, never a key.
    const stored = JSON.stringify(await log.read('*'));
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toMatch(/PRIVATE KEY|PUBLIC KEY/);
    // The agents' view of the log is unchanged: security records only when asked for.
    expect(await audit.query()).toEqual([]);
    expect(denials.audited).toBe(3);
  });

  it('records an unknown signer and a payload that does not open', async () => {
    const before = (await audit.query({ kind: 'security', limit: 1000 })).length;
    const genuine = await capture(BETA_REC, () => alpha.ref<Msgs>('beta/rec').tell({ type: 'note', v: 3 }));
    // Signed, but by a key beta does not know, under a name it does not know.
    const mallory = generateKeyPairSync('ed25519');
    const h = headers();
    h.set('Troupe-Signer', 'mallory');
    const digest = createHash('sha256').update(genuine.data).digest();
    h.set('Troupe-Sig', sign(null, digest, mallory.privateKey as KeyObject).toString('base64'));
    raw.publish(BETA_REC, genuine.data, { headers: h });
    await raw.flush();
    // Allowed by the access list, but sealed with a key beta does not hold.
    gamma.ref<Msgs>('beta/open').tell({ type: 'secret-msg', text: SECRET });
    const records = (await securityRecords(before + 2)).slice(before);
    expect(records.map((r) => r.code).sort()).toEqual(
      [SecurityErrorCode.DecryptFailed, SecurityErrorCode.UnknownSigner].sort(),
    );
    expect(records.find((r) => r.code === 'UNKNOWN_SIGNER')).toMatchObject({
      target: 'beta/rec',
      signer: 'mallory',
    });
    expect(records.find((r) => r.code === 'DECRYPT_FAILED')).toMatchObject({
      target: 'beta/open',
      signer: 'gamma',
    });
    expect(JSON.stringify(await log.read('*'))).not.toContain(SECRET);
  });

  it('lists them with troupe audit --kind security', async () => {
    await securityRecords(5);
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    let code: number;
    let tableCode: number;
    try {
      code = await auditCli(['--kind', 'security', '--nats', server.url, '--namespace', NS, '--json']);
      tableCode = await auditCli(['--kind', 'security', '--nats', server.url, '--namespace', NS]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    expect(tableCode).toBe(0);
    const listed = JSON.parse(out[0] as string) as SecurityAuditEntry[];
    expect(listed.map((r) => r.code).sort()).toEqual([...DENIAL_CODES].sort());
    const table = out.slice(1).join('');
    expect(table).toMatch(/^TIME\s+NODE\s+CODE\s+TARGET/);
    for (const c of DENIAL_CODES) expect(table).toContain(c);
    await expect(auditCli(['--kind', 'security', '--agent', 'x', '--nats', server.url])).rejects.toThrow(
      /--agent and --tool do not apply/,
    );
  });

  it('keeps the list of denial codes equal to the transport’s', () => {
    expect([...DENIAL_CODES].sort()).toEqual(Object.values(SecurityErrorCode).sort());
  });
});
