// The load targets' safety check (loopback or listed hosts only), their option checks, and the OpenTelemetry
// hook of the load recorder: no I/O (the refused targets fail before any connection is made).

import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { LoadErrorCode } from '../../load/errors.js';
import type { Recorder } from '../../load/metrics/recorder.js';
import {
  actor,
  assertAllowedHost,
  hostOf,
  http,
  isLoopbackHost,
  llm,
  natsTarget,
  type TargetContext,
  type TargetFactory,
} from '../../load/targets/index.js';
import type { ActorSystem } from '../../runtime/index.js';
import { LoadMetric, otelLoadMetrics } from '../../telemetry/load.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('hostOf', () => {
  it('reads the host of URLs, host:port and bare hosts, normalised as a connecting client reads them', () => {
    expect(hostOf('http://127.0.0.1:8080/api')).toBe('127.0.0.1');
    expect(hostOf('nats://LocalHost:4222')).toBe('localhost');
    expect(hostOf('127.0.0.1:4222')).toBe('127.0.0.1');
    expect(hostOf('[::1]:4222')).toBe('::1');
    expect(hostOf('::1')).toBe('::1');
    expect(hostOf('http://[0:0:0:0:0:0:0:1]/')).toBe('::1');
    expect(hostOf('http://127.1/')).toBe('127.0.0.1');
    expect(hostOf('http://0x7f.0.0.1/')).toBe('127.0.0.1');
    expect(hostOf('http://user:pw@127.0.0.1:1/x')).toBe('127.0.0.1');
    expect(hostOf('')).toBeUndefined();
    expect(hostOf('http://')).toBeUndefined();
    expect(hostOf('user@127.0.0.1')).toBeUndefined();
  });
});

describe('isLoopbackHost', () => {
  it('takes 127.0.0.0/8, ::1 (and IPv4-mapped 127.x) and localhost only', () => {
    for (const host of ['127.0.0.1', '127.255.255.254', '127.0.0.53', '::1', 'localhost', '::ffff:7f00:1'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of [
      '128.0.0.1',
      '10.0.0.1',
      '0.0.0.0',
      '127.0.0.1.nip.io',
      'localhost.example.com',
      '127.0.0.256',
      '::2',
      '::ffff:a00:1',
      'example.com',
    ])
      expect(isLoopbackHost(host), host).toBe(false);
  });
});

describe('assertAllowedHost', () => {
  it('lets loopback through without any allowHosts', () => {
    expect(code(() => assertAllowedHost('http://127.0.0.1:1', []))).toBeUndefined();
    expect(code(() => assertAllowedHost('nats://localhost:4222', []))).toBeUndefined();
    expect(code(() => assertAllowedHost('http://[::1]:80/v1', []))).toBeUndefined();
  });

  it('refuses other hosts with LOAD_TARGET_NOT_ALLOWED, whatever the path or user info says', () => {
    for (const target of [
      'http://10.0.0.1:8080',
      'http://192.168.1.10',
      'https://example.com/127.0.0.1',
      'http://127.0.0.1@example.com/',
      'http://127.0.0.1.example.com/',
      'nats://0.0.0.0:4222',
      'example.com:4222',
      'not a url at all',
    ])
      expect(
        code(() => assertAllowedHost(target, [])),
        target,
      ).toBe(LoadErrorCode.TargetNotAllowed);
  });

  it('takes a host listed exactly, by name or with its port; wildcards never match', () => {
    expect(code(() => assertAllowedHost('https://api.example.com/v1', ['api.example.com']))).toBeUndefined();
    expect(code(() => assertAllowedHost('https://API.example.com', ['api.example.com']))).toBeUndefined();
    expect(code(() => assertAllowedHost('nats://10.0.0.5:4222', ['10.0.0.5:4222']))).toBeUndefined();
    expect(code(() => assertAllowedHost('nats://10.0.0.5:4223', ['10.0.0.5:4222']))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
    expect(code(() => assertAllowedHost('https://api.example.com', ['*.example.com']))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
    expect(code(() => assertAllowedHost('https://api.example.com', ['*']))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
    expect(code(() => assertAllowedHost('https://example.com', ['api.example.com']))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
  });
});

/** A recorder that must stay untouched: refused targets record nothing. */
const untouched: Recorder = {
  latency: () => expect.unreachable('latency'),
  value: () => expect.unreachable('value'),
  count: () => expect.unreachable('count'),
  request: () => expect.unreachable('request'),
};

function contextFor(allowHosts: string[] = []): TargetContext {
  return {
    name: 't',
    recorder: untouched,
    signal: new AbortController().signal,
    system: {} as ActorSystem,
    allowHosts,
  };
}

async function openCode(factory: TargetFactory, allowHosts: string[] = []): Promise<string | undefined> {
  try {
    const opened = await factory.open(contextFor(allowHosts));
    await opened.close();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('built-in targets', () => {
  it('refuse a host that is neither loopback nor listed when they open, before connecting', async () => {
    expect(await openCode(http('http://10.255.255.1:8080'))).toBe(LoadErrorCode.TargetNotAllowed);
    expect(await openCode(natsTarget(['nats://127.0.0.1:4222', 'nats://10.255.255.1:4222']))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
    expect(await openCode(llm({ baseURL: 'https://api.example.com/v1', model: 'm' }))).toBe(
      LoadErrorCode.TargetNotAllowed,
    );
  });

  it('open a listed host (an HTTP pool connects only on its first request)', async () => {
    expect(await openCode(http('http://api.example.test:8080'), ['api.example.test'])).toBeUndefined();
  });

  it('check their options when defined, naming the field', () => {
    const field = (fn: () => unknown): unknown => {
      try {
        fn();
        return undefined;
      } catch (err) {
        return (err as { field?: string }).field;
      }
    };
    expect(code(() => http('ftp://127.0.0.1'))).toBe('INVALID_OPTIONS');
    expect(code(() => http('not a url'))).toBe('INVALID_OPTIONS');
    expect(code(() => http('http://127.0.0.1', { connections: 0 }))).toBe('INVALID_OPTIONS');
    expect(code(() => http('http://127.0.0.1', { timeoutMs: -1 }))).toBe('INVALID_OPTIONS');
    expect(code(() => http('http://127.0.0.1', { headers: { a: 1 as unknown as string } }))).toBe(
      'INVALID_OPTIONS',
    );
    expect(code(() => natsTarget([]))).toBe('INVALID_OPTIONS');
    expect(code(() => llm({ baseURL: 'http://127.0.0.1/v1', model: '' }))).toBe('INVALID_OPTIONS');
    expect(
      code(() =>
        llm({ baseURL: 'http://127.0.0.1/v1', model: 'm', pricing: { inputPerMTok: -1, outputPerMTok: 0 } }),
      ),
    ).toBe('INVALID_OPTIONS');
    expect(code(() => actor('no-slash'))).toBe('INVALID_OPTIONS');
    expect(code(() => actor({ type: '', id: 'x' }))).toBe('INVALID_OPTIONS');
    expect(field(() => http('http://127.0.0.1', { pipelining: 1.5 }))).toBe('pipelining');
    expect(field(() => llm({ baseURL: 'http://127.0.0.1/v1', model: 'm', timeoutMs: 0 }))).toBe('timeoutMs');
  });

  it('describe what they aim at without credentials', () => {
    expect(http('http://127.0.0.1:8080/api/').describe()).toBe('http://127.0.0.1:8080/api');
    expect(natsTarget('nats://me:secret@127.0.0.1:4222').describe()).toBe('nats://me:***@127.0.0.1:4222');
    expect(actor({ type: 'pricer', id: 'eu' }).describe()).toBe('virtual pricer/eu');
    expect(actor('n1/api').describe()).toBe('actor n1/api');
    expect(llm({ baseURL: 'http://127.0.0.1:1/v1', model: 'm' }).kind).toBe('llm');
  });
});

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('otelLoadMetrics', () => {
  it('records latencies and counters by name on the meter provider it is given', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const hook = otelLoadMetrics(provider);
    hook.onLatency('request', 3);
    hook.onLatency('request', 7);
    hook.onLatency('ttft', 1.5);
    hook.onCount('requests', 2);
    hook.onCount('errors.timeout', 1);
    hook.onCount('requests', 3);
    hook.onCount('requests', Number.NaN); // ignored, never thrown
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const latency = all.find((m) => m.descriptor.name === LoadMetric.Latency);
    const events = all.find((m) => m.descriptor.name === LoadMetric.Events);
    expect(latency?.descriptor.unit).toBe('ms');
    const byMetric = Object.fromEntries(
      (latency?.dataPoints ?? []).map((p) => [
        p.attributes[LoadMetric.MetricAttr],
        (p.value as { count: number; sum?: number }).sum,
      ]),
    );
    expect(byMetric).toEqual({ request: 10, ttft: 1.5 });
    const byCounter = Object.fromEntries(
      (events?.dataPoints ?? []).map((p) => [p.attributes[LoadMetric.CounterAttr], p.value]),
    );
    expect(byCounter).toEqual({ requests: 5, 'errors.timeout': 1 });
    await provider.shutdown();
  });
});
