/**
 * Issue 22's isolation between services, against the real serve role over real HTTP, with auth
 * required and API keys in a SQLite metadata store, on a Redis serving store (127.0.0.1:6379,
 * a fresh prefix) and on a SQLite one: a `service:booth` key gets 403 on another service's and on
 * default's routes and 200 on booth's; a publish into booth changes neither default's nor shop's
 * version; `GET /v1/services` lists only what a key may use; interactions posted to one service
 * are not another's.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openServingStore } from '../src/app/backends.js';
import { loadKibanConfig } from '../src/app/config.js';
import { startServeRole } from '../src/app/roles/serve.js';
import { listServices } from '../src/app/services.js';
import { createApiKey } from '../src/auth/api-keys.js';
import type { Scope } from '../src/auth/principal.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';

const PEPPER = randomBytes(32).toString('hex');
const REDIS = 'redis://127.0.0.1:6379';

const dirs: string[] = [];
const redisPrefixes: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  // Every key of the test's prefixes (the services' prefixes extend the default's).
  const { RedisServingStore } = await import('../src/storage/redis-serving-store.js');
  for (const prefix of redisPrefixes) {
    const store = new RedisServingStore(REDIS, { prefix });
    await store.clear();
    await store.close();
  }
});

/** Publishes one version into the serving store at `url`: `user` u1's list and the popular list. */
async function publish(url: string, version: string, items: string[]): Promise<void> {
  const store = await openServingStore(url);
  try {
    const writer = await store.beginVersion(version, { by: 'test' });
    const scored = items.map((id, i) => ({ id, score: items.length - i }));
    await writer.putLists('user', [['u1', scored]]);
    await writer.putLists('popular', [['all', scored]]);
    await writer.commit();
  } finally {
    await store.close();
  }
}

async function currentVersion(url: string): Promise<string | null> {
  const store = await openServingStore(url);
  try {
    return (await store.currentVersion())?.version ?? null;
  } finally {
    await store.close();
  }
}

describe.each([
  ['Redis', () => `${REDIS}?prefix=kiban-test-${randomBytes(5).toString('hex')}:`],
  ['SQLite', (dir: string) => `sqlite:${join(dir, 'serving.db')}`],
] as const)('services on a %s serving store', (_engine, servingUrl) => {
  it('keeps keys, versions, lists and interactions of each service to itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-services-'));
    dirs.push(dir);
    await mkdir(join(dir, 'workflows'));
    const serving = servingUrl(dir);
    if (serving.startsWith('redis'))
      redisPrefixes.push(new URL(serving).searchParams.get('prefix')!);
    const file = join(dir, 'kiban.yaml');
    await writeFile(
      file,
      [
        'model: { kind: popularity }',
        'stores:',
        `  serving: "${serving}"`,
        `  metadata: sqlite:${join(dir, 'meta.db')}`,
        `  artifacts: ${join(dir, 'models')}`,
        `  work: ${join(dir, 'work')}`,
        'serve:',
        `  workflows: ${join(dir, 'workflows')}`,
        `  banditLog: ${join(dir, 'bandit-logs')}`,
        `  dataRoot: ${dir}`,
        'auth:',
        '  mode: required',
        `  pepper: ${PEPPER}`,
        'services:',
        '  booth: {}',
        '  shop:',
        '    candidates: { users: 5 }',
        '',
      ].join('\n'),
    );
    const config = await loadKibanConfig({ file, env: {} });
    const url = Object.fromEntries(
      listServices(config).map((s) => [s.name, s.pipeline.stores.serving]),
    );
    expect(new Set(Object.values(url)).size).toBe(3);
    await publish(url.default, 'v-default', ['d1', 'd2']);
    await publish(url.shop, 'v-shop', ['s1']);

    const role = await startServeRole(config);
    try {
      await role.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = role.app.server.address() as { port: number };
      const base = `http://127.0.0.1:${port}`;
      const metadata = await openMetadata(config.stores.metadata);
      const key = async (scopes: Scope[]) =>
        (
          await createApiKey(metadata.apiKeys, PEPPER, {
            name: scopes.join('+'),
            scopes,
            createdBy: 'test',
          })
        ).key;
      const boothKey = await key(['recs:read', 'events:write', 'service:booth']);
      const plainKey = await key(['recs:read', 'events:write']);
      const everyKey = await key(['recs:read', 'events:write', 'service:*']);
      const shopBoothKey = await key(['recs:read', 'service:shop', 'service:booth']);
      await metadata.close();

      const get = async (path: string, key: string) => {
        const response = await fetch(`${base}${path}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const post = async (path: string, key: string, body: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const items = (body: Record<string, unknown>) =>
        (body.items as Array<{ id: string }>).map((i) => i.id);

      // Before booth's first publish: its routes answer it (no version yet), the others refuse it.
      const denied = await get('/v1/users/u1/recommendations', boothKey);
      expect(denied.status).toBe(403);
      expect(JSON.stringify(denied.body)).toContain('service:default');
      expect((await get('/v1/services/shop/users/u1/recommendations', boothKey)).status).toBe(403);
      expect((await get('/v1/services/shop/items/s1/related', boothKey)).status).toBe(403);

      // A publish into booth changes booth only.
      await publish(url.booth, 'v-booth', ['b1', 'b2', 'b3']);
      const mine = await get('/v1/services/booth/users/u1/recommendations', boothKey);
      expect(mine.status).toBe(200);
      expect(items(mine.body)).toEqual(['b1', 'b2', 'b3']);
      expect(await currentVersion(url.default)).toBe('v-default');
      expect(await currentVersion(url.shop)).toBe('v-shop');
      expect(await currentVersion(url.booth)).toBe('v-booth');
      // A key with no service scope is default's only; service:* reaches all.
      expect(items((await get('/v1/users/u1/recommendations', plainKey)).body)).toEqual([
        'd1',
        'd2',
      ]);
      expect((await get('/v1/services/booth/users/u1/recommendations', plainKey)).status).toBe(403);
      expect(
        items((await get('/v1/services/shop/users/u1/recommendations', everyKey)).body),
      ).toEqual(['s1']);

      // Hidden items are the service's own: hiding b1 and d1 for u1 in booth changes booth's
      // answer only, and booth's key may not hide anything in default.
      const hide = (path: string, key: string) =>
        fetch(`${base}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${key}` } });
      expect((await hide('/v1/services/booth/users/u1/hidden/b1', boothKey)).status).toBeLessThan(
        300,
      );
      expect((await hide('/v1/services/booth/users/u1/hidden/d1', boothKey)).status).toBeLessThan(
        300,
      );
      expect((await hide('/v1/users/u1/hidden/d2', boothKey)).status).toBe(403);
      expect(
        items((await get('/v1/services/booth/users/u1/recommendations', boothKey)).body),
      ).toEqual(['b2', 'b3']);
      expect(items((await get('/v1/users/u1/recommendations', plainKey)).body)).toEqual([
        'd1',
        'd2',
      ]);

      // The services list shows what the key may use, each at its own version.
      const listed = async (key: string) =>
        (
          (await get('/v1/services', key)).body.services as Array<{
            name: string;
            version: string | null;
          }>
        ).map((s) => [s.name, s.version]);
      expect(await listed(boothKey)).toEqual([['booth', 'v-booth']]);
      expect(await listed(plainKey)).toEqual([['default', 'v-default']]);
      expect(await listed(shopBoothKey)).toEqual([
        ['booth', 'v-booth'],
        ['shop', 'v-shop'],
      ]);
      expect(await listed(everyKey)).toEqual([
        ['default', 'v-default'],
        ['booth', 'v-booth'],
        ['shop', 'v-shop'],
      ]);

      // Interactions: booth's key writes booth's log only, and cannot write default's.
      const event = { id: 'e1', user: 'u9', item: 'b1', ts: '2026-12-01T00:00:00Z' };
      expect(
        (await post('/v1/services/booth/interactions', boothKey, { events: [event] })).body,
      ).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      expect((await post('/v1/interactions', boothKey, { events: [event] })).status).toBe(403);
      // The same event id in default is default's own event.
      expect((await post('/v1/interactions', plainKey, { events: [event] })).body).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      expect(
        (await post('/v1/services/shop/interactions', everyKey, { events: [event] })).body,
      ).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      const check = await openMetadata(config.stores.metadata);
      try {
        expect(
          (await check.interactions.forService('booth').list()).map((e) => [e.user, e.item]),
        ).toEqual([['u9', 'b1']]);
        expect(await check.interactions.list()).toHaveLength(1);
        expect(await check.interactions.forService('shop').list()).toHaveLength(1);
      } finally {
        await check.close();
      }
    } finally {
      await role.app.close();
      await role.close();
    }
  });
});

async function openMetadata(url: string): Promise<MetadataStore> {
  const { openMetadataStore } = await import('../src/app/open-stores.js');
  return openMetadataStore(url);
}
