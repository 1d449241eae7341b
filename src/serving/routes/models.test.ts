import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../../test/fixtures/temp-dir.js';
import { ApiKeyAuthenticator } from '../../auth/api-key-authenticator.js';
import { createApiKey } from '../../auth/api-keys.js';
import { KyselyMetadataStore } from '../../storage/kysely-metadata-store.js';
import { SqliteServingStore } from '../../storage/sqlite-serving-store.js';
import { createServingApp } from '../create-app.js';

describe('model history and rollback over HTTP', () => {
  const tmp = useTempDir('kiban-models-routes-');
  const pepper = 'p'.repeat(32);
  let serving: SqliteServingStore;
  let metadata: KyselyMetadataStore;
  let app: FastifyInstance;
  let base: string;
  const keys = { admin: '', reader: '', recs: '' };

  const call = async (
    method: 'GET' | 'POST',
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  };

  beforeAll(async () => {
    serving = new SqliteServingStore(`${tmp.path}/serving.db`);
    metadata = KyselyMetadataStore.sqlite(`${tmp.path}/meta.db`);
    await metadata.migrate();
    for (const [version, item] of [
      ['v1', 'old'],
      ['v2', 'new'],
    ] as const) {
      const writer = await serving.beginVersion(version, {
        modelId: `m-${version}`,
        kind: 'als',
        metrics: { 'ndcg@10': version === 'v1' ? 0.3 : 0.2 },
      });
      await writer.putLists('user', [['u1', [{ id: item, score: 1 }]]]);
      await writer.putLists('popular', [['all', [{ id: `${item}-popular`, score: 1 }]]]);
      await writer.commit();
    }
    for (const [name, scopes] of [
      ['admin', ['admin']],
      ['reader', ['models:read']],
      ['recs', ['recs:read']],
    ] as const) {
      keys[name] = (
        await createApiKey(metadata.apiKeys, pepper, {
          name,
          scopes: [...scopes],
          createdBy: 'test',
        })
      ).key;
    }
    app = createServingApp({
      serving,
      metadata,
      webRoot: false,
      auth: {
        mode: 'required',
        authenticators: [new ApiKeyAuthenticator({ store: metadata.apiKeys, pepper })],
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await metadata?.close();
    await serving?.close();
  });

  it('lists the versions held, newest first, the current one marked', async () => {
    const listed = await call('GET', '/v1/models/versions', keys.reader);
    expect(listed.status).toBe(200);
    expect(
      listed.body.versions.map((v: any) => [v.version, v.current, v.meta.modelId, v.meta.kind]),
    ).toEqual([
      ['v2', true, 'm-v2', 'als'],
      ['v1', false, 'm-v1', 'als'],
    ]);
    expect(typeof listed.body.versions[0].publishedAt).toBe('string');
    expect((await call('GET', '/v1/models/versions', keys.recs)).status).toBe(403);
  });

  it('rolls back with an admin key (and only with one), and every later request reads it', async () => {
    const refused = await call('POST', '/v1/models/rollback', keys.reader, { version: 'v1' });
    expect(refused.status).toBe(403);
    expect((await call('GET', '/v1/models', keys.reader)).body.version).toBe('v2');

    const done = await call('POST', '/v1/models/rollback', keys.admin, { version: 'v1' });
    expect(done).toEqual({ status: 200, body: { from: 'v2', to: 'v1' } });
    expect((await call('GET', '/v1/models', keys.reader)).body.version).toBe('v1');
    const recs = await call('GET', '/v1/users/u1/recommendations', keys.recs);
    expect(recs.status).toBe(200);
    // The user's list of v1 comes first (whatever the answer pads it with comes from v1 too).
    expect(recs.body.items.map((i: { id: string }) => i.id)).not.toContain('new');
    expect(recs.body.items[0].id).toBe('old');
    const listed = await call('GET', '/v1/models/versions', keys.reader);
    expect(listed.body.versions.map((v: any) => [v.version, v.current])).toEqual([
      ['v2', false],
      ['v1', true],
    ]);

    // Forward again.
    expect((await call('POST', '/v1/models/rollback', keys.admin, { version: 'v2' })).body).toEqual(
      { from: 'v1', to: 'v2' },
    );
    expect((await call('GET', '/v1/models', keys.reader)).body.version).toBe('v2');
  });

  it('answers 404 naming an unknown version, 400 for a malformed one', async () => {
    const unknown = await call('POST', '/v1/models/rollback', keys.admin, { version: 'v9' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    expect(unknown.body.message).toContain('v9');
    const malformed = await call('POST', '/v1/models/rollback', keys.admin, { version: 'a b' });
    expect(malformed.status).toBe(400);
    expect((await call('POST', '/v1/models/rollback', keys.admin, {})).status).toBe(400);
    expect((await call('GET', '/v1/models', keys.reader)).body.version).toBe('v2');
  });
});
