// The logger: levels, the JSON and pretty line formats, error serialization with its caps, the rate limiter, and
// errors that keep their stack and cause on the wire.

import { describe, expect, it } from 'vitest';
import {
  createLogger,
  defineActor,
  defineTask,
  ErrorCode,
  InvalidOptionsError,
  type LogFields,
  type LogLevel,
  ManualClock,
  type Reply,
  silentLogger,
  TroupeError,
  taskPool,
} from '../../runtime/index.js';
import { LogLimiter, serializeError } from '../../runtime/internal.js';
import { settle, systemsClosedAfterEach } from '../helpers/systems.js';

function capture(level: LogLevel = 'trace') {
  const lines: string[] = [];
  const logger = createLogger({ level, format: 'json', write: (line) => lines.push(line) });
  const events = () => lines.map((l) => JSON.parse(l) as LogFields);
  return { lines, logger, events };
}

describe('createLogger', () => {
  it('writes events at or above its level, and enabled() says which', () => {
    const { logger, events } = capture('warn');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(events().map((e) => e.level)).toEqual(['warn', 'error', 'fatal']);
    expect(logger.enabled('info')).toBe(false);
    expect(logger.enabled('warn')).toBe(true);
    expect(logger.enabled('silent')).toBe(false);
    expect(logger.level).toBe('warn');
  });

  it('writes one JSON object per line: time, level, msg, then bindings and fields', () => {
    const { lines, logger, events } = capture('info');
    logger
      .child({ node: 'n1' })
      .child({ component: 'nats' })
      .info('bound', { servers: ['a'], n: 2n });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [event] = events();
    expect(Object.keys(event!).slice(0, 3)).toEqual(['time', 'level', 'msg']);
    expect(event).toMatchObject({
      level: 'info',
      msg: 'bound',
      node: 'n1',
      component: 'nats',
      servers: ['a'],
      n: '2',
    });
    expect(new Date(event!.time as string).toISOString()).toBe(event!.time);
  });

  it('never throws for fields JSON cannot hold, nor when the sink throws', () => {
    const { logger, events } = capture('info');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    logger.info('cyclic', { cyclic });
    expect(events()[0]).toMatchObject({ level: 'info', msg: 'cyclic' });
    expect(events()[0]?.unserializable).toMatch(/circular/i);
    const throwing = createLogger({
      format: 'json',
      write: () => {
        throw new Error('closed pipe');
      },
    });
    expect(() => throwing.error('x')).not.toThrow();
  });

  it('serializes errors with name, message, code, stack and causes, three levels deep at most', () => {
    const { logger, events } = capture('info');
    let error: Error = new Error('level 5');
    for (let i = 4; i >= 0; i--) error = new Error(`level ${i}`, { cause: error });
    logger.error('crashed', { error: new TroupeError('SOME_CODE', 'top', { cause: error }) });
    const serialized = events()[0]!.error as LogFields;
    expect(serialized).toMatchObject({ name: 'TroupeError', message: 'top', code: 'SOME_CODE' });
    expect(serialized.stack).toContain('logger.test.ts');
    let depth = 0;
    for (
      let e = serialized.cause as LogFields | undefined;
      e !== undefined;
      e = e.cause as LogFields | undefined
    )
      depth++;
    expect(depth).toBe(3);
  });

  it('caps each stack at 4 KiB and the stacks of one event at 16 KiB', () => {
    const huge = (n: number) => {
      const e = new Error(`e${n}`);
      e.stack = `Error: e${n}\n${'    at frame (file.js:1:1)\n'.repeat(1000)}`;
      return e;
    };
    const chain = huge(0);
    (chain as { cause?: unknown }).cause = huge(1);
    const serialized = serializeError(chain);
    expect((serialized.stack as string).length).toBeLessThanOrEqual(4096 + 32);
    expect(serialized.stack).toMatch(/… \(\d+ chars\)$/);
    const { lines, logger } = capture('info');
    logger.error('many', { a: huge(2), b: huge(3), c: huge(4), d: huge(5), e: huge(6), f: huge(7) });
    expect(lines[0]!.length).toBeLessThan(16_384 + 4096);
  });

  it('writes readable lines in pretty format, with the stack indented below', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'pretty', write: (line) => lines.push(line) });
    logger.warn('dead letter', { reason: 'UNHANDLED', address: 'n/a b', count: 3 });
    logger.error('actor crashed', { error: new Error('boom', { cause: new Error('root') }) });
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}dead letter reason=UNHANDLED address="n\/a b" count=3$/,
    );
    const crash = lines[1]!.split('\n');
    expect(crash[0]).toMatch(/ERROR actor crashed error="Error: boom"$/);
    expect(crash[1]).toBe('    Error: boom');
    expect(crash.some((l) => /^ {4}\s+at /.test(l))).toBe(true);
    expect(crash).toContain('    caused by:');
    expect(crash).toContain('      Error: root');
  });

  it('rejects an invalid level, format or sink with INVALID_OPTIONS naming it', () => {
    const bad = (o: unknown) => () => createLogger(o as Parameters<typeof createLogger>[0]);
    expect(bad({ level: 'loud' })).toThrow(/invalid level "loud"/);
    expect(bad({ level: 'loud' })).toThrow(InvalidOptionsError);
    expect(bad({ format: 'xml' })).toThrow(/format/);
    expect(bad({ write: 'stderr' })).toThrow(/write/);
    expect(bad({ bindings: [] })).toThrow(/bindings/);
  });

  it('silent writes nothing, whatever the level', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'silent', write: (line) => lines.push(line) });
    logger.fatal('x');
    expect(lines).toEqual([]);
    expect(logger).toBe(silentLogger);
    expect(silentLogger.child({ a: 1 })).toBe(silentLogger);
    expect(silentLogger.enabled('fatal')).toBe(false);
  });
});

describe('LogLimiter', () => {
  it('writes the first event of a kind at once, then one summary per window with the count', () => {
    const clock = new ManualClock(1_000);
    const { logger, events } = capture('info');
    const limiter = new LogLimiter({ logger, clock, level: 'warn', kindField: 'reason', windowMs: 5000 });
    let built = 0;
    const fields = () => {
      built++;
      return { address: 'n/x' };
    };
    for (let i = 0; i < 1000; i++) limiter.note('UNHANDLED', 'dead letter', fields);
    limiter.note('ACTOR_STOPPED', 'dead letter', fields);
    expect(events()).toEqual([
      expect.objectContaining({ msg: 'dead letter', reason: 'UNHANDLED', address: 'n/x' }),
      expect.objectContaining({ msg: 'dead letter', reason: 'ACTOR_STOPPED' }),
    ]);
    // Fields are built only for events written on their own.
    expect(built).toBe(2);
    clock.advance(4999);
    expect(events()).toHaveLength(2);
    clock.advance(1);
    expect(events()[2]).toMatchObject({
      level: 'warn',
      reason: 'UNHANDLED',
      count: 999,
      windowMs: 5000,
      summary: true,
    });
    // A steady flood: one summary per window.
    for (let i = 0; i < 10; i++) limiter.note('UNHANDLED', 'dead letter', fields);
    expect(events()).toHaveLength(3);
    clock.advance(5000);
    expect(events()[3]).toMatchObject({ reason: 'UNHANDLED', count: 10 });
    // Quiet for a window: the next one is written at once again.
    clock.advance(5000);
    limiter.note('UNHANDLED', 'dead letter', fields);
    expect(events()).toHaveLength(5);
    expect(events()[4]).not.toHaveProperty('count');
  });

  it('counts a flood past its first event without reading the clock, kinds interleaved or past the cap', () => {
    const clock = new ManualClock(1_000);
    let reads = 0;
    const counting = {
      now: () => {
        reads++;
        return clock.now();
      },
      setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms),
      clearTimeout: (handle: unknown) => clock.clearTimeout(handle),
    };
    const { logger, events } = capture('info');
    const limiter = new LogLimiter({ logger, clock: counting, level: 'warn', kindField: 'kind' });
    // Each kind's first event is written, its second starts the count (and its timer): both read the clock.
    for (const kind of ['a', 'b']) for (let i = 0; i < 2; i++) limiter.note(kind, 'crash');
    const before = reads;
    for (let i = 0; i < 100; i++) {
      limiter.note('a', 'crash');
      expect(limiter.counted('b', 'crash again')).toBe(true);
    }
    expect(reads).toBe(before);
    // A kind not seen yet is never counted without a decision by `note`.
    expect(limiter.counted('c', 'crash')).toBe(false);
    clock.advance(5000);
    expect(events().filter((e) => e.summary)).toEqual([
      expect.objectContaining({ kind: 'a', msg: 'crash', count: 101 }),
      expect.objectContaining({ kind: 'b', msg: 'crash again', count: 101 }),
    ]);
    // Past 256 kinds, new ones share one entry, counted like any other.
    for (let k = 0; k < 300; k++) limiter.note(`k${k}`, 'many');
    limiter.note('k299', 'many');
    expect(limiter.counted('k400', 'many')).toBe(true);
    limiter.flush();
    expect(events().at(-1)).toMatchObject({ kind: 'OTHER', summary: true, count: 47 });
  });

  it('flush writes the counts not written yet and leaves no timer behind', () => {
    const clock = new ManualClock();
    const { logger, events } = capture('info');
    const limiter = new LogLimiter({ logger, clock, level: 'warn', kindField: 'kind' });
    for (let i = 0; i < 5; i++) limiter.note('ECONNREFUSED', 'Redis error');
    expect(clock.pending).toBe(1);
    limiter.flush();
    expect(clock.pending).toBe(0);
    expect(events().map((e) => e.count)).toEqual([undefined, 4]);
  });
});

describe('errors on the wire', () => {
  const system = systemsClosedAfterEach();
  it('keep stack and causes, size-capped', () => {
    const root = new Error('root');
    const wire = TroupeError.toWire(new Error('boom', { cause: root }));
    expect(wire).toMatchObject({ code: ErrorCode.HandlerError, message: 'Error: boom' });
    expect(wire.stack).toContain('logger.test.ts');
    expect(wire.cause).toMatchObject({ code: ErrorCode.HandlerError, message: 'Error: root' });
    const back = TroupeError.fromWire(structuredClone(wire));
    expect(back.code).toBe(ErrorCode.HandlerError);
    expect(back.stack).toBe(wire.stack);
    expect((back.cause as TroupeError).message).toBe('Error: root');
    expect((back.cause as TroupeError).stack).toContain('logger.test.ts');

    let deep: Error = new Error('bottom');
    for (let i = 0; i < 10; i++) {
      deep = new Error(`e${i}`, { cause: deep });
      deep.stack = `Error: e${i}\n${'x'.repeat(10_000)}`;
    }
    const capped = TroupeError.toWire(deep);
    expect(capped.stack!.length).toBeLessThanOrEqual(4096 + 32);
    let depth = 0;
    for (let c = capped.cause; c !== undefined; c = c.cause) depth++;
    expect(depth).toBeLessThanOrEqual(3);
    expect(JSON.stringify(capped).length).toBeLessThanOrEqual(16_384 + 1024);
    expect(TroupeError.toWire(deep, { stack: false }).stack).toBeUndefined();
  });

  it('a handler failing an ask with a plain Error gives HANDLER_ERROR, not REMOTE_ERROR', async () => {
    const s = await system();
    const failing = defineActor<{ go: Reply<number> }>({
      type: 'failing',
      handlers: {
        go: (_m, ctx) => {
          ctx.fail(new Error('boom', { cause: new Error('root') }));
          return undefined;
        },
      },
    });
    const err = (await s
      .spawn(failing)
      .ask({ type: 'go' })
      .catch((e: unknown) => e)) as TroupeError;
    expect(err.code).toBe(ErrorCode.HandlerError);
    expect(err.stack).toContain('logger.test.ts');
    expect((err.cause as TroupeError).message).toBe('Error: root');
    await settle();
  });
});

describe('taskPool logs', () => {
  it('a failed attempt is a warning, the last one an error, each with the stack of what the handler threw', async () => {
    const { logger, events } = capture('info');
    const pool = taskPool({ logger });
    const flaky = defineTask(
      'flaky',
      () => {
        throw new Error('no luck', { cause: new Error('root') });
      },
      { attempts: 2, backoffMs: 1 },
    );
    try {
      const err = (await pool.run(flaky, {}).catch((e: unknown) => e)) as TroupeError;
      expect(err.code).toBe(ErrorCode.TaskFailed);
    } finally {
      await pool.close();
    }
    const lines = events();
    expect(lines.map((l) => [l.level, l.msg, l.attempt])).toEqual([
      ['warn', 'task attempt failed', 1],
      ['error', 'task failed', 2],
    ]);
    expect(lines[1]).toMatchObject({
      component: 'tasks',
      task: 'flaky',
      attempts: 2,
      code: ErrorCode.TaskFailed,
    });
    const error = lines[1]!.error as LogFields;
    expect(error).toMatchObject({ message: 'no luck', cause: { message: 'root' } });
    expect(error.stack).toContain('logger.test.ts');
  });
});
