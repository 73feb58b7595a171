import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Secret } from '../core/index.js';

/** A value encrypted with AES-256-GCM (NIST SP 800-38D): 96-bit random nonce, 128-bit tag, all base64url. */
export const sealedSchema = z.object({ v: z.literal(1), iv: z.string(), tag: z.string(), data: z.string() }).strict();
export type Sealed = z.infer<typeof sealedSchema>;

/** HKDF context (RFC 5869 `info`): a key for this purpose only, never the admin key itself. */
const INFO = 'meshgate/runtime-providers/v1';

/**
 * Encrypts what the node keeps at rest for run-time providers (their blocks hold literal API keys), with a key
 * derived from the admin key by HKDF-SHA256. The data directory alone does not reveal them; the admin key does, as
 * it already grants changing them. `aad` binds a sealed value to what it belongs to (the provider id), so one stored
 * blob cannot be moved under another id.
 */
export class SealedBox {
  readonly #key: Buffer;

  constructor(adminSecret: Secret) {
    this.#key = Buffer.from(hkdfSync('sha256', adminSecret.reveal(), 'meshgate', INFO, 32));
  }

  seal(plain: string, aad: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return { v: 1, iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), data: data.toString('base64url') };
  }

  /** Throws when the value was sealed with another key (the admin key changed) or was altered. */
  open(sealed: Sealed, aad: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64url')), decipher.final()]).toString('utf8');
  }
}
