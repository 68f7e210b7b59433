// Episodic memory in Redis. Each scope's turns are one sorted set scored by time; a member is a fixed-width
// sequence number (from a counter key beside it) followed by the turn's JSON, so turns that share a millisecond
// keep their order. Appends and summaries run as Lua scripts: the length limit, the TTL and the replacement of old
// turns happen in the same step as the write. Keys of a scope share a hash tag, so they live on one cluster slot.

import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { InvalidOptionsError } from '../../runtime/index.js';
import {
  assertObject,
  assertScope,
  assertTurn,
  type EpisodeScope,
  type EpisodicMemory,
  type SummarizeOptions,
  type SummarizeResult,
  type Summarizer,
  type SummaryInfo,
  type Turn,
  type TurnInput,
  type WorkingMemory,
} from '../episodic.js';
import { MemoryError, MemoryErrorCode } from '../errors.js';
import { appendScript, isNoScript, replaceScript } from './episodic-scripts.js';

/** Options of {@link episodicMemory}. */
export interface EpisodicMemoryOptions {
  /** A Redis URL (a connection this memory owns and closes) or an ioredis client (left open on close). */
  redis: string | Redis;
  /** Key prefix. @defaultValue 'troupe:mem' */
  prefix?: string;
  /** A scope's turns expire this long after its last append. @defaultValue none */
  ttlMs?: number;
  /** Most turns a scope keeps; appends trim the oldest. @defaultValue 1000 */
  maxTurns?: number;
  /** Working memory expires this long after its last write. @defaultValue none */
  workingTtlMs?: number;
  /** Largest working memory write, in bytes of JSON. @defaultValue 65536 */
  maxWorkingBytes?: number;
  /** Role of summary turns. @defaultValue 'system' */
  summaryRole?: Turn['role'];
  /**
   * For a connection it owns: how long a command may take before it fails with `MEMORY_UNAVAILABLE`. A client
   * that was given keeps its own settings (set its `commandTimeout` and `maxRetriesPerRequest`).
   * @defaultValue 2000
   */
  opTimeoutMs?: number;
}

/** A key token for any text: `%`, `:`, `{` and `}` escaped, so scopes never collide or break the hash tag. */
function token(text: string): string {
  return text.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

interface StoredTurn {
  role: Turn['role'];
  content: string;
  at: number;
  metadata?: Record<string, unknown>;
  summary?: SummaryInfo;
}

function parseMember(member: string): Turn {
  const brace = member.indexOf('{');
  try {
    if (brace <= 0) throw new Error('no sequence prefix');
    // The parsed object becomes the turn: no copy on the read path.
    const turn = JSON.parse(member.slice(brace)) as StoredTurn & { id: string };
    turn.id = member.slice(0, brace);
    return turn;
  } catch (err) {
    throw new MemoryError(MemoryErrorCode.Invalid, `a stored turn is not valid: ${member.slice(0, 80)}`, {
      cause: err,
    });
  }
}

function parseMembers(members: string[]): Turn[] {
  return members.map(parseMember);
}

function storedJson(turn: TurnInput, at: number): string {
  const stored: StoredTurn = { role: turn.role, content: turn.content, at };
  if (turn.metadata !== undefined) stored.metadata = turn.metadata;
  return JSON.stringify(stored);
}

function toMemoryError(err: unknown, what: string): MemoryError {
  if (err instanceof MemoryError) return err;
  const message = (err as Error)?.message ?? String(err);
  // A reply error is Redis refusing the command (a key of another type): not an outage.
  if ((err as Error)?.name === 'ReplyError')
    return new MemoryError(MemoryErrorCode.Invalid, `Redis refused ${what}: ${message}`, { cause: err });
  return new MemoryError(MemoryErrorCode.Unavailable, `Redis ${what} failed: ${message}`, { cause: err });
}

function closedError(): MemoryError {
  return new MemoryError(MemoryErrorCode.Unavailable, 'the episodic memory is closed');
}

function nonNegativeInteger(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new InvalidOptionsError(field, 'expected a non-negative integer');
  return value;
}

class RedisEpisodicMemory implements EpisodicMemory {
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #maxTurns: number;
  readonly #workingTtlMs: number;
  readonly #maxWorkingBytes: number;
  readonly #summaryRole: Turn['role'];
  #closed = false;

  constructor(client: Redis, owned: boolean, options: EpisodicMemoryOptions) {
    this.#client = client;
    this.#owned = owned;
    this.#prefix = options.prefix ?? 'troupe:mem';
    this.#ttlMs = nonNegativeInteger(options.ttlMs, 'ttlMs', 0);
    this.#maxTurns = nonNegativeInteger(options.maxTurns, 'maxTurns', 1000);
    this.#workingTtlMs = nonNegativeInteger(options.workingTtlMs, 'workingTtlMs', 0);
    this.#maxWorkingBytes = nonNegativeInteger(options.maxWorkingBytes, 'maxWorkingBytes', 65_536);
    this.#summaryRole = options.summaryRole ?? 'system';
  }

  #keys(scope: EpisodeScope): [turns: string, seq: string] {
    assertScope(scope);
    const base = `${this.#prefix}:{${token(scope.agent)}:${token(scope.session)}}`;
    return [`${base}:turns`, `${base}:seq`];
  }

  #workingKey(agent: string): string {
    if (typeof agent !== 'string' || agent === '')
      throw new MemoryError(MemoryErrorCode.Invalid, 'agent must be a non-empty string');
    return `${this.#prefix}:{${token(agent)}}:working`;
  }

  #op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    let promise: Promise<T>;
    try {
      promise = fn();
    } catch (err) {
      return Promise.reject(toMemoryError(err, what));
    }
    return promise.catch((err: unknown) => {
      throw toMemoryError(err, what);
    });
  }

  append(scope: EpisodeScope, turn: TurnInput): Promise<Turn> {
    const [turns, seq] = this.#keys(scope);
    assertTurn(turn);
    if (this.#closed) return Promise.reject(closedError());
    const at = turn.at ?? Date.now();
    const json = storedJson(turn, at);
    const client = this.#client;
    const max = this.#maxTurns;
    const ttl = this.#ttlMs;
    const done = (id: unknown): Turn => {
      const stored: Turn = { id: id as string, role: turn.role, content: turn.content, at };
      return turn.metadata === undefined ? stored : { ...stored, metadata: turn.metadata };
    };
    const fail = (err: unknown): never => {
      throw toMemoryError(err, 'append');
    };
    // The hot path: one reaction on the command's promise, no argument arrays (the script is loaded again once
    // after a server restart emptied its cache).
    return client.evalsha(appendScript.sha, 2, turns, seq, at, json, max, ttl).then(done, (err: unknown) => {
      if (!isNoScript(err)) return fail(err);
      return client.eval(appendScript.source, 2, turns, seq, at, json, max, ttl).then(done, fail);
    });
  }

  recent(scope: EpisodeScope, n: number): Promise<Turn[]> {
    const [turns] = this.#keys(scope);
    if (!Number.isInteger(n) || n < 0)
      throw new MemoryError(MemoryErrorCode.Invalid, 'recent(n) needs a non-negative integer');
    if (n === 0) return Promise.resolve([]);
    if (this.#closed) return Promise.reject(closedError());
    // One reaction (parse, or map the error): a hot path too.
    return this.#client.zrange(turns, -n, '-1').then(parseMembers, (err: unknown) => {
      throw toMemoryError(err, 'recent');
    });
  }

  between(
    scope: EpisodeScope,
    fromMs: number,
    toMs: number,
    options: { limit?: number } = {},
  ): Promise<Turn[]> {
    const [turns] = this.#keys(scope);
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs))
      throw new MemoryError(MemoryErrorCode.Invalid, 'between(from, to) needs epoch milliseconds');
    const limit = options.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
      throw new MemoryError(MemoryErrorCode.Invalid, 'limit must be a non-negative integer');
    return this.#op('between', async () => {
      const members =
        limit === undefined
          ? await this.#client.zrangebyscore(turns, fromMs, toMs)
          : await this.#client.zrangebyscore(turns, fromMs, toMs, 'LIMIT', 0, limit);
      return members.map(parseMember);
    });
  }

  count(scope: EpisodeScope): Promise<number> {
    const [turns] = this.#keys(scope);
    return this.#op('count', () => this.#client.zcard(turns));
  }

  async summarize(
    scope: EpisodeScope,
    summarizer: Summarizer,
    options: SummarizeOptions = {},
  ): Promise<SummarizeResult> {
    const keys = this.#keys(scope);
    const keep = options.keep ?? 10;
    const minTurns = options.minTurns ?? 2;
    if (!Number.isInteger(keep) || keep < 0 || !Number.isInteger(minTurns) || minTurns < 1)
      throw new MemoryError(MemoryErrorCode.Invalid, 'keep must be >= 0 and minTurns >= 1, integers');
    const members = await this.#op('summarize', () => this.#client.zrange(keys[0], 0, String(-keep - 1)));
    if (members.length < minTurns) return { replaced: 0 };
    const old = members.map(parseMember);
    // The model call happens outside any lock: appends go on meanwhile, and the replacement checks its input.
    const text = await summarizer(old);
    if (typeof text !== 'string')
      throw new MemoryError(MemoryErrorCode.Invalid, 'the summarizer must resolve to a string');
    const last = old[old.length - 1]!;
    const info = { turns: 0, fromMs: Number.POSITIVE_INFINITY, toMs: Number.NEGATIVE_INFINITY };
    for (const t of old) {
      info.turns += t.summary?.turns ?? 1;
      info.fromMs = Math.min(info.fromMs, t.summary?.fromMs ?? t.at);
      info.toMs = Math.max(info.toMs, t.summary?.toMs ?? t.at);
    }
    const stored: StoredTurn = { role: this.#summaryRole, content: text, at: last.at, summary: info };
    // In the last replaced turn's place: its score, its sequence prefix plus 's' (before any newer turn).
    const id = `${last.id}s`;
    const digest = createHash('sha1').update(members.join('\n')).digest('hex');
    const replaced = await this.#op(
      'summarize',
      async () =>
        (await replaceScript.run(this.#client, keys, [
          members.length,
          digest,
          last.at,
          id + JSON.stringify(stored),
          this.#ttlMs,
        ])) as number,
    );
    if (replaced === 0) return { replaced: 0, conflict: true };
    return { replaced: members.length, turn: { id, ...stored } };
  }

  clear(scope: EpisodeScope): Promise<void> {
    const keys = this.#keys(scope);
    return this.#op('clear', async () => {
      await this.#client.del(...keys);
    });
  }

  getWorking(agent: string): Promise<WorkingMemory> {
    const key = this.#workingKey(agent);
    return this.#op('getWorking', async () => parseWorking(await this.#client.hgetall(key)));
  }

  setWorking(agent: string, value: WorkingMemory): Promise<void> {
    const key = this.#workingKey(agent);
    assertObject(value, 'working memory');
    const fields = this.#fields(value).filter(([, v]) => v !== 'null');
    return this.#op('setWorking', async () => {
      const tx = this.#client.multi().del(key);
      if (fields.length > 0) tx.hset(key, ...fields.flat());
      if (fields.length > 0 && this.#workingTtlMs > 0) tx.pexpire(key, this.#workingTtlMs);
      checkExec(await tx.exec());
    });
  }

  patchWorking(agent: string, partial: WorkingMemory): Promise<WorkingMemory> {
    const key = this.#workingKey(agent);
    assertObject(partial, 'working memory patch');
    const fields = this.#fields(partial);
    const removed = fields.filter(([, v]) => v === 'null').map(([f]) => f);
    const set = fields.filter(([, v]) => v !== 'null');
    return this.#op('patchWorking', async () => {
      const tx = this.#client.multi();
      if (set.length > 0) tx.hset(key, ...set.flat());
      if (removed.length > 0) tx.hdel(key, ...removed);
      if (this.#workingTtlMs > 0) tx.pexpire(key, this.#workingTtlMs);
      tx.hgetall(key);
      const results = checkExec(await tx.exec());
      return parseWorking(results[results.length - 1] as Record<string, string>);
    });
  }

  /** The top-level fields of `value` as [name, JSON] pairs ('null' for null), within the size limit. */
  #fields(value: WorkingMemory): [string, string][] {
    const fields: [string, string][] = [];
    let bytes = 0;
    for (const [name, v] of Object.entries(value)) {
      if (v === undefined) continue;
      const json = JSON.stringify(v);
      if (json === undefined)
        throw new MemoryError(MemoryErrorCode.Invalid, `working memory field ${name} is not JSON`);
      bytes += Buffer.byteLength(name) + Buffer.byteLength(json);
      fields.push([name, json]);
    }
    if (bytes > this.#maxWorkingBytes)
      throw new MemoryError(
        MemoryErrorCode.Invalid,
        `working memory write of ${bytes} bytes is over the ${this.#maxWorkingBytes}-byte limit`,
      );
    return fields;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}

function checkExec(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null)
    throw new MemoryError(MemoryErrorCode.Unavailable, 'the Redis transaction was aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function parseWorking(hash: Record<string, string>): WorkingMemory {
  const out: WorkingMemory = {};
  for (const [name, json] of Object.entries(hash)) {
    try {
      out[name] = JSON.parse(json);
    } catch (err) {
      throw new MemoryError(MemoryErrorCode.Invalid, `working memory field ${name} is not JSON`, {
        cause: err,
      });
    }
  }
  return out;
}

/**
 * Episodic memory in Redis (ioredis): turns per agent and session with a TTL and a length limit, reads of the
 * newest turns and by time, atomic summaries, and a JSON working memory per agent.
 *
 * @example
 * const memory = episodicMemory({ redis: 'redis://127.0.0.1:6379', ttlMs: 86_400_000, maxTurns: 200 });
 * await memory.append({ agent: 'support', session: 'u42' }, { role: 'user', content: 'hi' });
 * const context = await memory.recent({ agent: 'support', session: 'u42' }, 20);
 */
export function episodicMemory(options: EpisodicMemoryOptions): EpisodicMemory {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const opTimeoutMs = options.opTimeoutMs ?? 2000;
  if (!(opTimeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  if (typeof options.redis === 'string') {
    const client = new Redis(options.redis, {
      // Fail fast during an outage (the caller gets MEMORY_UNAVAILABLE) and reconnect in the background.
      maxRetriesPerRequest: 1,
      commandTimeout: opTimeoutMs,
    });
    // Connection errors surface through the commands that fail; unhandled, the event would end the process.
    client.on('error', () => {});
    try {
      return new RedisEpisodicMemory(client, true, options);
    } catch (err) {
      client.disconnect();
      throw err;
    }
  }
  if (typeof options.redis !== 'object' || options.redis === null)
    throw new InvalidOptionsError('redis', 'expected a Redis URL or an ioredis client');
  return new RedisEpisodicMemory(options.redis, false, options);
}
