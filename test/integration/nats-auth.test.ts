// NATS authentication and TLS against real nats-servers: user+password, token, an nkey user (config file) and
// TLS with client certificates (a CA and certificates made with openssl). Two systems tell and ask each other
// with the right credentials; wrong or missing ones fail with TRANSPORT_CONNECT_FAILED naming the cause; the
// CLI (`troupe nodes`, `ps`, `config`) reads them from flags and the environment and never prints a secret.
// The CLI tests run bin/troupe.js, which loads dist/: run `npm run build` first.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, defineActor, type Reply, TroupeError } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { type NatsTransportOptions, natsKeyValue, natsTransport } from '../../transport/index.js';

type Auth = NonNullable<NatsTransportOptions['auth']>;

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

const PASS = 's3cret-pass-4f9a';
const TOKEN = 't0ken-77c1e2';

let dir: string;
let certs: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
let seedFile: string;
let nkeyPublic: string;
let userPass: ServerProcess;
let tokenServer: ServerProcess;
let nkeyServer: ServerProcess;
let tlsServer: ServerProcess;
let credsServer: ServerProcess;
let credsFile: string;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(into: string): typeof certs {
  const f = (name: string): string => join(into, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe', cwd: into });
  };
  ssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=troupe test CA'],
    ...['-keyout', f('ca.key'), '-out', f('ca.pem')],
  );
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who}`,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
    );
    ssl(
      ...[
        'x509',
        '-req',
        '-in',
        f(`${who}.csr`),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
      ],
      ...['-days', '2', '-extfile', f(`${who}.ext`), '-out', f(`${who}.pem`)],
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

/** A JWT as nats-server reads it (header, claims, Ed25519 signature by the issuer's nkey). */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const b64 = (x: string | Uint8Array): string => Buffer.from(x).toString('base64url');
  const header = b64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = {
    jti: `${name}${Date.now()}`.toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const body = b64(JSON.stringify(claims));
  return `${header}.${body}.${b64(issuer.sign(new TextEncoder().encode(`${header}.${body}`)))}`;
}

/**
 * Decentralized auth: an operator, an account and a user, as nsc would make them. Returns the server config
 * (operator, memory resolver with the account) and writes the user's creds file to `credsFile`.
 */
function operatorSetup(into: string, credsFile: string): string {
  const operator = createOperator();
  const account = createAccount();
  const user = createUser();
  const unlimited = {
    subs: -1,
    data: -1,
    payload: -1,
    imports: -1,
    exports: -1,
    wildcards: true,
    conn: -1,
    leaf: -1,
  };
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'op', { type: 'operator' });
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'acc', {
    type: 'account',
    limits: unlimited,
    default_permissions: { pub: {}, sub: {} },
  });
  const userJwt = natsJwt(account, user.getPublicKey(), 'u', {
    type: 'user',
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  const seed = new TextDecoder().decode(user.getSeed());
  writeFileSync(
    credsFile,
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    { mode: 0o600 },
  );
  writeFileSync(join(into, 'operator.jwt'), operatorJwt);
  return [
    `operator: ${JSON.stringify(join(into, 'operator.jwt'))}`,
    'resolver: MEMORY',
    `resolver_preload: {\n  ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}\n}`,
  ].join('\n');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-nats-auth-'));
  certs = makeCertificates(dir);
  const user = createUser();
  nkeyPublic = user.getPublicKey();
  seedFile = join(dir, 'user.nk');
  writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
  credsFile = join(dir, 'user.creds');
  const operatorConfig = operatorSetup(dir, credsFile);
  [userPass, tokenServer, nkeyServer, tlsServer, credsServer] = await Promise.all([
    startNats({ user: 'alice', pass: PASS }),
    startNats({ jetstream: false, token: TOKEN }),
    startNats({ jetstream: false, nkeys: [nkeyPublic] }),
    startNats({
      jetstream: false,
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, verify: true },
    }),
    startNats({ jetstream: false, config: operatorConfig }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([userPass, tokenServer, nkeyServer, tlsServer, credsServer].map((s) => s?.stop()));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

type Echo = { tell: Record<string, never>; ask: Reply<string> & { text: string } };
const echo = defineActor<Echo, { told: number }>({
  type: 'echo',
  init: () => ({ told: 0 }),
  handlers: {
    tell: (_m, ctx) => {
      ctx.state.told++;
    },
    ask: (m, ctx) => `${m.text}:${ctx.state.told}`,
  },
});

function system(
  nodeId: string,
  server: ServerProcess,
  auth: Auth | undefined,
  namespace: string,
): Promise<ActorSystem> {
  return createSystem({
    nodeId,
    transport: natsTransport({
      servers: server.url,
      namespace,
      ...(auth === undefined ? {} : { auth }),
      connectOptions: { reconnect: false },
    }),
  });
}

/** Connecting with `auth` fails: returns the coded error. */
async function refused(server: ServerProcess, auth: Auth | undefined): Promise<TroupeError> {
  const err = await system(`x-${Math.random().toString(36).slice(2, 8)}`, server, auth, 'refused').then(
    async (s) => {
      await s.close();
      throw new Error('connected without the right credentials');
    },
    (e: unknown) => e,
  );
  expect(TroupeError.is(err)).toBe(true);
  expect((err as TroupeError).code).toBe('TRANSPORT_CONNECT_FAILED');
  return err as TroupeError;
}

/** Two systems on `server`: one hosts `echo`, the other tells it twice and asks it. */
async function tellAndAsk(server: ServerProcess, auth: Auth, ns: string): Promise<void> {
  const a = await system('a', server, auth, ns);
  const b = await system('b', server, auth, ns);
  try {
    a.spawn(echo, { name: 'echo' });
    const ref = b.ref('a/echo');
    ref.tell({ type: 'tell' });
    ref.tell({ type: 'tell' });
    expect(await ref.ask({ type: 'ask', text: 'hi' }, { timeout: 5000 })).toBe('hi:2');
  } finally {
    await b.close();
    await a.close();
  }
}

const tlsAuth = (): Auth => ({
  tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey },
});

describe('NATS authentication and TLS', () => {
  it('user and password: tell/ask across two systems; a wrong or missing password is an authorization violation', async () => {
    await tellAndAsk(userPass, { user: 'alice', pass: PASS }, 'up');
    const wrong = await refused(userPass, { user: 'alice', pass: 'nope' });
    expect(wrong.message).toMatch(/authorization violation/i);
    expect(wrong.message).not.toContain('nope');
    expect((await refused(userPass, undefined)).message).toMatch(/authorization violation/i);
  });

  it('token: tell/ask; a wrong token is refused and not echoed', async () => {
    await tellAndAsk(tokenServer, { token: TOKEN }, 'tok');
    const wrong = await refused(tokenServer, { token: 'wrong-token-xyz' });
    expect(wrong.message).toMatch(/authorization violation/i);
    expect(wrong.message).not.toContain('wrong-token-xyz');
  });

  it('nkey seed file: tell/ask; another nkey is refused; the seed is read again after a server restart', async () => {
    await tellAndAsk(nkeyServer, { nkeySeedFile: seedFile }, 'nk');
    const other = join(dir, 'other.nk');
    writeFileSync(other, new TextDecoder().decode(createUser().getSeed()));
    expect((await refused(nkeyServer, { nkeySeedFile: other })).message).toMatch(/authorization violation/i);

    // A reconnecting transport signs the new server's nonce with the seed again.
    const a = await createSystem({
      nodeId: 'r',
      transport: natsTransport({
        servers: nkeyServer.url,
        namespace: 'nkr',
        auth: { nkeySeedFile: seedFile },
      }),
    });
    const b = await createSystem({
      nodeId: 's',
      transport: natsTransport({
        servers: nkeyServer.url,
        namespace: 'nkr',
        auth: { nkeySeedFile: seedFile },
      }),
    });
    try {
      a.spawn(echo, { name: 'echo' });
      expect(await b.ref('r/echo').ask({ type: 'ask', text: 'before' }, { timeout: 5000 })).toBe('before:0');
      await nkeyServer.restart(200);
      let answer: unknown;
      const deadline = Date.now() + 15_000;
      while (answer === undefined && Date.now() < deadline) {
        answer = await b
          .ref('r/echo')
          .ask({ type: 'ask', text: 'after' }, { timeout: 1000 })
          .catch(() => undefined);
        if (answer === undefined) await new Promise((r) => setTimeout(r, 200));
      }
      expect(answer).toBe('after:0');
    } finally {
      await b.close();
      await a.close();
    }
  }, 30_000);

  it('TLS with a client certificate: tell/ask; without the CA or without a client certificate it fails naming TLS', async () => {
    await tellAndAsk(tlsServer, tlsAuth(), 'tls');
    const noCa = await refused(tlsServer, { tls: { certFile: certs.clientCert, keyFile: certs.clientKey } });
    expect(noCa.message).toMatch(/certificate|tls/i);
    const noClientCert = await refused(tlsServer, { tls: { caFile: certs.ca } });
    expect(noClientCert.message).toMatch(/certificate|tls|handshake|closed|disconnect/i);
  });

  it('creds file (operator, account and user JWTs): tell/ask; a user of another operator is refused', async () => {
    await tellAndAsk(credsServer, { credsFile }, 'creds');
    const stranger = join(dir, 'stranger.creds');
    operatorSetup(mkdtempSync(join(dir, 'other-')), stranger);
    expect((await refused(credsServer, { credsFile: stranger })).message).toMatch(/authorization violation/i);
    const unreadable = await refused(credsServer, { credsFile: join(dir, 'missing.creds') });
    expect(unreadable.message).toMatch(/missing\.creds/);
  });

  it('a store opens its own connection with the same credentials (auth in its options)', async () => {
    const options = { servers: userPass.url, bucket: 'auth-kv', auth: { user: 'alice', pass: PASS } };
    const store = await natsKeyValue(options);
    try {
      await store.put('k', 'v1');
      expect((await store.get('k'))?.value).toBe('v1');
    } finally {
      await store.close();
    }
    const err = await natsKeyValue({
      servers: userPass.url,
      bucket: 'auth-kv',
      connectOptions: { reconnect: false },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as TroupeError).code).toBe('TRANSPORT_CONNECT_FAILED');
    expect((err as Error).message).toMatch(/authorization violation/i);
  });

  it('rejects bad auth options with INVALID_OPTIONS', () => {
    expect(() => natsTransport({ auth: { user: 'a', token: 'b' } })).toThrow(/one way to authenticate/);
    expect(() => natsTransport({ auth: { pass: 'b' } })).toThrow(/needs a user/);
    expect(() => natsTransport({ auth: { tls: { certFile: 'c.pem' } } })).toThrow(/certFile and keyFile/);
  });
});

async function troupe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 30_000,
      env: { ...cleanEnv(), ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** This process's environment without any NATS settings a developer may have exported. */
function cleanEnv(): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env, NATS_URL: '', REDIS_URL: '', TROUPE_NAMESPACE: '' };
  for (const k of [
    'NATS_USER',
    'NATS_PASS',
    'NATS_TOKEN',
    'NATS_CREDS',
    'NATS_NKEY_SEED_FILE',
    'NATS_TLS_CA',
    'NATS_TLS_CERT',
    'NATS_TLS_KEY',
  ])
    delete clean[k];
  return clean;
}

describe('troupe CLI with NATS credentials', () => {
  it('nodes and ps with NATS_USER/NATS_PASS see a node; a wrong password fails coded, no secret printed', async () => {
    const node = await system('worker-1', userPass, { user: 'alice', pass: PASS }, 'cli');
    try {
      node.spawn(echo, { name: 'echo' });
      const env = { NATS_URL: userPass.url, TROUPE_NAMESPACE: 'cli', NATS_USER: 'alice', NATS_PASS: PASS };
      const nodes = await troupe(['nodes', '--json', '--log-level', 'debug'], env);
      expect(nodes.code, nodes.stderr).toBe(0);
      expect((JSON.parse(nodes.stdout) as { id: string }[]).map((n) => n.id)).toEqual(['worker-1']);
      const ps = await troupe(['ps', '--log-level', 'debug'], env);
      expect(ps.code, ps.stderr).toBe(0);
      expect(ps.stdout).toContain('worker-1/echo');
      for (const out of [nodes, ps]) expect(out.stdout + out.stderr).not.toContain(PASS);

      const wrongPass = 'wr0ng-pa55-e1';
      for (const command of ['nodes', 'ps']) {
        const wrong = await troupe([command, '--log-level', 'debug'], { ...env, NATS_PASS: wrongPass });
        expect(wrong.code).toBe(1);
        expect(wrong.stderr).toContain('TRANSPORT_CONNECT_FAILED');
        expect(wrong.stderr).toMatch(/authorization violation/i);
        expect(wrong.stdout + wrong.stderr).not.toContain(wrongPass);
        const missing = await troupe([command], { NATS_URL: userPass.url, TROUPE_NAMESPACE: 'cli' });
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/TRANSPORT_CONNECT_FAILED.*authorization violation/i);
      }
    } finally {
      await node.close();
    }
  }, 60_000);

  it('troupe demo --nats with NATS_USER/NATS_PASS: every node process connects, journal on JetStream; a wrong password fails coded', async () => {
    const env = { NATS_URL: userPass.url, NATS_USER: 'alice', NATS_PASS: PASS };
    const demo = await troupe(['demo', '--json'], env);
    expect(demo.code, demo.stderr).toBe(0);
    const summary = JSON.parse(demo.stdout) as {
      ok: boolean;
      processes: { role: string }[];
      crash: { modelCallsRepeated: number };
    };
    expect(summary.ok).toBe(true);
    expect(summary.processes.map((p) => p.role)).toEqual(
      expect.arrayContaining(['worker', 'node-a', 'node-b']),
    );
    expect(summary.crash.modelCallsRepeated).toBe(0);
    expect(demo.stdout + demo.stderr).not.toContain(PASS);
    const wrong = await troupe(['demo'], { ...env, NATS_PASS: 'wr0ng-pa55-e2' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/authorization violation/i);
    expect(wrong.stdout + wrong.stderr).not.toContain('wr0ng-pa55-e2');
  }, 60_000);

  it('token by flag, nkey seed file and TLS by environment; TLS without the CA names TLS', async () => {
    const node = await system('tok-1', tokenServer, { token: TOKEN }, 'cli2');
    const tnode = await system('tls-1', tlsServer, tlsAuth(), 'cli2');
    const knode = await system('nk-1', nkeyServer, { nkeySeedFile: seedFile }, 'cli2');
    try {
      const byToken = await troupe([
        'nodes',
        '--json',
        '--nats',
        tokenServer.url,
        '--namespace',
        'cli2',
        '--nats-token',
        TOKEN,
      ]);
      expect(byToken.code, byToken.stderr).toBe(0);
      expect(byToken.stdout).toContain('tok-1');
      expect(byToken.stdout + byToken.stderr).not.toContain(TOKEN);

      const byNkey = await troupe(['nodes', '--json'], {
        NATS_URL: nkeyServer.url,
        TROUPE_NAMESPACE: 'cli2',
        NATS_NKEY_SEED_FILE: seedFile,
      });
      expect(byNkey.code, byNkey.stderr).toBe(0);
      expect(byNkey.stdout).toContain('nk-1');

      const tlsEnv = {
        NATS_URL: tlsServer.url,
        TROUPE_NAMESPACE: 'cli2',
        NATS_TLS_CA: certs.ca,
        NATS_TLS_CERT: certs.clientCert,
        NATS_TLS_KEY: certs.clientKey,
      };
      const byTls = await troupe(['nodes', '--json'], tlsEnv);
      expect(byTls.code, byTls.stderr).toBe(0);
      expect(byTls.stdout).toContain('tls-1');
      const noCa = await troupe(['nodes'], { ...tlsEnv, NATS_TLS_CA: '' });
      expect(noCa.code).toBe(1);
      expect(noCa.stderr).toMatch(/TRANSPORT_CONNECT_FAILED.*TLS/);
    } finally {
      await Promise.all([node.close(), tnode.close(), knode.close()]);
    }
  }, 60_000);

  it('troupe node, tell and ask with a creds file (NATS_CREDS); a node with a foreign creds file exits coded', async () => {
    const actors = fileURLToPath(new URL('../e2e/fixtures/cli-actors.mjs', import.meta.url));
    const env = { NATS_URL: credsServer.url, TROUPE_NAMESPACE: 'cli3', NATS_CREDS: credsFile };
    const clean = cleanEnv();
    const node = spawn(process.execPath, [bin, 'node', '--node-id', 'w1', '--actors', actors], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...clean, ...env },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        node.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('actors on NATS as w1')) resolve();
        });
        node.once('exit', (code) => reject(new Error(`troupe node exited ${code}: ${out}`)));
      });
      const told = await troupe(['tell', 'w1/crew/a', '{"type":"work"}'], env);
      expect(told.code, told.stderr).toBe(0);
      const asked = await troupe(['ask', 'w1/crew/a', '{"type":"get"}', '--json'], env);
      expect(asked.code, asked.stderr).toBe(0);
      expect(JSON.parse(asked.stdout)).toMatchObject({ ok: true, reply: { seen: 1 } });
    } finally {
      node.kill('SIGTERM');
      await new Promise((r) => node.once('exit', r));
    }
    const stranger = join(dir, 'stranger-node.creds');
    operatorSetup(mkdtempSync(join(dir, 'other-node-')), stranger);
    const refusedNode = await troupe(['node', '--node-id', 'w2', '--actors', actors], {
      ...env,
      NATS_CREDS: stranger,
    });
    expect(refusedNode.code).toBe(1);
    expect(refusedNode.stderr).toMatch(/TRANSPORT_CONNECT_FAILED.*authorization violation/i);
    expect(refusedNode.stderr).not.toContain(readFileSync(stranger, 'utf8').split('\n')[1]!);
  }, 60_000);

  it('troupe config shows secrets as *** and names their sources; bad combinations are INVALID_OPTIONS', async () => {
    const shown = await troupe(['config', '--json'], {
      NATS_USER: 'alice',
      NATS_PASS: PASS,
      NATS_TLS_CA: certs.ca,
    });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).not.toContain(PASS);
    const config = JSON.parse(shown.stdout) as {
      values: Record<string, unknown>;
      sources: Record<string, { kind: string; from: string }>;
    };
    expect(config.values).toMatchObject({
      natsUser: 'alice',
      natsPass: '***',
      natsTlsCa: certs.ca,
      natsToken: null,
    });
    expect(config.sources.natsPass).toEqual({ kind: 'env', from: 'NATS_PASS' });
    const table = await troupe(['config', '--nats-token', TOKEN]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/natsToken\s+\*\*\*\s+flag --nats-token/);
    expect(table.stdout).not.toContain(TOKEN);

    const both = await troupe(['config'], { NATS_USER: 'alice', NATS_TOKEN: TOKEN });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/INVALID_OPTIONS.*one way to authenticate/);
    expect(both.stderr).not.toContain(TOKEN);
    const inUrl = await troupe(['config', '--json'], { NATS_URL: `nats://alice:${PASS}@127.0.0.1:4222` });
    expect(inUrl.code, inUrl.stderr).toBe(0);
    expect(inUrl.stdout).toContain('nats://alice:***@127.0.0.1:4222');
    expect(inUrl.stdout).not.toContain(PASS);
    const noFile = await troupe(['config', '--nats-creds-file', join(dir, 'missing.creds')]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/--nats-creds-file.*no such file/);
  });
});
