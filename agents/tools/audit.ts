// The audit log: one record per tool call and per model call (who, what, an argument hash, the outcome, how long,
// what it cost), appended to an AppendLog (a JetStream stream across the fleet) under the agent's name, and one
// per frame a node refused (kind `security`, under `security:<node>`: see audit-denials.ts); queried by agent,
// tool, kind and time. `troupe audit` reads it.

import { createHash } from 'node:crypto';
import type { AppendLog, Logger } from '../../runtime/index.js';
import { loggerOption } from '../../runtime/internal.js';

/** The AppendLog name audit records go to by convention (`natsAppendLog({ name: AUDIT_LOG_NAME })`). */
export const AUDIT_LOG_NAME = 'audit';

/** One tool call. */
export interface ToolAuditRecord {
  readonly kind: 'tool';
  /** When the call ended (epoch ms). */
  readonly at: number;
  readonly agent: string;
  readonly runId: string;
  readonly callId: string;
  readonly tool: string;
  /** sha256 (hex) of the arguments' canonical JSON (keys sorted), or of their raw text when not JSON. */
  readonly argsHash: string;
  /** 'ok', or the failure's code (TOOL_FORBIDDEN, ...). */
  readonly outcome: string;
  readonly durationMs: number;
  readonly cost?: number;
  readonly tenant?: string;
}

/** One model call (a step's), so budget stops and failures show next to the tool calls. */
export interface ModelAuditRecord {
  readonly kind: 'model';
  readonly at: number;
  readonly agent: string;
  readonly runId?: string;
  /** The router group called. */
  readonly group: string;
  /** The deployment's model, when known. */
  readonly model?: string;
  /** 'ok', or the error's code (BUDGET_EXCEEDED, MODEL_UNAVAILABLE, ...). */
  readonly outcome: string;
  /** Tokens the call used (input and output). */
  readonly tokens?: number;
  readonly cost?: number;
  readonly durationMs?: number;
  readonly tenant?: string;
}

/** An agent's call: what {@link AuditLog.query} returns unless asked for `kind: 'security'`. */
export type AuditRecord = ToolAuditRecord | ModelAuditRecord;

/**
 * A frame a node refused (an envelope denial): unsigned, tampered, from an unknown signer, denied by the access
 * list, or sealed with a key the node does not hold. Never the payload, never a key.
 */
export interface SecurityAuditRecord {
  readonly kind: 'security';
  /** When the node refused it (epoch ms). */
  readonly at: number;
  /** The node that refused it. */
  readonly node: string;
  /** UNSIGNED_FRAME, BAD_SIGNATURE, UNKNOWN_SIGNER, ACL_DENIED or DECRYPT_FAILED. */
  readonly code: string;
  /** The address it was for (from its subject when it could not be decoded). */
  readonly target: string;
  /** The NATS subject it arrived on, when known. */
  readonly subject?: string;
  /** The node it claims to come from (its signer header: not proven for the signature failures). */
  readonly signer?: string;
  /** The sender address its envelope names, when it was decoded. */
  readonly sender?: string;
  /** The node's description of the refusal. */
  readonly detail?: string;
  /** Refusals this record stands for: more than 1 when a flood was summed up. @defaultValue 1 */
  readonly count?: number;
}

/** A stored record with its sequence in the log. */
export type AuditEntry = AuditRecord & { readonly seq: number };
/** A stored {@link SecurityAuditRecord} with its sequence in the log. */
export type SecurityAuditEntry = SecurityAuditRecord & { readonly seq: number };

/** What {@link AuditLog.query} selects; every field narrows. */
export interface AuditQuery {
  readonly agent?: string;
  readonly tool?: string;
  /** Unset: tool and model records (agents' calls); `security`: refused frames only. */
  readonly kind?: 'tool' | 'model' | 'security';
  readonly runId?: string;
  /** Records at or after this time (epoch ms, a Date or an ISO string). */
  readonly since?: number | Date | string;
  /** The newest this many matches. @defaultValue 100 */
  readonly limit?: number;
}

export interface AuditLog {
  /** Appends a record. Resolves once stored; {@link flush} waits for every record appended so far. */
  record(record: AuditRecord | SecurityAuditRecord): Promise<void>;
  /** Refused frames, oldest first (the newest `limit` of them); waits for this log's own appends first. */
  query(query: AuditQuery & { readonly kind: 'security' }): Promise<SecurityAuditEntry[]>;
  /** Matching records, oldest first (the newest `limit` of them); waits for this log's own appends first. */
  query(query?: AuditQuery): Promise<AuditEntry[]>;
  /** Resolves once every record appended so far is stored (or failed, which is logged). */
  flush(): Promise<void>;
}

/** Options of {@link auditLog}. */
export interface AuditLogOptions {
  /**
   * Where failed appends are reported (an audit outage must not fail the calls it records).
   * @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })`
   */
  logger?: Logger;
}

/** JSON with object keys sorted at every depth, so equal arguments hash alike whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    const parts: string[] = [];
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** sha256 (hex) of a call's arguments: their canonical JSON, or the raw text when it is not JSON. */
export function argsHash(raw: string): string {
  let text = raw;
  try {
    text = canonicalJson(JSON.parse(raw));
  } catch {
    // Not JSON (the model's broken arguments): hash what it sent.
  }
  return createHash('sha256').update(text).digest('hex');
}

function sinceMs(since: AuditQuery['since']): number {
  if (since === undefined) return Number.NEGATIVE_INFINITY;
  const ms = since instanceof Date ? since.getTime() : typeof since === 'string' ? Date.parse(since) : since;
  if (!Number.isFinite(ms)) throw new TypeError(`since: not a time: ${String(since)}`);
  return ms;
}

/** The log key of a record: its agent's name, or `security:<node>` for a refused frame. */
function keyOf(record: AuditRecord | SecurityAuditRecord): string {
  return record.kind === 'security' ? `security:${record.node}` : record.agent;
}

function matches(r: AuditRecord | SecurityAuditRecord, q: AuditQuery, since: number): boolean {
  if (q.kind === undefined ? r.kind === 'security' : r.kind !== q.kind) return false;
  if (r.kind === 'security')
    return q.agent === undefined && q.tool === undefined && q.runId === undefined && r.at >= since;
  if (q.tool !== undefined && (r.kind !== 'tool' || r.tool !== q.tool)) return false;
  if (q.agent !== undefined && r.agent !== q.agent) return false;
  if (q.runId !== undefined && r.runId !== q.runId) return false;
  return r.at >= since;
}

class AppendLogAudit implements AuditLog {
  readonly #log: AppendLog;
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<void>>();

  constructor(log: AppendLog, logger: Logger) {
    this.#log = log;
    this.#logger = logger;
  }

  record(record: AuditRecord | SecurityAuditRecord): Promise<void> {
    const key = keyOf(record);
    const write = this.#log.append(key, JSON.stringify(record)).then(
      () => undefined,
      (err: unknown) => {
        this.#logger.warn('audit record not stored', { kind: record.kind, key, error: err });
      },
    );
    this.#pending.add(write);
    void write.then(() => this.#pending.delete(write));
    return write;
  }

  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  query(query: AuditQuery & { readonly kind: 'security' }): Promise<SecurityAuditEntry[]>;
  query(query?: AuditQuery): Promise<AuditEntry[]>;
  async query(query: AuditQuery = {}): Promise<(AuditEntry | SecurityAuditEntry)[]> {
    const limit = query.limit ?? 100;
    if (!(Number.isInteger(limit) && limit > 0)) throw new TypeError('limit: expected a positive integer');
    const since = sinceMs(query.since);
    await this.flush();
    // An agent's records are under its own key; anything else reads every key.
    const records = await this.#log.read(query.agent ?? '*');
    const out: (AuditEntry | SecurityAuditEntry)[] = [];
    for (const rec of records) {
      let parsed: AuditRecord | SecurityAuditRecord;
      try {
        parsed = JSON.parse(rec.data) as AuditRecord | SecurityAuditRecord;
      } catch {
        continue;
      }
      if (typeof parsed !== 'object' || parsed === null || !matches(parsed, query, since)) continue;
      out.push({ ...parsed, seq: rec.seq });
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }
}

/**
 * An audit log over `log`: `memoryAppendLog()` for one process, `natsAppendLog({ transport, name: 'audit' })`
 * for a fleet (what `troupe audit` reads). Give it to the ToolRegistry (`audit`) and to the agent kit.
 *
 * @example
 * const audit = auditLog(natsAppendLog({ transport: system.transport, name: AUDIT_LOG_NAME }));
 * const registry = new ToolRegistry({ audit, tasks: system.tasks, kv });
 * await audit.query({ agent: 'planner', since: Date.now() - 3_600_000 });
 */
export function auditLog(log: AppendLog, options: AuditLogOptions = {}): AuditLog {
  return new AppendLogAudit(log, loggerOption(options.logger));
}
