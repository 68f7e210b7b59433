// defineLoad checks every part of a test (the error names the field) and freezes it; readModuleRef compiles a
// TypeScript test with the typescript package (Node 20 cannot strip types) and names one that does not compile.

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineLoad } from '../../load/define.js';
import { LoadErrorCode } from '../../load/errors.js';
import { readModuleRef } from '../../load/module.js';
import type { TargetFactory } from '../../load/targets/target.js';
import type { LoadTest } from '../../load/test.js';

const target: TargetFactory<{ ping(): void }> = {
  kind: 'custom',
  describe: () => 'nothing',
  open: async () => ({ client: { ping() {} }, close: async () => {} }),
};

function valid(): LoadTest {
  return {
    name: 'ok',
    targets: { api: target },
    scenario: async () => {},
    executor: { kind: 'constant-vus', vus: 2, durationMs: 1000 },
    thresholds: ['p99 < 200ms', 'errors < 1%'],
    gracefulStopMs: 0,
    allowHosts: ['staging.internal'],
  };
}

describe('defineLoad', () => {
  it('returns the test frozen, and accepts its own result again', () => {
    const test = defineLoad(valid());
    expect(Object.isFrozen(test)).toBe(true);
    expect(Object.isFrozen(test.executor)).toBe(true);
    expect(Object.isFrozen(test.thresholds)).toBe(true);
    expect(defineLoad(test)).toBe(test);
    expect(test.targets.api).toBe(target);
  });

  const bad: Array<[string, Record<string, unknown>, string, string?]> = [
    ['an empty name', { name: '' }, 'name'],
    ['no targets object', { targets: [target] }, 'targets'],
    ['a target that is not one', { targets: { api: { kind: 'x' } } }, 'targets.api'],
    ['a target named like a metric', { targets: { request: target } }, 'targets.request'],
    ['a target name with a dot', { targets: { 'a.b': target } }, 'targets.a.b'],
    ['no scenario', { scenario: 'go' }, 'scenario'],
    ['a bad executor', { executor: { kind: 'constant-vus', vus: 0, durationMs: 1 } }, 'executor.vus'],
    ['thresholds not an array', { thresholds: 'p99 < 1s' }, 'thresholds'],
    ['a bad setup', { setup: 5 }, 'setup'],
    ['a negative graceful stop', { gracefulStopMs: -1 }, 'gracefulStopMs'],
    ['a wildcard host', { allowHosts: ['*.example.com'] }, 'allowHosts[0]'],
    ['a URL for a host', { allowHosts: ['http://x/'] }, 'allowHosts[0]'],
    ['an unknown field', { threshold: ['p99 < 1s'] }, 'test.threshold'],
  ];
  it.each(bad)('refuses %s with LOAD_INVALID naming %s', (_what, change, field) => {
    expect(() => defineLoad({ ...valid(), ...change } as LoadTest)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.Invalid, data: { field } }),
    );
  });

  it('refuses a threshold that does not parse with LOAD_INVALID_THRESHOLD', () => {
    expect(() => defineLoad({ ...valid(), thresholds: ['p99 < 200ms', 'p99 == 3'] })).toThrow(
      expect.objectContaining({ code: LoadErrorCode.InvalidThreshold, data: { expr: 'p99 == 3' } }),
    );
  });

  it('refuses what is not an object', () => {
    expect(() => defineLoad(null as never)).toThrow(expect.objectContaining({ code: LoadErrorCode.Invalid }));
  });
});

describe('readModuleRef', () => {
  it.each(['test.tsx', 'test.cts'])('refuses %s: a load test is an ES module', async (file) => {
    await expect(readModuleRef(`/nowhere/${file}`)).rejects.toMatchObject({
      code: LoadErrorCode.Module,
      message: expect.stringContaining('ES module'),
    });
  });

  it('compiles a TypeScript test with the typescript package: types erased, enums kept, source hashed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'load-ts-'));
    try {
      const file = join(dir, 'checkout.mts');
      await writeFile(
        file,
        [
          'interface Item { sku: string }',
          'enum Kind { Read = 2 }',
          'const item: Item = { sku: "a" };',
          "export default { name: ('ts-' + item.sku + '-' + Kind.Read) as string };",
          '',
        ].join('\n'),
      );
      const ref = await readModuleRef(file);
      expect(ref.path).toBe(file);
      expect(ref.source).not.toContain('interface');
      expect(ref.source).not.toContain(': Item');
      expect(ref.sha256).toBe(createHash('sha256').update(ref.source).digest('hex'));
      const url = `data:text/javascript;base64,${Buffer.from(ref.source).toString('base64')}`;
      const module = (await import(url)) as { default: { name: string } };
      expect(module.default.name).toBe('ts-a-2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a TypeScript test that does not compile (LOAD_MODULE)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'load-ts-'));
    try {
      const file = join(dir, 'broken.ts');
      await writeFile(file, 'export default {{{ ;\n');
      await expect(readModuleRef(file)).rejects.toMatchObject({
        code: LoadErrorCode.Module,
        message: expect.stringMatching(/cannot compile .*broken\.ts.*error TS1\d+/s),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
