// The Lua scripts of the Redis episodic memory: each runs as one atomic step on the server. A scope's turns are a
// sorted set scored by time; a member is a fixed-width sequence number (from the counter key beside it) followed by
// the turn's JSON, so turns that share a millisecond keep their order.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Digits of a member's sequence prefix. */
export const SEQ_WIDTH = 15;

// KEYS: turns, seq. ARGV: score, json, maxTurns (0: none), ttlMs (0: none). Returns the member's sequence prefix.
const APPEND = `
local seq = string.format('%0${SEQ_WIDTH}d', redis.call('INCR', KEYS[2]))
redis.call('ZADD', KEYS[1], ARGV[1], seq .. ARGV[2])
local max = tonumber(ARGV[3])
if max > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -max - 1) end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return seq`;

// KEYS: turns, seq. ARGV: count, sha1 of the count oldest members joined by '\n', score, member, ttlMs.
// Replaces the `count` oldest turns by one summary only if they are exactly the ones the summary was written from.
const REPLACE = `
local n = tonumber(ARGV[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, n - 1)
if #oldest ~= n or redis.sha1hex(table.concat(oldest, '\\n')) ~= ARGV[2] then return 0 end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return n`;

/** A Lua script run by its SHA (loaded again after a server restart emptied the script cache). */
export class Script {
  readonly source: string;
  readonly sha: string;
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }
  run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return client.evalsha(this.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    });
  }
}

export function isNoScript(err: unknown): boolean {
  return String((err as Error)?.message).startsWith('NOSCRIPT');
}

export const appendScript = new Script(APPEND);
export const replaceScript = new Script(REPLACE);
