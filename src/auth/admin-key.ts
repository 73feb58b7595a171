import { createHash, createPrivateKey, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Secret } from '../core/index.js';

/**
 * The admin secret key: an Ed25519 private key (RFC 8032) that authorises the admin API and signs access tokens.
 *
 * Text form: `sk-meshgate-` + base64url (no padding) of 36 bytes = the 32-byte Ed25519 seed followed by the first
 * 4 bytes of SHA-256(seed) as a checksum, so a mistyped or truncated key is reported as such instead of silently
 * becoming another key. 48 characters after the prefix.
 * Public form: `pk-meshgate-` + base64url of the 32-byte raw public key.
 * Gateway id: the first 16 hex digits of SHA-256(raw public key) — a fingerprint that names the key in every access
 * token (`mg-{gatewayId}.{jwt}`), so a verifier can tell at once which key a token claims to be signed by.
 */
export const SECRET_KEY_PREFIX = 'sk-meshgate-';
export const PUBLIC_KEY_PREFIX = 'pk-meshgate-';
const SEED_BYTES = 32;
const CHECKSUM_BYTES = 4;
/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7), followed by the 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER prefix of an Ed25519 public key (RFC 8410 §4), followed by the 32-byte key. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class AdminKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminKeyError';
  }
}

function checksum(seed: Buffer): Buffer {
  return createHash('sha256').update(seed).digest().subarray(0, CHECKSUM_BYTES);
}

export function gatewayIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
}

/** Reads `pk-meshgate-…` (what `AdminKey.publicKeyText` prints) into a key object that verifies access tokens. */
export function parsePublicKey(text: string): KeyObject {
  const raw = text.startsWith(PUBLIC_KEY_PREFIX) ? Buffer.from(text.slice(PUBLIC_KEY_PREFIX.length), 'base64url') : undefined;
  if (!raw || raw.length !== 32) throw new AdminKeyError(`A public key must look like "${PUBLIC_KEY_PREFIX}" followed by 43 base64url characters.`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

export class AdminKey {
  /** The `sk-meshgate-…` text, revealed only to compare, print once at generation, or write to admin.key. */
  readonly secret: Secret;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly gatewayId: string;
  /** SHA-256 of the secret text, compared in constant time against presented bearer keys. */
  readonly #digest: Buffer;

  private constructor(seed: Buffer) {
    this.secret = new Secret(SECRET_KEY_PREFIX + Buffer.concat([seed, checksum(seed)]).toString('base64url'));
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    this.publicKey = createPublicKey(this.privateKey);
    this.gatewayId = gatewayIdOf(this.publicKey);
    this.#digest = createHash('sha256').update(this.secret.reveal()).digest();
  }

  static generate(): AdminKey {
    return new AdminKey(randomBytes(SEED_BYTES));
  }

  /** Parses `sk-meshgate-…`; errors say what is wrong without repeating the key. */
  static parse(text: string): AdminKey {
    const trimmed = text.trim();
    if (!trimmed.startsWith(SECRET_KEY_PREFIX)) throw new AdminKeyError(`The admin key must start with "${SECRET_KEY_PREFIX}".`);
    const body = trimmed.slice(SECRET_KEY_PREFIX.length);
    if (!/^[A-Za-z0-9_-]{48}$/.test(body)) {
      throw new AdminKeyError(`The admin key must be "${SECRET_KEY_PREFIX}" followed by 48 base64url characters (found ${body.length}).`);
    }
    const bytes = Buffer.from(body, 'base64url');
    const seed = bytes.subarray(0, SEED_BYTES);
    if (!timingSafeEqual(bytes.subarray(SEED_BYTES), checksum(seed))) throw new AdminKeyError('The admin key checksum does not match: the key was mistyped or truncated.');
    return new AdminKey(Buffer.from(seed));
  }

  /** `pk-meshgate-…`: give it to anyone who should verify tokens offline. */
  get publicKeyText(): string {
    return PUBLIC_KEY_PREFIX + rawPublicKey(this.publicKey).toString('base64url');
  }

  /** Constant-time comparison of a presented key with this one (both hashed first, so lengths never leak). */
  matches(presented: string): boolean {
    return timingSafeEqual(createHash('sha256').update(presented).digest(), this.#digest);
  }
}

export const ADMIN_KEY_FILE = 'admin.key';

export interface LoadedAdminKey {
  key: AdminKey;
  /** True when the key was created just now: print it once (with `file`) so the operator can keep it. */
  generated: boolean;
  source: 'config' | 'file';
  /** The file holding the key, when it came from or was written to the data directory. */
  file?: string;
}

/**
 * The admin key from `auth.admin_key` when configured, else from `<dataDir>/admin.key`, else a new key written
 * there with mode 0600 (created exclusively, so two processes starting at once cannot each write their own).
 */
export async function loadAdminKey(options: { configured?: string; dataDir: string }): Promise<LoadedAdminKey> {
  if (options.configured !== undefined && options.configured.trim() !== '') {
    return { key: AdminKey.parse(options.configured), generated: false, source: 'config' };
  }
  const file = join(options.dataDir, ADMIN_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing !== undefined) return { key: parseFromFile(existing, file), generated: false, source: 'file', file };
  await mkdir(options.dataDir, { recursive: true });
  const key = AdminKey.generate();
  try {
    await writeFile(file, `${key.secret.reveal()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = await readKeyFile(file);
    return { key: parseFromFile(raced ?? '', file), generated: false, source: 'file', file };
  }
  return { key, generated: true, source: 'file', file };
}

/** Reads the key file of a data directory (for the CLI); undefined when there is none. */
export async function readAdminKeyFile(dataDir: string): Promise<AdminKey | undefined> {
  const file = join(dataDir, ADMIN_KEY_FILE);
  const text = await readKeyFile(file);
  return text === undefined ? undefined : parseFromFile(text, file);
}

async function readKeyFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseFromFile(text: string, file: string): AdminKey {
  try {
    return AdminKey.parse(text);
  } catch (err) {
    throw new AdminKeyError(`${file}: ${(err as Error).message}`);
  }
}
