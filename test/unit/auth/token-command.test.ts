import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAdminKey, runTokenCommand, verifyAccessToken } from '../../../src/auth/index.js';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), env } };
}

describe('meshgate token', () => {
  it('creates a token with the key from --data DIR/admin.key and verifies it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-cli-'));
    const { key } = await loadAdminKey({ dataDir: dir });
    const created = io();
    expect(await runTokenCommand(['create', '--data', dir, '--requests', '10/hour', '--cost', '2.5/month', '--expires-at', '2099-01-01T00:00:00Z', '--json'], created.io)).toBe(0);
    const { token, expiresAt } = JSON.parse(created.out[0]!) as { token: string; expiresAt: number };
    expect(expiresAt).toBe(Date.UTC(2099, 0, 1));
    const verified = await verifyAccessToken(token, { key: key.publicKeyText });
    expect(verified.payload).toMatchObject({ requests: { limit: 10, period: 'hour' }, cost: { limit: 2.5, period: 'month', currency: 'USD' } });

    const checked = io();
    expect(await runTokenCommand(['verify', token, '--public-key', key.publicKeyText], checked.io)).toBe(0);
    expect(JSON.parse(checked.out.join('\n'))).toMatchObject({ id: verified.id, claims: { requests: { limit: 10 } } });

    const shown = io({ MESHGATE_ADMIN_KEY: key.secret.reveal() });
    expect(await runTokenCommand(['public-key'], shown.io)).toBe(0);
    expect(shown.out[0]).toContain(key.publicKeyText);
    expect(shown.out[0]).toContain(key.gatewayId);
  });

  it('exits 2 with a clear message for bad claims, bad flags and a missing key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-cli-'));
    const { key } = await loadAdminKey({ dataDir: dir });
    const env = { MESHGATE_ADMIN_KEY: key.secret.reveal() };
    const badClaims = io(env);
    expect(await runTokenCommand(['create', '--requests', '0/fortnight'], badClaims.io)).toBe(2);
    expect(badClaims.err[0]).toMatch(/requests\.limit.*requests\.period/);
    const badDuration = io(env);
    expect(await runTokenCommand(['create', '--expires-in', 'soon'], badDuration.io)).toBe(2);
    expect(badDuration.err[0]).toContain('not a duration');
    const unknownFlag = io(env);
    expect(await runTokenCommand(['create', '--domains', 'x.com'], unknownFlag.io)).toBe(2);
    const noKey = io({});
    expect(await runTokenCommand(['create', '--data', join(dir, 'nowhere')], noKey.io)).toBe(2);
    expect(noKey.err[0]).toContain('No admin key');
    const typo = io({ MESHGATE_ADMIN_KEY: `${key.secret.reveal().slice(0, -1)}?` });
    expect(await runTokenCommand(['create'], typo.io)).toBe(2);
    expect(typo.err.join('')).not.toContain(key.secret.reveal().slice(12, 40));
  });

  it('exits 1 when verify rejects a token', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-cli-'));
    const { key } = await loadAdminKey({ dataDir: dir });
    const created = io({ MESHGATE_ADMIN_KEY: key.secret.reveal() });
    await runTokenCommand(['create', '--expires-in', '1s'], created.io);
    const late = { ...io({ MESHGATE_ADMIN_KEY: key.secret.reveal() }) };
    const code = await runTokenCommand(['verify', created.out[0]!], { ...late.io, now: () => Date.now() + 3_600_000 });
    expect(code).toBe(1);
    expect(late.err[0]).toContain('expired');
  });
});
