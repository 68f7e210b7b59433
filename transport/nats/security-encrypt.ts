// Payload encryption of the signed transport: messages of named types travel as AES-256-GCM ciphertext.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { InvalidOptionsError } from '../../runtime/index.js';
import type { Envelope } from '../../runtime/internal.js';
import { type KeyInput, keyText } from './signing.js';

/** Options of payload encryption. */
export interface EncryptOptions {
  /** Message types (`payload.type`) whose payload is encrypted. */
  types: string[];
  /** 32-byte AES key: bytes, base64 text, or `{ file }` / `{ env }` holding base64 text. */
  key: Uint8Array | Exclude<KeyInput, import('node:crypto').KeyObject>;
}

/** Field of an encrypted payload: `{ type, [SEALED]: iv | tag | ciphertext }`. */
export const SEALED = '$sealed';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** @internal Seals and opens the payloads of the named types. */
export class PayloadCipher {
  readonly #types: ReadonlySet<string>;
  readonly #key: Buffer;
  readonly #packr = new Packr({ useRecords: false });

  constructor(options: EncryptOptions, field = 'security.encrypt') {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError(field, 'expected an object');
    const { types, key } = options;
    if (!Array.isArray(types) || !types.every((t) => typeof t === 'string'))
      throw new InvalidOptionsError(`${field}.types`, 'expected an array of message types');
    this.#types = new Set(types);
    const bytes =
      key instanceof Uint8Array
        ? Buffer.from(key)
        : Buffer.from(keyText(key, `${field}.key`).trim(), 'base64');
    if (bytes.length !== 32) throw new InvalidOptionsError(`${field}.key`, 'expected a 32-byte key (base64)');
    this.#key = bytes;
  }

  /** The envelope with its payload sealed when its type is named; else the envelope itself. */
  seal(envelope: Envelope): Envelope {
    const payload = envelope.payload as { type?: unknown } | null;
    if (typeof payload !== 'object' || payload === null || !this.#types.has(payload.type as string))
      return envelope;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(this.#packr.pack(payload)), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]);
    return { ...envelope, payload: { type: payload.type, [SEALED]: sealed } };
  }

  /** The envelope opened; `undefined` when it is sealed but does not open (wrong key, tampered). */
  open(envelope: Envelope): Envelope | undefined {
    const payload = envelope.payload as Record<string, unknown> | null;
    if (typeof payload !== 'object' || payload === null) return envelope;
    const sealed = payload[SEALED];
    if (sealed === undefined) {
      // A named type must arrive sealed: a plaintext one was sent by a node without the key.
      return this.#types.has(payload.type as string) ? undefined : envelope;
    }
    if (!(sealed instanceof Uint8Array) || sealed.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, IV_BYTES));
      decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return { ...envelope, payload: this.#packr.unpack(plain) };
    } catch {
      return undefined;
    }
  }
}
