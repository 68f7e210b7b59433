// Signed envelopes for CLI nodes: `--security-file F` (or TROUPE_SECURITY_FILE) on `troupe node` and
// `troupe gateway` reads the transport's security options from JSON, so a fleet that signs its frames can run
// its nodes and its gateway from the command line; every frame such a node refuses is written to the audit log.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AUDIT_LOG_NAME, auditDenials, auditLog, type DenialAudit } from '../agents/index.js';
import type { ActorSystem, AppendLog } from '../runtime/index.js';
import { type NatsSecurityOptions, natsAppendLog } from '../transport/index.js';
import { UsageError } from './args.js';

/** Help lines of the option, for the commands that take it. */
export const SECURITY_HELP = `  --security-file F        sign and verify every frame (env TROUPE_SECURITY_FILE): JSON of natsTransport's
                           security option, keys as { "file": path } (relative to F) or { "env": VAR }:
                           { "signing": { "privateKey": { "file": "me.pem" }, "publicKeys": { "<node id>":
                           { "file": "peer.pub" }, ... } }, "acl": [...], "encrypt": { "types": [...], "key": ... } }
                           needs --node-id naming this node's key; refused frames go to the audit log`;

/** The option's spec, to spread into a command's options. */
export const SECURITY_OPTION = { 'security-file': { type: 'string' } } as const;

/** `{ file }` keys relative to the security file's folder, so the file and its keys can move together. */
function anchored(value: unknown, base: string): unknown {
  if (Array.isArray(value)) return value.map((v) => anchored(v, base));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'file' && typeof v === 'string' && !isAbsolute(v) ? resolve(base, v) : anchored(v, base);
  }
  return out;
}

/**
 * The transport's security options from `--security-file` or TROUPE_SECURITY_FILE; undefined when neither is
 * set. The file is checked here for being JSON; natsTransport checks its fields (INVALID_OPTIONS naming the
 * field, never a key). A signed node's id must be fixed: it names this node's public key to its peers.
 */
export function securityOption(
  flag: unknown,
  nodeId: string | undefined,
): { security?: NatsSecurityOptions } {
  const path = typeof flag === 'string' ? flag : process.env.TROUPE_SECURITY_FILE || undefined;
  if (path === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read the security file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`the security file ${path} is not a JSON object`);
  if (nodeId === undefined)
    throw new UsageError('a signing node needs --node-id: its peers know its public key by that id');
  return { security: anchored(parsed, dirname(resolve(path))) as NatsSecurityOptions };
}

/** Writes every frame `system` refuses to the namespace's audit log; close() stores what is pending. */
export async function auditRefusals(
  system: ActorSystem,
  namespace: string,
): Promise<{ close(): Promise<void> }> {
  const log: AppendLog = await natsAppendLog({
    transport: system.transport,
    name: AUDIT_LOG_NAME,
    namespace,
  });
  const denials: DenialAudit = auditDenials(system, auditLog(log));
  return {
    async close() {
      await denials.close().catch(() => {});
      await log.close().catch(() => {});
    },
  };
}
