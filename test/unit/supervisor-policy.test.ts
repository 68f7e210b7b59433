// Unit tests of the pure supervision pieces: intensity windows, backoff, deciders, strategies, child specs.

import { describe, expect, it } from 'vitest';
import { defineActor, ErrorCode, TroupeError } from '../../runtime/index.js';
import {
  Backoff,
  decider,
  oneForAll,
  oneForOne,
  RestartIntensity,
  resolveChildSpec,
  restartPolicy,
  restForOne,
  SupervisorError,
} from '../../supervisor/index.js';

describe('restart intensity', () => {
  it('allows maxRestarts within the window and refuses one more', () => {
    const intensity = new RestartIntensity({ maxRestarts: 3, withinMs: 1000 });
    expect([0, 10, 20].map((t) => intensity.record(t))).toEqual([true, true, true]);
    expect(intensity.record(30)).toBe(false);
    expect(intensity.count(30)).toBe(3);
  });

  it('forgets restarts that slid out of the window', () => {
    const intensity = new RestartIntensity({ maxRestarts: 2, withinMs: 1000 });
    expect(intensity.record(0)).toBe(true);
    expect(intensity.record(500)).toBe(true);
    expect(intensity.record(999)).toBe(false);
    // At 1000 the restart at 0 is out of the window (0 <= 1000 - 1000).
    expect(intensity.record(1000)).toBe(true);
    expect(intensity.record(1400)).toBe(false);
    expect(intensity.record(1500)).toBe(true);
  });

  it('counts the same on epoch milliseconds as on small times', () => {
    const intensity = new RestartIntensity({ maxRestarts: 2, withinMs: 1000 });
    const t0 = 1_764_000_000_000;
    expect(intensity.count(t0 - 5)).toBe(0);
    expect([0, 500, 999, 1000, 1400, 1500].map((dt) => intensity.record(t0 + dt))).toEqual([
      true,
      true,
      false,
      true,
      false,
      true,
    ]);
    expect(intensity.count(t0 + 1500)).toBe(2);
    expect(intensity.count(t0 + 10_000)).toBe(0);
  });

  it('counts restarts at the same time one by one, and forgets them together', () => {
    const intensity = new RestartIntensity({ maxRestarts: 5, withinMs: 100 });
    expect([0, 0, 0, 50, 50, 50].map((t) => intensity.record(t))).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(intensity.count(99)).toBe(5);
    expect(intensity.count(100)).toBe(2);
    expect([100, 100, 100, 100].map((t) => intensity.record(t))).toEqual([true, true, true, false]);
    expect(intensity.count(150)).toBe(3);
    expect(intensity.record(200)).toBe(true);
    expect(intensity.count(200)).toBe(1);
    expect(intensity.count(300)).toBe(0);
    // A time seen again after the window emptied starts a run of its own.
    expect(intensity.record(300)).toBe(true);
    expect(intensity.count(300)).toBe(1);
  });

  it('keeps one entry per restart time in order even when the clock goes back', () => {
    const intensity = new RestartIntensity({ maxRestarts: 10, withinMs: 100 });
    for (const t of [50, 50, 40, 50, 60]) expect(intensity.record(t)).toBe(true);
    // As with a list of times, the oldest recorded goes first: the 40 behind a 50 waits for it.
    expect(intensity.count(140)).toBe(5);
    expect(intensity.count(150)).toBe(1);
    expect(intensity.count(160)).toBe(0);
  });

  it('counts 10⁵ restarts in one millisecond and refuses past the limit', () => {
    const intensity = new RestartIntensity({ maxRestarts: 100_000, withinMs: 1000 });
    for (let i = 0; i < 100_000; i++) if (!intensity.record(7)) throw new Error(`refused at ${i}`);
    expect(intensity.record(7)).toBe(false);
    expect(intensity.count(1006)).toBe(100_000);
    expect(intensity.count(1007)).toBe(0);
    intensity.record(1007);
    intensity.reset();
    expect(intensity.count(1007)).toBe(0);
  });

  it('with maxRestarts 0 refuses every restart, and rejects bad options by name', () => {
    expect(new RestartIntensity({ maxRestarts: 0 }).record(0)).toBe(false);
    expect(() => new RestartIntensity({ maxRestarts: -1 })).toThrowError(/maxRestarts/);
    expect(() => new RestartIntensity({ withinMs: 0 })).toThrowError(/withinMs/);
  });
});

describe('backoff', () => {
  it('grows exponentially from minMs and caps at maxMs', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, factor: 2, jitter: 0, resetAfterMs: 1e9 });
    expect([0, 0, 0, 0, 0, 0].map(() => b.next(0))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('adds jitter from the injected random source, never past maxMs', () => {
    const b = new Backoff({ minMs: 100, maxMs: 150, jitter: 0.5, random: () => 0.5, resetAfterMs: 1e9 });
    expect(b.next(0)).toBe(125);
    expect(b.next(0)).toBe(150);
    const low = new Backoff({ minMs: 100, jitter: 0.5, random: () => 0 });
    expect(low.next(0)).toBe(100);
  });

  it('starts again from minMs once the actor was stable for resetAfterMs', () => {
    const b = new Backoff({ minMs: 10, maxMs: 10_000, jitter: 0, resetAfterMs: 1000 });
    expect(b.next(0)).toBe(10);
    expect(b.next(20)).toBe(20);
    expect(b.next(50)).toBe(40);
    // Restarted at 90 (50 + 40); stable until 1089 is not long enough...
    expect(b.next(1089)).toBe(80);
    // ...but 1000 ms after the restart at 1169 it is.
    expect(b.next(2169)).toBe(10);
  });

  it('rejects bad options with the field name', () => {
    expect(() => new Backoff({ minMs: -1 })).toThrowError(/minMs/);
    expect(() => new Backoff({ minMs: 10, maxMs: 5 })).toThrowError(/maxMs/);
    expect(() => new Backoff({ jitter: 2 })).toThrowError(/jitter/);
    expect(() => new Backoff({ factor: 0.5 })).toThrowError(/factor/);
  });

  it('restartPolicy combines intensity and backoff per tracker', () => {
    const policy = restartPolicy({ maxRestarts: 2, withinMs: 1000, backoff: { minMs: 5, jitter: 0 } });
    const a = policy.tracker();
    const b = policy.tracker();
    expect(a.next(0)).toBe(5);
    expect(a.next(0)).toBe(10);
    expect(a.next(0)).toBeUndefined();
    expect(b.next(0)).toBe(5);
    expect(restartPolicy().tracker().next(0)).toBe(0);
  });
});

describe('deciders', () => {
  class Fatal extends Error {}
  const decide = decider(
    [
      [Fatal, 'escalate'],
      ['RATE_LIMITED', 'resume'],
      [(e) => e instanceof TypeError, 'stop'],
    ],
    'restart',
  );
  const failure = (error: unknown) =>
    decide(error, { error, phase: 'handler', message: undefined, attempts: 1 });

  it('picks the first matching rule: class, code, predicate, then the fallback', () => {
    expect(failure(new Fatal('x'))).toBe('escalate');
    expect(failure(new TroupeError('RATE_LIMITED', 'slow down'))).toBe('resume');
    expect(failure({ code: 'RATE_LIMITED' })).toBe('resume');
    expect(failure(new TypeError('bug'))).toBe('stop');
    expect(failure(new Error('other'))).toBe('restart');
    expect(failure('a string')).toBe('restart');
  });
});

describe('strategies', () => {
  const order = ['a', 'b', 'c', 'd'];
  it('one-for-one restarts the failed child only', () => {
    expect(oneForOne.select('b', order)).toEqual(['b']);
  });
  it('one-for-all restarts every child in start order', () => {
    expect(oneForAll.select('c', order)).toEqual(['a', 'b', 'c', 'd']);
  });
  it('rest-for-one restarts the failed child and those started after it', () => {
    expect(restForOne.select('b', order)).toEqual(['b', 'c', 'd']);
    expect(restForOne.select('d', order)).toEqual(['d']);
  });
});

describe('child specs', () => {
  const actor = defineActor<{ ping: object }>({ handlers: { ping: () => undefined } });
  it('applies defaults: permanent, 5 s shutdown', () => {
    const spec = resolveChildSpec({ name: 'w', actor });
    expect(spec.restart).toBe('permanent');
    expect(spec.shutdownTimeoutMs).toBe(5000);
    expect(spec.spawnOptions.name).toBe('w');
  });
  it('refuses bad names, actors and restart types with a clear error', () => {
    const bad = [
      { name: 'a.b', actor },
      { name: 'ok', actor: {} as never },
      { name: 'ok', actor, restart: 'sometimes' as never },
      { name: 'ok', actor, shutdownTimeoutMs: -1 },
    ];
    for (const spec of bad) {
      const err = (() => {
        try {
          resolveChildSpec(spec);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(SupervisorError.is(err)).toBe(true);
    }
    expect(ErrorCode.MailboxFull).toBe('MAILBOX_FULL');
  });
});
