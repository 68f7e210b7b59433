// Forged input for the fuzz scenario: every subject pattern a node listens on, and the bytes to send there.
//
// Every subject pattern a node listens on, as transport/nats/subjects.ts builds them (troupe.<ns>. left out):
// actors `<node>.<path>`, replies `<node>.$r` and ask statuses `<node>.$r.<id>`, tell statuses `$nr`, virtual
// tell statuses `$nv`, directory forward statuses `$fw` and forwarded frames `$va`, the probe `$ping`, node
// commands `$node`, `$members`, `$shards`, shard subjects `$v.<type>.<shard>.<id>`, durable subjects
// `$d.<type>.<shard>.<id>`, and the directory's KV entries `$KV.troupe-dir-<ns>.<key>`.

import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { shardOf } from '../../runtime/internal.js';
import { BodyForge, encode, type FuzzTarget, PROTO_NAMES, Random } from './bodies.js';

export type { FuzzTarget } from './bodies.js';
export { PROTO_NAMES, prng } from './bodies.js';

/** One forged NATS message. */
export interface ForgedFrame {
  subject: string;
  data: Uint8Array;
  reply?: string;
  headers?: MsgHdrs;
  /** What it is, for counting: `<subject class>/<body class>`. */
  kind: string;
}

/** A status message like the one the server sends for no responders. */
function status(code: number, text: string): MsgHdrs {
  return headers(code, text);
}

/** Generates forged frames for one target, deterministically from a seed. */
export class FrameForge {
  readonly #r: Random;
  readonly #b: BodyForge;
  readonly #t: FuzzTarget;
  readonly #p: string;
  readonly #n: string;

  constructor(target: FuzzTarget, seed: number) {
    this.#r = new Random(seed);
    this.#b = new BodyForge(target, this.#r);
    this.#t = target;
    this.#p = `troupe.${target.namespace}.`;
    this.#n = `troupe.${target.namespace}.${target.nodeId}.`;
  }

  #token(): string {
    return this.#r.pick([
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
      this.#r.int(1e9).toString(36),
    ]);
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
    const type = this.#r.pick(this.#t.types);
    const id = this.#r.pick(this.#t.ids);
    const r = this.#r.int(100);
    const count = (): string =>
      this.#r.pick([
        '1000000',
        '999999999999',
        '1e9',
        'Infinity',
        '-5',
        '0',
        'abc',
        '0x7fffffff',
        String(this.#r.int(100)),
      ]);
    const status503 = status(503, 'No Responders');
    if (r < 8) {
      // `$nr.<count>.<target>`: a forged no-responders status, the count chosen by the forger.
      const subject = this.#r.pick([
        `${n}$nr.${count()}.${this.#t.nodeId}.counter`,
        `${n}$nr.${count()}.other.x`,
        `${n}$nr.${count()}`,
        `${n}$nr.${count()}.$v.${type}.${id}`,
      ]);
      return { subject, data: new Uint8Array(0), headers: status503, kind: 'nr/503' };
    }
    if (r < 14) {
      const subject = this.#r.pick([
        `${n}$nv.${this.#r.int(1e6)}.${count()}.$v.${type}.${id}`,
        `${n}$nv.${count()}.${count()}.x`,
        `${n}$nv.${this.#r.int(10)}`,
        `${n}$nv.abc.def`,
      ]);
      return { subject, data: new Uint8Array(0), headers: status503, kind: 'nv/503' };
    }
    if (r < 17) {
      return {
        subject: `${n}$fw.${this.#r.pick([String(this.#r.int(70_000)), 'x', '-1', '1e9', `${this.#r.int(9)}.5`])}`,
        data: new Uint8Array(0),
        headers: status503,
        kind: 'fw/503',
      };
    }
    if (r < 22) {
      // Replies: statuses and frames for correlation ids nobody waits for.
      const subject = `${n}$r.${this.#r.pick([this.#r.int(1e6).toString(36), ...PROTO_NAMES, 'x.y'])}`;
      if (this.#r.next() < 0.5)
        return { subject, data: new Uint8Array(0), headers: status503, kind: 'r/503' };
      const body = this.#b.body();
      return { subject, data: body.data, kind: `r/${body.kind}` };
    }
    if (r < 25) {
      const code = this.#r.pick([408, 404, 100, 200, 503]);
      const subject = `${n}${this.#r.pick(['counter', '$ping', 'nobody', `$nr.1.x`, `$r.1`])}`;
      return {
        subject,
        data: code === 503 ? this.#r.bytes(3) : new Uint8Array(0),
        headers: status(code, 'forged'),
        kind: `status/${code}`,
      };
    }
    if (r < 27) {
      const body = this.#r.next() < 0.5 ? { data: new Uint8Array(0), kind: 'empty' } : this.#b.body();
      return {
        subject: `${n}$ping`,
        data: body.data,
        reply: `_INBOX.fuzz.${this.#r.int(1e6)}`,
        kind: `ping/${body.kind}`,
      };
    }
    if (r < 31) {
      const body = this.#b.body();
      return {
        subject: `${n}$va.${this.#r.pick([type, ...PROTO_NAMES])}.${this.#r.pick([id, ...PROTO_NAMES])}`,
        data: body.data,
        kind: `va/${body.kind}`,
      };
    }
    if (r < 34) {
      const body = this.#b.body();
      return { subject: `${n}$node`, data: body.data, kind: `node/${body.kind}` };
    }
    if (r < 52) {
      // Actor subjects: the real actor, unknown ones, children, prototype names.
      const body = this.#b.body();
      const subject = `${n}${this.#r.pick(['counter', 'nobody', 'counter.child', 'probe.x', this.#token(), `${this.#token()}.${this.#token()}`])}`;
      return {
        subject,
        data: body.data,
        kind: `actor/${body.kind}`,
        ...(this.#r.next() < 0.3 && { reply: `${n}$r.${this.#r.int(1e6).toString(36)}` }),
      };
    }
    if (r < 58) {
      const body = this.#b.json();
      return { subject: `${p}$members`, data: body.data, kind: `members/${body.kind}` };
    }
    if (r < 62) {
      const body = this.#b.json();
      return { subject: `${p}$shards`, data: body.data, kind: `shards/${body.kind}` };
    }
    if (r < 84) {
      // Shard subjects: the right shard for the id (the node owns every shard), or the wrong one.
      const body = this.#b.body();
      const right = shardOf(`${type}/${id}`, this.#t.shards);
      const shard = this.#r.next() < 0.85 ? right : this.#r.int(this.#t.shards);
      const to = this.#r.next() < 0.9 ? id : this.#r.pick(PROTO_NAMES);
      return {
        subject: `${p}$v.${type}.${shard}.${to}`,
        data: body.data,
        kind: `shard/${body.kind}`,
        ...(this.#r.next() < 0.3 && { reply: `${n}$nr.1000000.x` }),
      };
    }
    if (r < 90) {
      // Durable mail: stored by JetStream, then consumed by the shard's owner.
      const durable = this.#r.pick(this.#t.durable);
      const body = this.#b.body();
      if (body.data.length > 32 * 1024) body.data = body.data.subarray(0, 32 * 1024);
      return {
        subject: `${p}$d.${durable}.${shardOf(`${durable}/${id}`, this.#t.shards)}.${id}`,
        data: body.data,
        kind: `durable/${body.kind}`,
      };
    }
    if (r < 92) {
      return {
        subject: `$KV.troupe-dir-${this.#t.namespace}.${Buffer.from(`roamer/${this.#r.pick(PROTO_NAMES)}`).toString('base64url')}`,
        data:
          this.#r.next() < 0.5 ? this.#r.bytes(this.#r.int(32)) : new TextEncoder().encode('phantom-node'),
        kind: 'kv/forged',
      };
    }
    // Anything else under the node: random tokens, odd segments.
    const body = this.#b.body();
    return {
      subject: `${n}${this.#token()}.${this.#token()}.${this.#token()}`,
      data: body.data,
      kind: `other/${body.kind}`,
    };
  }
}
