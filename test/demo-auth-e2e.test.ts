import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { openMetadataStore } from '../src/app/open-stores.js';
import { ensureDevKey } from '../src/app/dev-key.js';
import { startAllInOneRole } from '../src/app/roles/all-in-one.js';
import { revokeApiKey, parseApiKey } from '../src/auth/api-keys.js';

describe('kiban demo with auth required on loopback', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('serves with its dev key (all scopes, kept and reused), and refuses requests without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-demo-auth-'));
    dirs.push(dir);
    const flag = (key: string, value: unknown) => ({ key, value, flag: key });
    const config = await loadKibanConfig({
      env: { KIBAN_AUTH: 'required' },
      flags: [
        flag('stores.serving', `sqlite:${join(dir, 'serving.db')}`),
        flag('stores.metadata', `sqlite:${join(dir, 'meta.db')}`),
        flag('stores.artifacts', join(dir, 'models')),
        flag('stores.work', join(dir, 'work')),
        flag('auth.pepperFile', join(dir, '.kiban', 'auth-pepper')),
        flag('model.kind', 'popularity'),
      ],
    });
    const role = await startAllInOneRole(config);
    try {
      expect(role.auth).toEqual({ mode: 'required', warning: null });
      expect(role.devKey).toMatch(/^kbn_[0-9a-f]{12}_/);
      const keyFile = join(dir, '.kiban', 'dev-key');
      expect((await readFile(keyFile, 'utf8')).trim()).toBe(role.devKey);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      await role.app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(role.app.server.address() as { port: number }).port}`;
      const user = encodeURIComponent(role.pipeline.sample.user);
      expect((await fetch(`${base}/v1/users/${user}/recommendations`)).status).toBe(401);
      const answer = await fetch(`${base}/v1/users/${user}/recommendations?k=3`, {
        headers: { authorization: `Bearer ${role.devKey}` },
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { items: unknown[] }).items).toHaveLength(3);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);

      const metadata = await openMetadataStore(config.stores.metadata);
      try {
        // The next demo run prints the same key; once revoked, a new one.
        expect(await ensureDevKey(config, metadata)).toBe(role.devKey);
        const record = await metadata.apiKeys.getByPrefix(parseApiKey(role.devKey)!.prefix);
        expect(record).toMatchObject({ name: 'kiban-demo', scopes: ['admin'] });
        await revokeApiKey(metadata.apiKeys, record!.id);
        const next = await ensureDevKey(config, metadata);
        expect(next).not.toBe(role.devKey);
        expect((await readFile(keyFile, 'utf8')).trim()).toBe(next);
      } finally {
        await metadata.close();
      }
    } finally {
      await role.app.close();
      await role.close();
    }
  }, 180_000);
});
