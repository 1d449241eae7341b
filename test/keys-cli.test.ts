import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kibanIn } from './fixtures/kiban-cli.js';

function kiban(
  cwd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return kibanIn(cwd, args, ['KIBAN_AUTH_PEPPER', 'KIBAN_STORES_METADATA']);
}

describe('kiban keys', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('creates (printing the key once), lists without secrets, rotates and revokes; an unknown scope exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-keys-'));
    dirs.push(dir);
    const bad = await kiban(dir, [
      'keys',
      'create',
      '--name',
      'x',
      '--scopes',
      'recs:read,recs:write',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--scopes: unknown scope "recs:write"');

    const created = await kiban(dir, [
      'keys',
      'create',
      '--name',
      'svc-pixiv',
      '--scopes',
      'recs:read,events:write',
      '--expires',
      '90d',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const json = JSON.parse(created.stdout) as Record<string, unknown>;
    expect(Object.keys(json).at(-1)).toBe('key');
    expect(json).toMatchObject({ name: 'svc-pixiv', scopes: ['recs:read', 'events:write'] });
    const key = json.key as string;
    expect(key).toMatch(/^kbn_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect((await stat(join(dir, '.kiban', 'auth-pepper'))).mode & 0o777).toBe(0o600);

    const listed = await kiban(dir, ['keys', 'list']);
    expect(listed.stdout).toContain('svc-pixiv');
    expect(listed.stdout).toContain('active');
    expect(listed.stdout).not.toContain(key.slice(18));
    const listedJson = await kiban(dir, ['keys', 'list', '--json']);
    expect(listedJson.stdout).not.toContain(key.slice(18));
    expect(listedJson.stdout).not.toContain('"hash"');

    const id = json.id as string;
    const rotated = await kiban(dir, ['keys', 'rotate', id, '--grace', '2h']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^\s+kbn_[0-9a-f]{12}_/m);
    expect(rotated.stdout).toContain(`the old key ${id} works until`);

    expect((await kiban(dir, ['keys', 'revoke', id])).stdout).toBe(`revoked ${id}\n`);
    expect((await kiban(dir, ['keys', 'list'])).stdout).toMatch(new RegExp(`${id} .*revoked`));
    const missing = await kiban(dir, ['keys', 'revoke', 'key_nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('API key "key_nope" not found');
  }, 120_000);
});
