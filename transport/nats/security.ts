// The signed transport: every frame a node publishes carries its Ed25519 signature and its node id in NATS
// headers; a receiving node admits only frames signed by a node it knows, whose access list allows them, and
// opens payloads sealed for it. Everything else is a dead letter and is never handled. The cluster's control
// frames (heartbeats, shard notices) are signed too; one not signed by the node it speaks for is ignored, and so
// is one that is not fresh (a replay): each carries, inside the signed bytes, its send time and the sender's
// incarnation and sequence number.

import { type KeyObject, randomBytes } from 'node:crypto';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { type Clock, InvalidOptionsError, type Logger, systemClock } from '../../runtime/index.js';
import { assertOptionsObject, type Envelope, intOption, type Rejected } from '../../runtime/internal.js';
import { AccessList, type AclRule } from './security-acl.js';
import {
  type ControlChannel,
  type ControlFreshnessOptions,
  type ControlStamp,
  compareIncarnations,
  defaultFreshnessMs,
  stampOf,
} from './security-control.js';
import { type EncryptOptions, PayloadCipher } from './security-encrypt.js';
import {
  type KeyInput,
  loadPrivateKey,
  loadPublicKey,
  SIGNATURE_HEADER,
  SIGNER_HEADER,
  signFrame,
  verifyFrame,
} from './signing.js';

export type { ControlChannel, ControlFreshnessOptions, ControlStamp } from './security-control.js';
export { defaultFreshnessMs } from './security-control.js';

/** Dead-letter codes of the signed transport. */
export const SecurityErrorCode = {
  UnsignedFrame: 'UNSIGNED_FRAME',
  BadSignature: 'BAD_SIGNATURE',
  UnknownSigner: 'UNKNOWN_SIGNER',
  AclDenied: 'ACL_DENIED',
  DecryptFailed: 'DECRYPT_FAILED',
} as const;
export type SecurityErrorCode = (typeof SecurityErrorCode)[keyof typeof SecurityErrorCode];

/**
 * Why a signed node ignored a cluster control frame (a heartbeat, a shard notice): the signature codes of
 * {@link SecurityErrorCode}, `WRONG_SIGNER`, a frame signed by a known node but speaking for another, or
 * `STALE_FRAME`, a genuine frame that is not fresh: sent too long ago (or ahead) by this node's clock, no newer
 * than one already heard from its sender, from an earlier incarnation of its sender, or without a stamp
 * (a replay). Ignored control frames are counted and logged, not dead letters.
 */
export const ControlRefusalCode = {
  UnsignedFrame: SecurityErrorCode.UnsignedFrame,
  BadSignature: SecurityErrorCode.BadSignature,
  UnknownSigner: SecurityErrorCode.UnknownSigner,
  WrongSigner: 'WRONG_SIGNER',
  StaleFrame: 'STALE_FRAME',
} as const;
export type ControlRefusalCode = (typeof ControlRefusalCode)[keyof typeof ControlRefusalCode];

/** Why a frame's signature does not verify. */
type SignatureFailure = Exclude<
  ControlRefusalCode,
  typeof ControlRefusalCode.WrongSigner | typeof ControlRefusalCode.StaleFrame
>;

/** Options of the signed transport (`natsTransport({ security })`). */
export interface NatsSecurityOptions {
  signing: {
    /** This node's Ed25519 private key. */
    privateKey: KeyInput;
    /** Every node's public key by node id (this node's own included, to hear itself). */
    publicKeys: Record<string, KeyInput>;
  };
  /** Who may tell or ask whom; unset: any verified signer may reach any address. */
  acl?: AclRule[];
  /** Payload encryption for named message types. */
  encrypt?: EncryptOptions;
  /**
   * Replay protection of the cluster's control frames (heartbeats, joins, goodbyes, shard release notices):
   * one whose send time is further than this from the receiver's clock, either way, is refused as
   * `STALE_FRAME`, and so is one no newer than the last heard from its sender's incarnation (or from an earlier
   * incarnation) within this window. Must exceed the clock skew between nodes plus a frame's transit time.
   * @defaultValue five times `cluster.failureTimeoutMs`, at least 10 s
   */
  freshnessMs?: number;
}

/** Resolved {@link NatsSecurityOptions}: keys loaded, rules compiled. */
export interface ResolvedNatsSecurity {
  privateKey: KeyObject;
  publicKeys: ReadonlyMap<string, KeyObject>;
  acl: AccessList | undefined;
  cipher: PayloadCipher | undefined;
  /** Undefined: the default for the cluster's failure timeout ({@link defaultFreshnessMs}). */
  freshnessMs: number | undefined;
}

/** Checks and loads {@link NatsSecurityOptions}; throws `INVALID_OPTIONS` naming the field, never a key. */
export function resolveSecurityOptions(
  options: NatsSecurityOptions | undefined,
): ResolvedNatsSecurity | undefined {
  if (options === undefined) return undefined;
  assertOptionsObject(options, 'security');
  const signing = options.signing;
  if (typeof signing !== 'object' || signing === null)
    throw new InvalidOptionsError('security.signing', 'expected { privateKey, publicKeys }');
  const privateKey = loadPrivateKey(signing.privateKey, 'security.signing.privateKey');
  if (typeof signing.publicKeys !== 'object' || signing.publicKeys === null)
    throw new InvalidOptionsError('security.signing.publicKeys', 'expected a map of node id to public key');
  const publicKeys = new Map<string, KeyObject>();
  for (const [node, key] of Object.entries(signing.publicKeys))
    publicKeys.set(node, loadPublicKey(key, `security.signing.publicKeys.${node}`));
  return {
    privateKey,
    publicKeys,
    acl: options.acl === undefined ? undefined : new AccessList(options.acl),
    cipher: options.encrypt === undefined ? undefined : new PayloadCipher(options.encrypt),
    freshnessMs:
      options.freshnessMs === undefined
        ? undefined
        : intOption(options.freshnessMs, 'security.freshnessMs', 0, 1),
  };
}

/** What {@link FrameSecurity.verify} reads of a message: a core NATS one or a JetStream one. */
export interface SignedMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: MsgHdrs | undefined;
}

/** Between two lines about one kind of refused frame, at least this long. */
const LOG_EVERY_MS = 60_000;

/**
 * @internal One node's signer and verifier. `headers` signs a frame about to be published; `verify` checks
 * one that arrived (its signer, or a dead letter); `admit` applies the access list and opens sealed payloads;
 * `controlFrame` stamps and signs a cluster control frame (heartbeat, shard notice), `controlFrom` checks one
 * against the node it speaks for and for freshness.
 */
export class FrameSecurity {
  readonly #s: ResolvedNatsSecurity;
  readonly #nodeId: string;
  /** Refused frames by code. */
  readonly refused: Record<SecurityErrorCode, number> = {
    UNSIGNED_FRAME: 0,
    BAD_SIGNATURE: 0,
    UNKNOWN_SIGNER: 0,
    ACL_DENIED: 0,
    DECRYPT_FAILED: 0,
  };
  readonly #loggedAt = new Map<SecurityErrorCode, number>();
  /**
   * Control frames (heartbeats, shard notices) ignored by code: unsigned, tampered, from an unknown signer, or
   * signed by another node than the one they speak for.
   */
  readonly controlRefused: Record<ControlRefusalCode, number> = {
    UNSIGNED_FRAME: 0,
    BAD_SIGNATURE: 0,
    UNKNOWN_SIGNER: 0,
    WRONG_SIGNER: 0,
    STALE_FRAME: 0,
  };
  readonly #controlLoggedAt = new Map<ControlRefusalCode, number>();
  #log: Logger | undefined;
  readonly #clock: Clock;
  readonly #freshnessMs: number;
  /** This incarnation's start and id, and the sequence number of the last control frame it sent. */
  readonly #since: number;
  readonly #inc = randomBytes(8).toString('hex');
  #seq = 0;
  /**
   * The newest stamp accepted per channel and signer. Only verified signers (nodes with a known key) get an
   * entry, so it stays bounded by the fleet's size.
   */
  readonly #heard = new Map<string, ControlStamp>();

  constructor(
    resolved: ResolvedNatsSecurity,
    nodeId: string,
    log: Logger | undefined,
    freshness: ControlFreshnessOptions = {},
  ) {
    this.#s = resolved;
    this.#nodeId = nodeId;
    this.#log = log;
    this.#clock = freshness.clock ?? systemClock;
    this.#freshnessMs = freshness.freshnessMs ?? resolved.freshnessMs ?? defaultFreshnessMs(2000);
    this.#since = this.#clock.now();
  }

  /**
   * A cluster control frame ready to publish: `body` with this node's {@link ControlStamp} added as `stamp`,
   * as JSON bytes, and the headers signing those bytes.
   */
  controlFrame(body: object): { data: Uint8Array; headers: MsgHdrs } {
    const stamp: ControlStamp = {
      at: this.#clock.now(),
      since: this.#since,
      inc: this.#inc,
      seq: ++this.#seq,
    };
    const data = new TextEncoder().encode(JSON.stringify({ ...body, stamp }));
    return { data, headers: this.headers(data) };
  }

  /** NATS headers carrying `data`'s signature by this node. */
  headers(data: Uint8Array): MsgHdrs {
    const h = natsHeaders();
    h.set(SIGNER_HEADER, this.#nodeId);
    h.set(SIGNATURE_HEADER, signFrame(this.#s.privateKey, data).toString('base64'));
    return h;
  }

  /** The envelope with its payload sealed when its type is named for encryption. */
  seal(envelope: Envelope): Envelope {
    const cipher = this.#s.cipher;
    return cipher === undefined ? envelope : cipher.seal(envelope);
  }

  /** The verified signer of a control frame, or undefined (then counted and logged as refused: ignore it). */
  controlSigner(msg: SignedMessage): string | undefined {
    const checked = this.#check(msg, 'control frame');
    if (typeof checked === 'string') return checked;
    this.refuseControl(checked.code, `${checked.message}: ignored`);
    return undefined;
  }

  /** The signer of a frame that verifies; else records a dead letter at `address` and returns undefined. */
  verify(msg: SignedMessage, address: string, reject: (r: Rejected) => void): string | undefined {
    const checked = this.#check(msg, 'frame');
    if (typeof checked === 'string') return checked;
    this.#refuse(checked.code, address, `${checked.message}: dropped`, reject, checked.data);
    return undefined;
  }

  /**
   * True when a cluster control frame (a heartbeat, a shard notice) verifies, its signer is `about`, the node
   * it speaks for (a node may only speak for itself), and it is fresh: `stamp` (the frame's, as parsed from
   * its signed bytes) was sent within the freshness window of this node's clock, and is newer than the last
   * frame accepted on `channel` from that signer (a later sequence number of the same incarnation, or a later
   * incarnation). Else the frame is counted in {@link controlRefused}, logged (rate-limited) and must be
   * ignored; it is no dead letter (no actor's mail).
   */
  controlFrom(msg: SignedMessage, about: string, channel: ControlChannel, stamp: unknown): boolean {
    const checked = this.#check(msg, 'control frame');
    if (typeof checked !== 'string') {
      this.refuseControl(checked.code, `${checked.message}: ignored`);
      return false;
    }
    if (checked !== about) {
      this.refuseControl(
        ControlRefusalCode.WrongSigner,
        `a control frame on ${msg.subject} about node ${about.slice(0, 100)} signed by ${checked}: ignored`,
      );
      return false;
    }
    const stale = this.#stale(channel, checked, stamp);
    if (stale === undefined) return true;
    this.refuseControl(
      ControlRefusalCode.StaleFrame,
      `a control frame on ${msg.subject} signed by ${checked} ${stale}: ignored`,
    );
    return false;
  }

  /** Why a control frame from `signer` is not fresh, or undefined when it is (and is remembered as newest). */
  #stale(channel: ControlChannel, signer: string, value: unknown): string | undefined {
    const stamp = stampOf(value);
    if (stamp === undefined) return 'carries no valid freshness stamp';
    const now = this.#clock.now();
    const window = this.#freshnessMs;
    if (Math.abs(now - stamp.at) > window)
      return `was sent at ${stamp.at}, ${now - stamp.at} ms from this node's clock (window ${window} ms)`;
    const key = `${channel} ${signer}`;
    const last = this.#heard.get(key);
    // Past the window since the last frame accepted from the signer, its state can go: any frame it sent
    // before that one is outside the window too (both stamped by its clock). A node restarted with a clock
    // behind its previous run's is so heard again one window after that run's last frame.
    if (last !== undefined && now - last.at <= window) {
      const order = compareIncarnations(stamp, last);
      if (order < 0)
        return `is from an earlier incarnation (started ${stamp.since}, last heard ${last.since})`;
      if (order === 0 && stamp.seq <= last.seq)
        return `is no newer than one already heard (sequence ${stamp.seq}, last ${last.seq})`;
    }
    this.#heard.set(key, stamp);
    return undefined;
  }

  /** The signer of a frame whose signature verifies, or why it does not. */
  #check(
    msg: SignedMessage,
    noun: 'frame' | 'control frame',
  ): string | { code: SignatureFailure; message: string; data: { subject: string; signer?: string } } {
    const h = msg.headers;
    const signer = h?.get(SIGNER_HEADER);
    const signature = h?.get(SIGNATURE_HEADER);
    if (!signer || !signature) {
      return {
        code: SecurityErrorCode.UnsignedFrame,
        message: `an unsigned ${noun} on ${msg.subject}`,
        data: { subject: msg.subject, ...(signer ? { signer: signer.slice(0, 100) } : {}) },
      };
    }
    const key = this.#s.publicKeys.get(signer);
    if (key === undefined) {
      return {
        code: SecurityErrorCode.UnknownSigner,
        message: `a ${noun} on ${msg.subject} signed by unknown node ${signer.slice(0, 100)}`,
        data: { subject: msg.subject, signer: signer.slice(0, 100) },
      };
    }
    if (!verifyFrame(key, msg.data, Buffer.from(signature, 'base64'))) {
      return {
        code: SecurityErrorCode.BadSignature,
        message: `a ${noun} on ${msg.subject} does not match its signature by ${signer}`,
        data: { subject: msg.subject, signer },
      };
    }
    return signer;
  }

  /** The envelope to deliver (opened), or undefined when the access list denies it or it does not open. */
  admit(signer: string, envelope: Envelope, reject: (r: Rejected) => void): Envelope | undefined {
    const acl = this.#s.acl;
    if (acl !== undefined && !acl.allows(signer, envelope)) {
      this.#refuse(
        SecurityErrorCode.AclDenied,
        envelope.target,
        `${signer} may not send this to ${envelope.target.slice(0, 300)}: dropped`,
        reject,
        { signer },
        envelope,
      );
      return undefined;
    }
    const cipher = this.#s.cipher;
    if (cipher === undefined) return envelope;
    const opened = cipher.open(envelope);
    if (opened === undefined)
      this.#refuse(
        SecurityErrorCode.DecryptFailed,
        envelope.target,
        `a sealed payload from ${signer} to ${envelope.target.slice(0, 300)} does not open: dropped`,
        reject,
        { signer },
      );
    return opened;
  }

  #refuse(
    code: SecurityErrorCode,
    address: string,
    message: string,
    reject: (r: Rejected) => void,
    // Where it came from, for the audit of denials: the subject and the claimed signer, never the payload.
    data: { subject?: string; signer?: string },
    envelope?: Envelope,
  ): void {
    this.refused[code]++;
    reject({ address, reason: code, error: { code, message, data }, ...(envelope && { envelope }) });
    // The first of each kind, then one a minute with the count: a flood must not flood the log.
    const now = Date.now();
    const last = this.#loggedAt.get(code);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.#loggedAt.set(code, now);
    this.#log?.warn('refused a frame', { code, detail: message, refused: this.refused[code] });
  }

  /** Counts and logs (rate-limited) a control frame refused for `code`; the caller ignores it. */
  refuseControl(code: ControlRefusalCode, message: string): void {
    this.controlRefused[code]++;
    // Logged like refused frames: the first of each kind, then one a minute with the count.
    const now = this.#clock.now();
    const last = this.#controlLoggedAt.get(code);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.#controlLoggedAt.set(code, now);
    this.#log?.warn('refused a control frame', { code, detail: message, refused: this.controlRefused[code] });
  }
}
