// The CLI's configuration: flags over environment over file over defaults, sources reported, errors naming
// the key and where the bad value came from.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig, taskPrefix } from '../../cli/config.js';
import { InvalidOptionsError } from '../../runtime/index.js';

const file = {
  path: '/etc/troupe.config.json',
  data: { nats: 'nats://file:4222', namespace: 'fromfile', logLevel: 'debug' },
};

describe('CLI configuration', () => {
  it('takes flags over environment over file over defaults, and says where each value came from', () => {
    const all = resolveConfig({
      flags: { nats: 'nats://flag:4222' },
      env: { NATS_URL: 'nats://env:4222', TROUPE_NAMESPACE: 'fromenv', REDIS_URL: 'redis://env:6379' },
      file,
    });
    expect(all.values.nats).toBe('nats://flag:4222');
    expect(all.sources.nats).toEqual({ kind: 'flag', from: '--nats' });
    expect(all.values.namespace).toBe('fromenv');
    expect(all.sources.namespace).toEqual({ kind: 'env', from: 'TROUPE_NAMESPACE' });
    expect(all.values.redis).toBe('redis://env:6379');
    expect(all.values.logLevel).toBe('debug');
    expect(all.sources.logLevel).toEqual({ kind: 'file', from: file.path });
    expect(all.values.logFormat).toBe('auto');
    expect(all.sources.logFormat.kind).toBe('default');
    expect(all.file).toBe(file.path);

    const bare = resolveConfig({ env: {} });
    expect(bare.values).toMatchObject({
      nats: 'nats://127.0.0.1:4222',
      redis: 'redis://127.0.0.1:6379',
      namespace: 'default',
      prefix: 'troupe',
      logLevel: 'warn',
    });
    expect(resolveConfig({ env: {}, defaults: { logLevel: 'info' } }).values.logLevel).toBe('info');
    // An empty variable counts as unset.
    expect(resolveConfig({ env: { NATS_URL: '' }, file }).values.nats).toBe('nats://file:4222');
  });

  it('keeps task queues apart per namespace unless a prefix is given', () => {
    expect(taskPrefix('default')).toBe('troupe');
    expect(resolveConfig({ flags: { namespace: 'blue' }, env: {} }).values.prefix).toBe('troupe.blue');
    expect(resolveConfig({ flags: { namespace: 'blue', prefix: 'mine' }, env: {} }).values.prefix).toBe(
      'mine',
    );
  });

  it('rejects bad values with a coded error naming the key and its source', () => {
    const bad = (layers: Parameters<typeof resolveConfig>[0]): InvalidOptionsError => {
      try {
        resolveConfig(layers);
      } catch (err) {
        return err as InvalidOptionsError;
      }
      throw new Error('expected an error');
    };
    const fromEnv = bad({ env: { NATS_URL: 'http://x' } });
    expect(fromEnv).toBeInstanceOf(InvalidOptionsError);
    expect(fromEnv.code).toBe('INVALID_OPTIONS');
    expect(fromEnv.field).toBe('NATS_URL');
    expect(fromEnv.message).toContain('http://x');
    expect(bad({ flags: { logLevel: 'loud' }, env: {} }).field).toBe('--log-level');
    expect(bad({ env: { TROUPE_METRICS_PORT: '70000' } }).field).toBe('TROUPE_METRICS_PORT');
    expect(bad({ env: {}, file: { path: 'c.json', data: { redis: 'nats://x' } } }).field).toBe(
      'c.json: redis',
    );
    expect(bad({ env: {}, file: { path: 'c.json', data: { nast: 'nats://x' } } }).message).toMatch(
      /c\.json: nast.*unknown key/,
    );
    expect(bad({ flags: { namespace: 'a.b' }, env: {} }).field).toBe('--namespace');
  });

  it('finds troupe.config.json, or a module whose default export is the object, in the working directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-config-'));
    expect(await loadConfigFile(undefined, dir)).toBeUndefined();
    writeFileSync(
      join(dir, 'troupe.config.mjs'),
      "export default { namespace: 'mod', metricsPort: 9464 };\n",
    );
    const mod = await loadConfigFile(undefined, dir);
    expect(mod?.data).toEqual({ namespace: 'mod', metricsPort: 9464 });
    writeFileSync(join(dir, 'troupe.config.json'), '{"namespace":"json"}');
    expect((await loadConfigFile(undefined, dir))?.path).toBe(join(dir, 'troupe.config.json'));
    const resolved = resolveConfig({ env: {}, file: mod });
    expect(resolved.values.metricsPort).toBe(9464);
    writeFileSync(join(dir, 'broken.json'), '{nope');
    await expect(loadConfigFile('broken.json', dir)).rejects.toThrow(/cannot read the config file/);
    await expect(loadConfigFile('missing.json', dir)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
