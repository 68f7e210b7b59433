// Forged input for the fuzz scenario: every subject pattern a node listens on, and the bytes to send there.
//
// The subjects, read from the transport sources (troupe.<ns>. is left out):
//   <node>.<path>                      an actor (transport/nats.ts: one wildcard subscription `<node>.>`)
//   <node>.$r.<correlation id>         replies; an empty frame with status 503 is an ask's no-responders
//   <node>.$nr.<count>.<target>        status of a tell batch that found no subscriber (nats.ts)
//   <node>.$nv.<id>.<count>.<target>   status of a virtual tell batch (nats-tell-retry.ts)
//   <node>.$fw.<forward id>            status of a directory forward (nats-directory.ts)
//   <node>.$va.<type>.<id>             frames forwarded by a shard owner to an actor's host (nats-directory.ts)
//   <node>.$ping                       the node-id uniqueness probe (nats.ts)
//   <node>.$node                       node-wide system commands: ps, spawn (runtime/system.ts)
//   $members                           heartbeats, JSON (nats-membership.ts)
//   $shards                            shard release notices, JSON (nats-shards.ts)
//   $v.<type>.<shard>.<id>             a virtual actor's shard (nats-shards.ts)
//   $d.<type>.<shard>.<id>             durable mail, captured by the JetStream stream (nats-durable.ts)
//   $KV.troupe-dir-<ns>.<key>          the activation directory's KV entries (nats-directory.ts)

import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { shardOf } from '../../runtime/internal.js';

/** One forged NATS message. */
export interface ForgedFrame {
  subject: string;
  data: Uint8Array;
  reply?: string;
  headers?: MsgHdrs;
  /** What it is, for counting: `<subject class>/<body class>`. */
  kind: string;
}

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
const encode = (value: unknown): Uint8Array => packr.pack(value);

/** A status message like the one the server sends for no responders. */
function status(code: number, text: string): MsgHdrs {
  return headers(code, text);
}

/** Generates forged frames for one target, deterministically from a seed. */
export class FrameForge {
  readonly #rng: () => number;
  readonly #t: FuzzTarget;
  readonly #p: string;
  readonly #n: string;

  constructor(target: FuzzTarget, seed: number) {
    this.#rng = prng(seed);
    this.#t = target;
    this.#p = `troupe.${target.namespace}.`;
    this.#n = `troupe.${target.namespace}.${target.nodeId}.`;
  }

  #int(n: number): number {
    return Math.floor(this.#rng() * n);
  }

  #pick<T>(list: readonly T[]): T {
    return list[this.#int(list.length)]!;
  }

  #bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#int(256);
    return out;
  }

  #token(): string {
    return this.#pick([
      ...PROTO_NAMES,
      'counter',
      'probe',
      'nobody',
      'x',
      '0',
      '-1',
      '$r',
      '$nr',
      '$v',
      this.#int(1e9).toString(36),
    ]);
  }

  /** A syntactically valid envelope with forged fields. */
  #envelope(): unknown[] {
    const n = this.#t.nodeId;
    const type = this.#pick(this.#t.types);
    const id = this.#pick(this.#t.ids);
    const target = this.#pick([
      `${n}/counter`,
      `${n}/nobody`,
      `${n}/counter/child`,
      `${n}/$node`,
      `${n}/$r/${this.#int(1e6).toString(36)}`,
      `other/counter`,
      `${n}x/counter`,
      `$v/${type}/${id}`,
      `$v/${this.#pick(PROTO_NAMES)}/${id}`,
      `$v/${type}/${this.#pick(PROTO_NAMES)}`,
      `$v/${type}`,
      `$v/`,
      `${n}/${this.#pick(PROTO_NAMES)}`,
    ]);
    const payload = this.#pick<unknown>([
      { type: this.#pick(PROTO_NAMES) },
      { type: this.#pick(PROTO_NAMES), n: 1 },
      { type: 'echo', text: 'forged' },
      { type: 'nope' },
      { type: 7 },
      { type: 'spawn', actorType: this.#pick([...PROTO_NAMES, 'nothing']), name: 'z' },
      { type: 'ps' },
      JSON.parse('{"__proto__": {"polluted": true}, "type": "echo", "text": "p"}'),
      null,
      'a string',
      [1, 2, 3],
      { type: 'echo', text: 'blob', blob: this.#bytes(this.#int(512)) },
    ]);
    const kind = this.#pick<unknown>([0, 0, 0, 1, 2, 2, 3, -1, 255, 1.5, '0', null]);
    const version = this.#rng() < 0.9 ? 1 : this.#pick<unknown>([0, 2, '1', null]);
    const correlationId = this.#pick<unknown>([null, this.#int(1e6).toString(36), '', 42, '__proto__']);
    const replyTo = this.#pick<unknown>([
      null,
      null,
      `${n}/$r/${this.#int(1e6).toString(36)}`,
      'other/$r/1',
      7,
    ]);
    const deadline = this.#pick<unknown>([null, Date.now() + 60_000, 0, -1, 'soon', Number.MAX_VALUE]);
    const hdrs = this.#pick<unknown>([
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
  #body(): { data: Uint8Array; kind: string } {
    const r = this.#int(100);
    if (r < 14) return { data: this.#bytes(1 + this.#int(64)), kind: 'random' };
    if (r < 18) return { data: this.#bytes(1 + this.#int(8192)), kind: 'random-large' };
    if (r < 40) return { data: encode(this.#envelope()), kind: 'forged-envelope' };
    if (r < 54) {
      const frame = encode(this.#envelope());
      return { data: frame.subarray(0, 1 + this.#int(frame.length - 1)), kind: 'truncated' };
    }
    if (r < 58) {
      // Oversized: above the node's limit, within the server's.
      const size = this.#t.maxFrameBytes + 1 + this.#int(this.#t.maxFrameBytes);
      const data = new Uint8Array(size);
      data.set(encode(this.#envelope()));
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
      return { data: Uint8Array.from(this.#pick(heads)), kind: 'bad-length' };
    }
    if (r < 67) {
      // Deep nesting: one-element arrays inside each other.
      const depth = 1000 + this.#int(this.#t.maxFrameBytes - 1100);
      const data = new Uint8Array(depth + 1).fill(0x91);
      data[depth] = 0xc0;
      return { data, kind: 'deep' };
    }
    if (r < 85) return { data: this.#batch(), kind: 'batch' };
    if (r < 90) return { data: new Uint8Array(0), kind: 'empty' };
    return {
      data: encode(this.#pick<unknown>([1, 'x', [], [1], {}, null, true, 1.5])),
      kind: 'not-envelope',
    };
  }

  /** A batch frame: the marker, then a mix of valid, forged and broken frames (or nothing). */
  #batch(): Uint8Array {
    const parts: Uint8Array[] = [Uint8Array.of(0xc1)];
    const r = this.#int(10);
    if (r === 0) return parts[0]!;
    if (r === 1) {
      // Many one-byte values: one frame, many entries.
      parts.push(new Uint8Array(1 + this.#int(Math.min(4096, this.#t.maxFrameBytes - 2))).fill(0x01));
    } else {
      const count = 1 + this.#int(20);
      for (let i = 0; i < count; i++) {
        const q = this.#int(4);
        if (q === 0) parts.push(encode(this.#envelope()));
        else if (q === 1) parts.push(this.#bytes(1 + this.#int(16)));
        else if (q === 2) parts.push(Uint8Array.of(0xc1));
        else {
          const frame = encode(this.#envelope());
          parts.push(frame.subarray(0, this.#int(frame.length)));
        }
      }
    }
    return concat(parts);
  }

  #json(): { data: Uint8Array; kind: string } {
    const text = new TextEncoder();
    const id = this.#pick([
      ...PROTO_NAMES,
      this.#t.nodeId,
      `phantom-${this.#int(4)}`,
      '',
      `x${this.#int(1e6)}`,
    ]);
    const r = this.#int(10);
    if (r < 2) return { data: this.#bytes(1 + this.#int(64)), kind: 'random' };
    if (r < 3) return { data: text.encode('{"v":1,"kind":"beat","node":{"id":'), kind: 'truncated' };
    const value = this.#pick<unknown>([
      { v: 1, kind: this.#pick(['beat', 'leave', 'sync', 'probe', 'nope']), node: { id } },
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
      { released: `${this.#pick(this.#t.types)}.${this.#int(this.#t.shards)}`, by: id },
      { released: `nothing.${this.#int(1e6)}`, by: id },
      { released: 7, by: id },
      null,
      [1, 2],
      'str',
    ]);
    return { data: text.encode(JSON.stringify(value)), kind: 'json' };
  }

  /**
   * For the memory flood: frames to an actor that does not exist, every one a dead letter. Even ones decode
   * (their payload holds `blob` as binary); odd ones are cut short (malformed).
   */
  malformedToMissingActor(blob: Uint8Array, i: number): { subject: string; data: Uint8Array } {
    const frame = encode([
      1,
      0,
      `${this.#t.nodeId}/missing`,
      null,
      null,
      null,
      null,
      null,
      { type: 'x', i, blob },
    ]);
    return {
      subject: `${this.#n}missing`,
      data: i % 2 === 0 ? frame : frame.subarray(0, frame.length - 50),
    };
  }

  /** The next frame: a subject pattern, then a body that fits it (or not). */
  next(): ForgedFrame {
    const n = this.#n;
    const p = this.#p;
    const type = this.#pick(this.#t.types);
    const id = this.#pick(this.#t.ids);
    const r = this.#int(100);
    const count = (): string =>
      this.#pick([
        '1000000',
        '999999999999',
        '1e9',
        'Infinity',
        '-5',
        '0',
        'abc',
        '0x7fffffff',
        String(this.#int(100)),
      ]);
    const status503 = status(503, 'No Responders');
    if (r < 8) {
      // `$nr.<count>.<target>`: a forged no-responders status, the count chosen by the forger.
      const subject = this.#pick([
        `${n}$nr.${count()}.${this.#t.nodeId}.counter`,
        `${n}$nr.${count()}.other.x`,
        `${n}$nr.${count()}`,
        `${n}$nr.${count()}.$v.${type}.${id}`,
      ]);
      return { subject, data: new Uint8Array(0), headers: status503, kind: 'nr/503' };
    }
    if (r < 14) {
      const subject = this.#pick([
        `${n}$nv.${this.#int(1e6)}.${count()}.$v.${type}.${id}`,
        `${n}$nv.${count()}.${count()}.x`,
        `${n}$nv.${this.#int(10)}`,
        `${n}$nv.abc.def`,
      ]);
      return { subject, data: new Uint8Array(0), headers: status503, kind: 'nv/503' };
    }
    if (r < 17) {
      return {
        subject: `${n}$fw.${this.#pick([String(this.#int(70_000)), 'x', '-1', '1e9', `${this.#int(9)}.5`])}`,
        data: new Uint8Array(0),
        headers: status503,
        kind: 'fw/503',
      };
    }
    if (r < 22) {
      // Replies: statuses and frames for correlation ids nobody waits for.
      const subject = `${n}$r.${this.#pick([this.#int(1e6).toString(36), ...PROTO_NAMES, 'x.y'])}`;
      if (this.#rng() < 0.5) return { subject, data: new Uint8Array(0), headers: status503, kind: 'r/503' };
      const body = this.#body();
      return { subject, data: body.data, kind: `r/${body.kind}` };
    }
    if (r < 25) {
      const code = this.#pick([408, 404, 100, 200, 503]);
      const subject = `${n}${this.#pick(['counter', '$ping', 'nobody', `$nr.1.x`, `$r.1`])}`;
      return {
        subject,
        data: code === 503 ? this.#bytes(3) : new Uint8Array(0),
        headers: status(code, 'forged'),
        kind: `status/${code}`,
      };
    }
    if (r < 27) {
      const body = this.#rng() < 0.5 ? { data: new Uint8Array(0), kind: 'empty' } : this.#body();
      return {
        subject: `${n}$ping`,
        data: body.data,
        reply: `_INBOX.fuzz.${this.#int(1e6)}`,
        kind: `ping/${body.kind}`,
      };
    }
    if (r < 31) {
      const body = this.#body();
      return {
        subject: `${n}$va.${this.#pick([type, ...PROTO_NAMES])}.${this.#pick([id, ...PROTO_NAMES])}`,
        data: body.data,
        kind: `va/${body.kind}`,
      };
    }
    if (r < 34) {
      const body = this.#body();
      return { subject: `${n}$node`, data: body.data, kind: `node/${body.kind}` };
    }
    if (r < 52) {
      // Actor subjects: the real actor, unknown ones, children, prototype names.
      const body = this.#body();
      const subject = `${n}${this.#pick(['counter', 'nobody', 'counter.child', 'probe.x', this.#token(), `${this.#token()}.${this.#token()}`])}`;
      return {
        subject,
        data: body.data,
        kind: `actor/${body.kind}`,
        ...(this.#rng() < 0.3 && { reply: `${n}$r.${this.#int(1e6).toString(36)}` }),
      };
    }
    if (r < 58) {
      const body = this.#json();
      return { subject: `${p}$members`, data: body.data, kind: `members/${body.kind}` };
    }
    if (r < 62) {
      const body = this.#json();
      return { subject: `${p}$shards`, data: body.data, kind: `shards/${body.kind}` };
    }
    if (r < 84) {
      // Shard subjects: the right shard for the id (the node owns every shard), or the wrong one.
      const body = this.#body();
      const right = shardOf(`${type}/${id}`, this.#t.shards);
      const shard = this.#rng() < 0.85 ? right : this.#int(this.#t.shards);
      const to = this.#rng() < 0.9 ? id : this.#pick(PROTO_NAMES);
      return {
        subject: `${p}$v.${type}.${shard}.${to}`,
        data: body.data,
        kind: `shard/${body.kind}`,
        ...(this.#rng() < 0.3 && { reply: `${n}$nr.1000000.x` }),
      };
    }
    if (r < 90) {
      // Durable mail: stored by JetStream, then consumed by the shard's owner.
      const durable = this.#pick(this.#t.durable);
      const body = this.#body();
      if (body.data.length > 32 * 1024) body.data = body.data.subarray(0, 32 * 1024);
      return {
        subject: `${p}$d.${durable}.${shardOf(`${durable}/${id}`, this.#t.shards)}.${id}`,
        data: body.data,
        kind: `durable/${body.kind}`,
      };
    }
    if (r < 92) {
      return {
        subject: `$KV.troupe-dir-${this.#t.namespace}.${Buffer.from(`roamer/${this.#pick(PROTO_NAMES)}`).toString('base64url')}`,
        data: this.#rng() < 0.5 ? this.#bytes(this.#int(32)) : new TextEncoder().encode('phantom-node'),
        kind: 'kv/forged',
      };
    }
    // Anything else under the node: random tokens, odd segments.
    const body = this.#body();
    return {
      subject: `${n}${this.#token()}.${this.#token()}.${this.#token()}`,
      data: body.data,
      kind: `other/${body.kind}`,
    };
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
