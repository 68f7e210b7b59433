// Signed envelopes from the command line: `troupe node --security-file` signs and verifies every frame, so a
// signed in-process peer reaches its actors and an unsigned one is refused, a dead letter audited to the
// namespace's audit log that `troupe audit --kind security` lists. A signing node without --node-id, or a
// security file that is not JSON, is a usage error (exit 2).

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const actors = fileURLToPath(new URL('./fixtures/cli-actors.mjs', import.meta.url));
const httpFixture = fileURLToPath(new URL('./fixtures/load-http.mjs', import.meta.url));
const NS = 'signedcli';

let nats: ServerProcess;
let dir: string;
const keys = {
  w1: generateKeyPairSync('ed25519'),
  client: generateKeyPairSync('ed25519'),
};
const pem = (k: (typeof keys)['w1'], which: 'privateKey' | 'publicKey'): string =>
  which === 'privateKey'
    ? (k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    : (k.publicKey.export({ type: 'spki', format: 'pem' }) as string);

beforeAll(async () => {
  nats = await startNats();
  dir = mkdtempSync(join(tmpdir(), 'troupe-security-cli-'));
  writeFileSync(join(dir, 'w1.pem'), pem(keys.w1, 'privateKey'), { mode: 0o600 });
  writeFileSync(join(dir, 'w1.pub'), pem(keys.w1, 'publicKey'));
  writeFileSync(join(dir, 'client.pub'), pem(keys.client, 'publicKey'));
  // Key files relative to the security file: they move together.
  writeFileSync(
    join(dir, 'security.json'),
    JSON.stringify({
      signing: {
        privateKey: { file: 'w1.pem' },
        publicKeys: { w1: { file: 'w1.pub' }, client: { file: 'client.pub' } },
      },
    }),
  );
}, 30_000);
afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  NATS_URL: nats.url,
  TROUPE_NAMESPACE: NS,
  TROUPE_SECURITY_FILE: '',
});

async function troupe(
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 30_000,
      env: { ...env(), ...extra },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function startNode(args: string[], extra: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'node', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env(), ...extra },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('actors on NATS as')) resolve(child);
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => reject(new Error(`troupe node exited ${code}: ${out}`)));
  });
}

describe('troupe node --security-file', () => {
  it('signs and verifies: a signed peer is served, an unsigned one refused and audited', async () => {
    const node = await startNode([
      '--node-id',
      'w1',
      '--actors',
      actors,
      '--security-file',
      join(dir, 'security.json'),
    ]);
    const systems: ActorSystem[] = [];
    try {
      const signed = await createSystem({
        nodeId: 'client',
        transport: natsTransport({
          servers: nats.url,
          namespace: NS,
          security: {
            signing: {
              privateKey: keys.client.privateKey,
              publicKeys: { w1: keys.w1.publicKey, client: keys.client.publicKey },
            },
          },
        }),
      });
      systems.push(signed);
      const member = signed.ref<{ work: Record<never, never>; get: Reply<{ seen: number }> }>('w1/crew/a');
      member.tell({ type: 'work' });
      expect(await member.ask({ type: 'get' }, { timeout: 5000 })).toMatchObject({ seen: 1 });

      const unsigned = await createSystem({
        nodeId: 'mallory',
        transport: natsTransport({ servers: nats.url, namespace: NS }),
      });
      systems.push(unsigned);
      unsigned.ref<{ work: Record<never, never> }>('w1/crew/a').tell({ type: 'work' });
      // Never handled: the count stays at the signed peer's one.
      await new Promise((r) => setTimeout(r, 300));
      expect(await member.ask({ type: 'get' }, { timeout: 5000 })).toMatchObject({ seen: 1 });

      let listed: { code: string; node: string }[] = [];
      const deadline = Date.now() + 10_000;
      while (listed.length === 0 && Date.now() < deadline) {
        const audit = await troupe(['audit', '--kind', 'security', '--json']);
        expect(audit.code, audit.stderr).toBe(0);
        listed = JSON.parse(audit.stdout) as { code: string; node: string }[];
        if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(listed).toEqual([expect.objectContaining({ code: 'UNSIGNED_FRAME', node: 'w1' })]);
    } finally {
      for (const s of systems) await s.close();
      node.kill('SIGTERM');
      await new Promise((r) => node.once('exit', r));
    }
  }, 60_000);

  it('a signed load fleet: a signing coordinator runs on a signing load node; an unsigned one cannot', async () => {
    const coord = generateKeyPairSync('ed25519');
    const l1 = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'coord.pem'), pem(coord, 'privateKey'), { mode: 0o600 });
    writeFileSync(join(dir, 'coord.pub'), pem(coord, 'publicKey'));
    writeFileSync(join(dir, 'l1.pem'), pem(l1, 'privateKey'), { mode: 0o600 });
    writeFileSync(join(dir, 'l1.pub'), pem(l1, 'publicKey'));
    const publicKeys = { l1: { file: 'l1.pub' }, coord: { file: 'coord.pub' } };
    writeFileSync(
      join(dir, 'l1.json'),
      JSON.stringify({ signing: { privateKey: { file: 'l1.pem' }, publicKeys } }),
    );
    writeFileSync(
      join(dir, 'coord.json'),
      JSON.stringify({ signing: { privateKey: { file: 'coord.pem' }, publicKeys } }),
    );
    const hits: number[] = [];
    const target = createServer((_req, res) => {
      hits.push(Date.now());
      res.end('ok');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
    const loadEnv = {
      LOAD_TARGET_URL: url,
      LOAD_EXECUTOR: 'vus',
      LOAD_VUS: '2',
      LOAD_DURATION_MS: '1000',
      LOAD_THINK_MS: '20',
    };
    const node = await startNode(
      ['--role', 'load', '--node-id', 'l1', '--security-file', join(dir, 'l1.json')],
      loadEnv,
    );
    try {
      const args = ['load', 'run', httpFixture, '--nodes', '1', '--wait', '5000', '--quiet'];
      const signed = await troupe(
        [...args, '--node-id', 'coord', '--security-file', join(dir, 'coord.json')],
        loadEnv,
      );
      expect(signed.code, signed.stderr).toBe(0);
      const served = hits.length;
      expect(served).toBeGreaterThan(10);
      const unsigned = await troupe(args, loadEnv);
      expect(unsigned.code).toBe(2);
      expect(unsigned.stderr).toContain('LOAD_NODE_UNREACHABLE');
      expect(hits.length).toBe(served);
    } finally {
      node.kill('SIGTERM');
      await new Promise((r) => node.once('exit', r));
      target.closeAllConnections();
      await new Promise((r) => target.close(r));
    }
  }, 60_000);

  it('refuses a signing node without --node-id, and a security file that is not JSON (exit 2)', async () => {
    const noId = await troupe(['node', '--actors', actors, '--security-file', join(dir, 'security.json')]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain('--node-id');
    writeFileSync(join(dir, 'broken.json'), '{ signing: ');
    const broken = await troupe([
      'node',
      '--node-id',
      'w9',
      '--actors',
      actors,
      '--security-file',
      join(dir, 'broken.json'),
    ]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('security file');
    expect(broken.stderr).not.toContain(pem(keys.w1, 'privateKey').split('\n')[1]);
  }, 30_000);
});
