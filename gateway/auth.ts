// Who is calling and what they may do: API keys (compared as SHA-256 hashes in constant time) and JWTs (jose),
// each carrying scopes. A scope names a route family or an agent (`agents:run:$v/desk/*`); `*` is a glob and
// `admin` allows everything. Secrets come from options or the environment and are never logged.

import type { KeyObject } from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { importSPKI, type JWTPayload, jwtVerify } from 'jose';
import { InvalidOptionsError } from '../runtime/index.js';
import { GatewayError, GatewayErrorCode } from './errors.js';

export interface ApiKeyGrant {
  key: string;
  scopes: string[];
}

export interface JwtAuthOptions {
  /** HMAC secret (HS256/384/512). */
  secret?: string;
  /** Public key (PEM SPKI or a key object) of an asymmetric algorithm. */
  publicKey?: string | KeyObject;
  /** Algorithm of a PEM `publicKey`. @defaultValue 'RS256' */
  algorithm?: string;
  issuer?: string;
  audience?: string;
}

export interface AuthOptions {
  apiKeys?: ApiKeyGrant[];
  jwt?: JwtAuthOptions;
}

/** An authenticated caller: `subject` is safe to log (a key's hash prefix or the token's `sub`). */
export interface Principal {
  subject: string;
  scopes: string[];
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Auth from the environment: `TROUPE_GATEWAY_API_KEYS` (`key:scope,scope;key2:scope`) and
 * `TROUPE_GATEWAY_JWT_SECRET` (plus optional `TROUPE_GATEWAY_JWT_ISSUER`, `TROUPE_GATEWAY_JWT_AUDIENCE`).
 */
export function authFromEnv(env: NodeJS.ProcessEnv = process.env): AuthOptions {
  const auth: AuthOptions = {};
  const keys = env.TROUPE_GATEWAY_API_KEYS;
  if (keys !== undefined && keys.trim() !== '') auth.apiKeys = parseApiKeys(keys);
  const secret = env.TROUPE_GATEWAY_JWT_SECRET;
  if (secret !== undefined && secret !== '') {
    auth.jwt = { secret };
    if (env.TROUPE_GATEWAY_JWT_ISSUER) auth.jwt.issuer = env.TROUPE_GATEWAY_JWT_ISSUER;
    if (env.TROUPE_GATEWAY_JWT_AUDIENCE) auth.jwt.audience = env.TROUPE_GATEWAY_JWT_AUDIENCE;
  }
  return auth;
}

/** Parses `key:scope,scope;key2:scope` (entries may also be on separate lines); throws INVALID_OPTIONS. */
export function parseApiKeys(text: string): ApiKeyGrant[] {
  const grants: ApiKeyGrant[] = [];
  for (const entry of text.split(/[;\n]/)) {
    const trimmed = entry.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const colon = trimmed.indexOf(':');
    // Name the entry's position, never its text: it holds a secret.
    if (colon <= 0)
      throw new InvalidOptionsError('apiKeys', `entry ${grants.length + 1} is not key:scope,scope`);
    const scopes = trimmed
      .slice(colon + 1)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (scopes.length === 0)
      throw new InvalidOptionsError('apiKeys', `entry ${grants.length + 1} has no scopes`);
    grants.push({ key: trimmed.slice(0, colon).trim(), scopes });
  }
  return grants;
}

const globCache = new Map<string, RegExp>();
function glob(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    if (globCache.size < 1000) globCache.set(pattern, re);
  }
  return re;
}

/** Whether `scopes` (granted, `*` globs) allow `required`; `admin` allows everything. */
export function allows(scopes: readonly string[], required: string): boolean {
  for (const scope of scopes) {
    if (scope === 'admin' || scope === required) return true;
    if (scope.includes('*') && glob(scope).test(required)) return true;
  }
  return false;
}

interface KeyEntry {
  hash: Buffer;
  scopes: string[];
  subject: string;
}

/** Checks credentials; made once per gateway from its options. */
export class Authenticator {
  readonly #keys: KeyEntry[];
  readonly #jwt: JwtAuthOptions | undefined;
  #jwtKey: Promise<Uint8Array | KeyObject> | undefined;

  constructor(options: AuthOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('auth', 'expected { apiKeys?, jwt? }');
    const keys = options.apiKeys ?? [];
    if (!Array.isArray(keys)) throw new InvalidOptionsError('auth.apiKeys', 'expected [{ key, scopes }]');
    this.#keys = keys.map((k, i) => {
      if (typeof k?.key !== 'string' || k.key.length < 8)
        throw new InvalidOptionsError(`auth.apiKeys[${i}].key`, 'expected a string of 8 characters or more');
      if (!Array.isArray(k.scopes) || !k.scopes.every((s) => typeof s === 'string'))
        throw new InvalidOptionsError(`auth.apiKeys[${i}].scopes`, 'expected an array of strings');
      const hash = sha256(k.key);
      return { hash, scopes: [...k.scopes], subject: `key:${hash.toString('hex').slice(0, 12)}` };
    });
    const jwt = options.jwt;
    if (
      jwt !== undefined &&
      (typeof jwt !== 'object' || (jwt.secret === undefined) === (jwt.publicKey === undefined))
    )
      throw new InvalidOptionsError('auth.jwt', 'expected exactly one of secret or publicKey');
    this.#jwt = jwt;
    if (this.#keys.length === 0 && jwt === undefined)
      throw new InvalidOptionsError('auth', 'no credentials configured: give apiKeys or jwt');
  }

  /** The caller of a request with these headers; throws GATEWAY_UNAUTHENTICATED. */
  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal> {
    return this.check(headers, undefined);
  }

  /**
   * {@link authenticate} without a promise for an API key (the common case: the request goes on in the same
   * turn): answers a principal, or a promise of one for a bearer token; throws GATEWAY_UNAUTHENTICATED.
   * `queryKey`: an API key given as `?key=`, used when the headers carry none.
   */
  check(
    headers: Record<string, string | string[] | undefined>,
    queryKey: string | undefined,
  ): Principal | Promise<Principal> {
    const header = headers['x-api-key'];
    const apiKey = header === undefined ? queryKey : header;
    if (typeof apiKey === 'string' && apiKey !== '') return this.#byKey(apiKey);
    const authorization = headers.authorization;
    if (typeof authorization === 'string') {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      if (match?.[1] !== undefined) return this.#byToken(match[1]);
    }
    throw new GatewayError(
      GatewayErrorCode.Unauthenticated,
      'a credential is needed: x-api-key or Authorization: Bearer',
    );
  }

  #byKey(key: string): Principal {
    const hash = sha256(key);
    let found: KeyEntry | undefined;
    // Every key is compared (no early exit), so timing tells nothing about which one nearly matched.
    for (const k of this.#keys) if (timingSafeEqual(hash, k.hash) && found === undefined) found = k;
    if (found === undefined) throw new GatewayError(GatewayErrorCode.Unauthenticated, 'unknown API key');
    return { subject: found.subject, scopes: found.scopes };
  }

  async #byToken(token: string): Promise<Principal> {
    const jwt = this.#jwt;
    if (jwt === undefined)
      throw new GatewayError(GatewayErrorCode.Unauthenticated, 'bearer tokens are not accepted here');
    this.#jwtKey ??= this.#key(jwt);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.#jwtKey, {
        ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
        ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
      }));
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw new GatewayError(GatewayErrorCode.Unauthenticated, `invalid token (${code})`);
    }
    const raw = payload.scopes ?? payload.scope;
    const scopes = Array.isArray(raw)
      ? raw.filter((s): s is string => typeof s === 'string')
      : typeof raw === 'string'
        ? raw.split(/\s+/).filter((s) => s !== '')
        : [];
    return { subject: `jwt:${typeof payload.sub === 'string' ? payload.sub : '?'}`, scopes };
  }

  async #key(jwt: JwtAuthOptions): Promise<Uint8Array | KeyObject> {
    if (jwt.secret !== undefined) return new TextEncoder().encode(jwt.secret);
    const pk = jwt.publicKey as string | KeyObject;
    return typeof pk === 'string'
      ? ((await importSPKI(pk, jwt.algorithm ?? 'RS256')) as unknown as KeyObject)
      : pk;
  }
}
