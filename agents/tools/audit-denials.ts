// Envelope denials in the audit log: each frame a node's signed transport refuses (unsigned, tampered, unknown
// signer, denied by the access list, sealed with a key the node lacks) is a dead letter on that node; this turns
// each one into a `security` record of the fleet's audit log, so `troupe audit --kind security` lists them next
// to the gateway's own 401/403 records. The record names the code, the target, the subject and the claimed
// sender; never the payload, never a key.

import type { ActorSystem, DeadLetter } from '../../runtime/index.js';
import { InvalidOptionsError } from '../../runtime/index.js';
import type { AuditLog, SecurityAuditRecord } from './audit.js';

/**
 * The dead-letter codes of refused frames: the values of the NATS transport's `SecurityErrorCode` (this layer
 * does not import the transport; a test keeps the two lists equal).
 */
export const DENIAL_CODES: readonly string[] = Object.freeze([
  'UNSIGNED_FRAME',
  'BAD_SIGNATURE',
  'UNKNOWN_SIGNER',
  'ACL_DENIED',
  'DECRYPT_FAILED',
]);

/** Default of {@link AuditDenialsOptions.maxPending}. */
export const DEFAULT_MAX_PENDING_DENIALS = 256;

/** Options of {@link auditDenials}. */
export interface AuditDenialsOptions {
  /** Dead-letter codes to audit. @defaultValue {@link DENIAL_CODES} */
  codes?: readonly string[];
  /**
   * Most records being stored at once. A flood of refusals beyond it must not become a flood of log writes:
   * the extra ones are summed up per code and stored as one record with a `count` once the log catches up.
   * @defaultValue 256
   */
  maxPending?: number;
}

/** A running {@link auditDenials}. */
export interface DenialAudit {
  /** Refusals audited so far (those summed up into one record included). */
  readonly audited: number;
  /** Stops listening, stores what was summed up and waits until every record is stored (or failed: logged). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Longest text kept of a field that came off the wire (a subject, a claimed signer). */
const MAX_FIELD = 300;

const clip = (value: unknown, max = MAX_FIELD): string | undefined =>
  typeof value === 'string' && value !== '' ? value.slice(0, max) : undefined;

/** The audit record of a refused frame: the dead letter's code and addresses, without its message. */
export function denialRecord(node: string, letter: DeadLetter, count = 1): SecurityAuditRecord {
  const data = letter.error?.data as { subject?: unknown; signer?: unknown } | undefined;
  const subject = clip(data?.subject);
  const signer = clip(data?.signer, 100);
  const sender = clip(letter.sender);
  const detail = clip(letter.error?.message);
  return {
    kind: 'security',
    at: letter.at,
    node,
    code: letter.reason,
    target: clip(letter.address) ?? '',
    ...(subject === undefined ? {} : { subject }),
    ...(signer === undefined ? {} : { signer }),
    ...(sender === undefined ? {} : { sender }),
    ...(detail === undefined ? {} : { detail }),
    ...(count === 1 ? {} : { count }),
  };
}

class DenialAuditor implements DenialAudit {
  readonly #node: string;
  readonly #audit: AuditLog;
  readonly #codes: ReadonlySet<string>;
  readonly #maxPending: number;
  readonly #unsubscribe: () => void;
  readonly #pending = new Set<Promise<void>>();
  /** Refusals held back while the log was busy: the first of each code, and how many. */
  readonly #held = new Map<string, { letter: DeadLetter; count: number }>();
  #audited = 0;
  #closing: Promise<void> | undefined;

  constructor(
    system: Pick<ActorSystem, 'nodeId' | 'deadLetters'>,
    audit: AuditLog,
    codes: string[],
    max: number,
  ) {
    this.#node = system.nodeId;
    this.#audit = audit;
    this.#codes = new Set(codes);
    this.#maxPending = max;
    this.#unsubscribe = system.deadLetters.subscribe((letter) => this.#onDeadLetter(letter));
  }

  get audited(): number {
    return this.#audited;
  }

  #onDeadLetter(letter: DeadLetter): void {
    if (!this.#codes.has(letter.reason)) return;
    this.#audited++;
    if (this.#pending.size < this.#maxPending) {
      this.#store(denialRecord(this.#node, letter));
      return;
    }
    const held = this.#held.get(letter.reason);
    if (held === undefined) this.#held.set(letter.reason, { letter, count: 1 });
    else held.count++;
  }

  #store(record: SecurityAuditRecord): void {
    // AuditLog.record never rejects: a failed append is logged there.
    const write = this.#audit.record(record).finally(() => {
      this.#pending.delete(write);
      this.#release();
    });
    this.#pending.add(write);
  }

  /** Stores the sums held back, as room frees up. */
  #release(): void {
    for (const [code, held] of this.#held) {
      if (this.#pending.size >= this.#maxPending) return;
      this.#held.delete(code);
      this.#store(denialRecord(this.#node, held.letter, held.count));
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unsubscribe();
      for (const [code, held] of this.#held) {
        this.#held.delete(code);
        this.#store(denialRecord(this.#node, held.letter, held.count));
      }
      while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Audits every frame `system`'s transport refuses: one `security` record per refusal in `audit` (key
 * `security:<nodeId>`), listed by `audit.query({ kind: 'security' })` and `troupe audit --kind security`.
 * Records are stored in the background; an audit outage is logged, never fails the node.
 *
 * @example
 * const audit = auditLog(await natsAppendLog({ transport: system.transport, name: AUDIT_LOG_NAME }));
 * const denials = auditDenials(system, audit);
 * // ... on shutdown
 * await denials.close();
 */
export function auditDenials(
  system: Pick<ActorSystem, 'nodeId' | 'deadLetters'>,
  audit: AuditLog,
  options: AuditDenialsOptions = {},
): DenialAudit {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const codes = options.codes ?? DENIAL_CODES;
  if (!Array.isArray(codes) || codes.some((c) => typeof c !== 'string' || c === ''))
    throw new InvalidOptionsError('codes', 'expected an array of dead-letter codes');
  const max = options.maxPending ?? DEFAULT_MAX_PENDING_DENIALS;
  if (!Number.isInteger(max) || max < 1)
    throw new InvalidOptionsError('maxPending', 'expected a positive integer');
  return new DenialAuditor(system, audit, [...codes], max);
}
