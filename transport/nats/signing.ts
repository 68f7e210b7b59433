// Ed25519 keys of the signed transport: loaded from options, the environment or files (never logged), and the
// signature of one frame over its bytes.

import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidOptionsError } from '../../runtime/index.js';

/** A key: a `KeyObject`, PEM text, or where to read PEM text (a file, an environment variable). */
export type KeyInput = KeyObject | string | { file: string } | { env: string };

/** NATS header naming the node whose key signed a frame. */
export const SIGNER_HEADER = 'Troupe-Signer';
/** NATS header holding the frame's Ed25519 signature (base64). */
export const SIGNATURE_HEADER = 'Troupe-Sig';

/** The text of a key given inline, in a file or in an environment variable; throws `INVALID_OPTIONS`. */
export function keyText(input: Exclude<KeyInput, KeyObject>, field: string): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && 'file' in input && typeof input.file === 'string') {
    try {
      return readFileSync(input.file, 'utf8');
    } catch (err) {
      // The path is configuration, not a secret; the content never appears in an error.
      throw new InvalidOptionsError(field, `cannot read key file ${input.file}: ${(err as Error).message}`);
    }
  }
  if (typeof input === 'object' && input !== null && 'env' in input && typeof input.env === 'string') {
    const value = process.env[input.env];
    if (value === undefined || value === '')
      throw new InvalidOptionsError(field, `environment variable ${input.env} is not set`);
    return value;
  }
  throw new InvalidOptionsError(field, 'expected a KeyObject, PEM text, { file } or { env }');
}

function isKeyObject(input: unknown): input is KeyObject {
  return typeof input === 'object' && input !== null && (input as KeyObject).asymmetricKeyType !== undefined;
}

/** An Ed25519 private key; throws `INVALID_OPTIONS` (never quoting the key). */
export function loadPrivateKey(input: KeyInput, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = isKeyObject(input) ? input : createPrivateKey(keyText(input, field));
  } catch (err) {
    if (err instanceof InvalidOptionsError) throw err;
    throw new InvalidOptionsError(field, 'not a PEM private key');
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new InvalidOptionsError(field, 'expected an Ed25519 private key');
  return key;
}

/** An Ed25519 public key (a private key gives its public half); throws `INVALID_OPTIONS`. */
export function loadPublicKey(input: KeyInput, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = isKeyObject(input) ? input : createPublicKey(keyText(input, field));
  } catch (err) {
    if (err instanceof InvalidOptionsError) throw err;
    throw new InvalidOptionsError(field, 'not a PEM public key');
  }
  if (key.type === 'private') key = createPublicKey(key);
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519')
    throw new InvalidOptionsError(field, 'expected an Ed25519 public key');
  return key;
}

/**
 * What is signed: the SHA-256 digest of the frame. Ed25519 hashes what it signs twice with SHA-512 (and
 * verification once more); over a batch frame of up to 1 MiB one SHA-256 pass costs a fifth of that.
 */
function digest(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The Ed25519 signature of `data` (over its SHA-256 digest). */
export function signFrame(key: KeyObject, data: Uint8Array): Buffer {
  return sign(null, digest(data), key);
}

/** True when `signature` is `key`'s over `data` (as {@link signFrame} signs it). */
export function verifyFrame(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, digest(data), key, signature);
  } catch {
    return false;
  }
}
