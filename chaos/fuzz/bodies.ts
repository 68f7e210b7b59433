// Forged bodies for the fuzz scenario: envelopes with forged fields, broken frames and batches, and the JSON
// a node reads on its membership and shard subjects, drawn from one seeded random source.

import { Packr } from 'msgpackr';

/** A small, seeded PRNG (mulberry32): a run is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Names of Object.prototype members: message types, actor types and ids a forger likes. */
export const PROTO_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

/** Draws from a seeded {@link prng}: every forge of one run shares one, so the run replays from its seed. */
export class Random {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Where the node under fuzz lives and what it hosts. */
export interface FuzzTarget {
  namespace: string;
  nodeId: string;
  shards: number;
  /** Virtual types it hosts (the first durable ones are also listed in `durable`). */
  types: string[];
  durable: string[];
  /** Ids the fuzzer may activate (a small pool, so activations do not dominate the cost). */
  ids: string[];
  /** Its largest frame: bodies above it must become PAYLOAD_TOO_LARGE. */
  maxFrameBytes: number;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
/** msgpack, as troupe's codec writes it. */
export const encode = (value: unknown): Uint8Array => packr.pack(value);

/** A forged body and what it is, for counting. */
export interface ForgedBody {
  data: Uint8Array;
  kind: string;
}

/** Generates forged bodies for one target. */
export class BodyForge {
  readonly #r: Random;
  readonly #t: FuzzTarget;

  constructor(target: FuzzTarget, random: Random) {
    this.#t = target;
    this.#r = random;
  }

  /** A syntactically valid envelope with forged fields. */
  envelope(): unknown[] {
    const n = this.#t.nodeId;
    const type = this.#r.pick(this.#t.types);
    const id = this.#r.pick(this.#t.ids);
    const target = this.#r.pick([
      `${n}/counter`,
      `${n}/nobody`,
      `${n}/counter/child`,
      `${n}/$node`,
      `${n}/$r/${this.#r.int(1e6).toString(36)}`,
      `other/counter`,
      `${n}x/counter`,
      `$v/${type}/${id}`,
      `$v/${this.#r.pick(PROTO_NAMES)}/${id}`,
      `$v/${type}/${this.#r.pick(PROTO_NAMES)}`,
      `$v/${type}`,
      `$v/`,
      `${n}/${this.#r.pick(PROTO_NAMES)}`,
    ]);
    const payload = this.#r.pick<unknown>([
      { type: this.#r.pick(PROTO_NAMES) },
      { type: this.#r.pick(PROTO_NAMES), n: 1 },
      { type: 'echo', text: 'forged' },
      { type: 'nope' },
      { type: 7 },
      { type: 'spawn', actorType: this.#r.pick([...PROTO_NAMES, 'nothing']), name: 'z' },
      { type: 'ps' },
      JSON.parse('{"__proto__": {"polluted": true}, "type": "echo", "text": "p"}'),
      null,
      'a string',
      [1, 2, 3],
      { type: 'echo', text: 'blob', blob: this.#r.bytes(this.#r.int(512)) },
    ]);
    const kind = this.#r.pick<unknown>([0, 0, 0, 1, 2, 2, 3, -1, 255, 1.5, '0', null]);
    const version = this.#r.next() < 0.9 ? 1 : this.#r.pick<unknown>([0, 2, '1', null]);
    const correlationId = this.#r.pick<unknown>([null, this.#r.int(1e6).toString(36), '', 42, '__proto__']);
    const replyTo = this.#r.pick<unknown>([
      null,
      null,
      `${n}/$r/${this.#r.int(1e6).toString(36)}`,
      'other/$r/1',
      7,
    ]);
    const deadline = this.#r.pick<unknown>([null, Date.now() + 60_000, 0, -1, 'soon', Number.MAX_VALUE]);
    const hdrs = this.#r.pick<unknown>([
      null,
      { a: 'b' },
      { 'troupe-error': '1' },
      { a: 1 },
      JSON.parse('{"__proto__": "x"}'),
      [],
      'h',
    ]);
    return [version, kind, target, null, correlationId, replyTo, deadline, hdrs, payload];
  }

  /** A frame body: what travels as the NATS payload. */
  body(): ForgedBody {
    const r = this.#r.int(100);
    if (r < 14) return { data: this.#r.bytes(1 + this.#r.int(64)), kind: 'random' };
    if (r < 18) return { data: this.#r.bytes(1 + this.#r.int(8192)), kind: 'random-large' };
    if (r < 40) return { data: encode(this.envelope()), kind: 'forged-envelope' };
    if (r < 54) {
      const frame = encode(this.envelope());
      return { data: frame.subarray(0, 1 + this.#r.int(frame.length - 1)), kind: 'truncated' };
    }
    if (r < 58) {
      // Oversized: above the node's limit, within the server's.
      const size = this.#t.maxFrameBytes + 1 + this.#r.int(this.#t.maxFrameBytes);
      const data = new Uint8Array(size);
      data.set(encode(this.envelope()));
      return { data, kind: 'oversized' };
    }
    if (r < 64) {
      // Length prefixes that promise more than there is.
      const heads = [
        [0xdb, 0xff, 0xff, 0xff, 0xff],
        [0xdd, 0x7f, 0xff, 0xff, 0xff],
        [0xdf, 0xff, 0xff, 0xff, 0xff],
        [0xc6, 0xff, 0xff, 0xff, 0xf0],
        [0x99, 0x01, 0x00, 0xdb, 0xff, 0xff, 0xff, 0xff],
        [0xc7, 0xff, 0x01],
        [0xd4, 0xff, 0x00],
        [0xd6, 0xff, 0x00, 0x00, 0x00, 0x00],
      ];
      return { data: Uint8Array.from(this.#r.pick(heads)), kind: 'bad-length' };
    }
    if (r < 67) {
      // Deep nesting: one-element arrays inside each other.
      const depth = 1000 + this.#r.int(this.#t.maxFrameBytes - 1100);
      const data = new Uint8Array(depth + 1).fill(0x91);
      data[depth] = 0xc0;
      return { data, kind: 'deep' };
    }
    if (r < 85) return { data: this.#batch(), kind: 'batch' };
    if (r < 90) return { data: new Uint8Array(0), kind: 'empty' };
    return {
      data: encode(this.#r.pick<unknown>([1, 'x', [], [1], {}, null, true, 1.5])),
      kind: 'not-envelope',
    };
  }

  /** A batch frame: the marker, then a mix of valid, forged and broken frames (or nothing). */
  #batch(): Uint8Array {
    const parts: Uint8Array[] = [Uint8Array.of(0xc1)];
    const r = this.#r.int(10);
    if (r === 0) return parts[0]!;
    if (r === 1) {
      // Many one-byte values: one frame, many entries.
      parts.push(new Uint8Array(1 + this.#r.int(Math.min(4096, this.#t.maxFrameBytes - 2))).fill(0x01));
    } else {
      const count = 1 + this.#r.int(20);
      for (let i = 0; i < count; i++) {
        const q = this.#r.int(4);
        if (q === 0) parts.push(encode(this.envelope()));
        else if (q === 1) parts.push(this.#r.bytes(1 + this.#r.int(16)));
        else if (q === 2) parts.push(Uint8Array.of(0xc1));
        else {
          const frame = encode(this.envelope());
          parts.push(frame.subarray(0, this.#r.int(frame.length)));
        }
      }
    }
    return concat(parts);
  }

  json(): ForgedBody {
    const text = new TextEncoder();
    const id = this.#r.pick([
      ...PROTO_NAMES,
      this.#t.nodeId,
      `phantom-${this.#r.int(4)}`,
      '',
      `x${this.#r.int(1e6)}`,
    ]);
    const r = this.#r.int(10);
    if (r < 2) return { data: this.#r.bytes(1 + this.#r.int(64)), kind: 'random' };
    if (r < 3) return { data: text.encode('{"v":1,"kind":"beat","node":{"id":'), kind: 'truncated' };
    const value = this.#r.pick<unknown>([
      { v: 1, kind: this.#r.pick(['beat', 'leave', 'sync', 'probe', 'nope']), node: { id } },
      {
        v: 1,
        kind: 'beat',
        // Phantom nodes claim only types the node under fuzz does not host: a valid heartbeat that claims
        // its types would move its shards away, as the protocol intends.
        node: { id, roles: 'r', types: { length: 1e9 }, durable: [1, null], load: { actors: 'x' } },
      },
      { v: 1, kind: 'beat', node: { id, types: ['phantom-type'], startedAt: 'never' } },
      { v: 1, kind: 'beat', node: null },
      { v: 2 },
      JSON.parse('{"__proto__": {"v": 1}, "kind": "beat"}'),
      { released: `${this.#r.pick(this.#t.types)}.${this.#r.int(this.#t.shards)}`, by: id },
      { released: `nothing.${this.#r.int(1e6)}`, by: id },
      { released: 7, by: id },
      null,
      [1, 2],
      'str',
    ]);
    return { data: text.encode(JSON.stringify(value)), kind: 'json' };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
