import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminKey, AdminKeyError, loadAdminKey, parsePublicKey } from '../../../src/auth/index.js';

describe('admin key', () => {
  it('round-trips through its text form and derives a stable public key and gateway id', () => {
    const key = AdminKey.generate();
    const text = key.secret.reveal();
    expect(text).toMatch(/^sk-meshgate-[A-Za-z0-9_-]{48}$/);
    const again = AdminKey.parse(text);
    expect(again.gatewayId).toBe(key.gatewayId);
    expect(again.publicKeyText).toBe(key.publicKeyText);
    expect(key.gatewayId).toMatch(/^[0-9a-f]{16}$/);
    expect(parsePublicKey(key.publicKeyText).equals(key.publicKey)).toBe(true);
  });

  it('detects a mistyped key by its checksum, without echoing the key', () => {
    const text = AdminKey.generate().secret.reveal();
    const last = text.at(-1) === 'A' ? 'B' : 'A';
    const typo = text.slice(0, 20) + (text[20] === 'x' ? 'y' : 'x') + text.slice(21, -1) + last;
    expect(() => AdminKey.parse(typo)).toThrow(/checksum/);
    expect(() => AdminKey.parse(text.slice(0, -2))).toThrow(/48 base64url characters/);
    expect(() => AdminKey.parse('sk-other-abc')).toThrow(AdminKeyError);
    try {
      AdminKey.parse(typo);
    } catch (err) {
      expect((err as Error).message).not.toContain(typo.slice(12));
    }
  });

  it('never shows the secret through JSON or string conversion', () => {
    const key = AdminKey.generate();
    expect(JSON.stringify({ key: key.secret })).not.toContain('sk-meshgate');
    expect(`${key.secret}`).toBe('[redacted]');
  });

  it('compares presented keys in constant time and only accepts its own', () => {
    const key = AdminKey.generate();
    expect(key.matches(key.secret.reveal())).toBe(true);
    expect(key.matches(AdminKey.generate().secret.reveal())).toBe(false);
    expect(key.matches('')).toBe(false);
  });

  it('generates admin.key (0600) on first start, then reads the same key back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-key-'));
    const first = await loadAdminKey({ dataDir: dir });
    expect(first.generated).toBe(true);
    expect(first.file).toBe(join(dir, 'admin.key'));
    expect((await stat(first.file!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.file!, 'utf8')).trim()).toBe(first.key.secret.reveal());
    const second = await loadAdminKey({ dataDir: dir });
    expect(second.generated).toBe(false);
    expect(second.key.gatewayId).toBe(first.key.gatewayId);
  });

  it('prefers the configured key and rejects a malformed one clearly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-key-'));
    const configured = AdminKey.generate();
    const loaded = await loadAdminKey({ configured: configured.secret.reveal(), dataDir: dir });
    expect(loaded).toMatchObject({ generated: false, source: 'config' });
    expect(loaded.key.gatewayId).toBe(configured.gatewayId);
    await expect(loadAdminKey({ configured: 'sk-meshgate-short', dataDir: dir })).rejects.toThrow(AdminKeyError);
  });
});
