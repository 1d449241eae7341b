/**
 * The recommendation API's depth (issue 22) over HTTP, on real stores: Redis and SQLite serving
 * stores with their user state stores (`openUserStateStore`), interactions in SQLite.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openUserStateStore } from '../src/app/open-user-state-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import {
  CATEGORY_POPULAR_LIST,
  ITEM_CATEGORIES_LIST,
  POPULAR_LIST,
  RELATED_LIST,
  RETIRED_LIST,
  USER_HISTORY_LIST,
  USER_LIST,
} from '../src/storage/serving-lists.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { RedisServingStore } from '../src/storage/redis-serving-store.js';
import type { ScoredItem, ServingStore } from '../src/storage/serving-store.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';
import type { UserStateStore } from '../src/storage/user-state-store.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';

const scored = (...ids: string[]): ScoredItem[] =>
  ids.map((id, r) => ({ id, score: Number((1 - r / 10).toFixed(2)) }));

/** Publishes `version`: u1's list, related lists, popular, the catalogue and histories. */
async function publish(store: ServingStore, version: string, retired: string[]): Promise<void> {
  const w = await store.beginVersion(version, { modelId: 'm', kind: 'item-knn' });
  await w.putLists(USER_LIST, [
    ['u1', scored('i1', 'i2', 'i3', 'i4', 'i5', 'i6')],
    ['short', scored('i4')],
  ]);
  await w.putLists(RELATED_LIST, [
    [
      'i1',
      [
        { id: 'i7', score: 0.9 },
        { id: 'i8', score: 0.5 },
      ],
    ],
    [
      'i9',
      [
        { id: 'i10', score: 0.8 },
        { id: 'i7', score: 0.3 },
      ],
    ],
    ['i20', [{ id: 'i3', score: 0.6 }]],
  ]);
  await w.putLists(POPULAR_LIST, [
    [
      'all',
      [
        { id: 'i10', score: 100 },
        { id: 'i11', score: 90 },
        { id: 'i1', score: 80 },
        { id: 'i12', score: 70 },
        { id: 'i7', score: 60 },
        { id: 'i13', score: 50 },
      ],
    ],
  ]);
  await w.putLists(CATEGORY_POPULAR_LIST, [
    ['drama', scored('i3', 'i11', 'i12', 'i7')],
    ['comedy', scored('i1', 'i13')],
  ]);
  await w.putLists(ITEM_CATEGORIES_LIST, [['i3', [{ id: 'drama', score: 1 }]]]);
  await w.putLists(RETIRED_LIST, [['all', retired.map((id) => ({ id, score: 0 }))]]);
  await w.putLists(USER_HISTORY_LIST, [
    ['u1', scored('i9', 'i20')],
    ['short', scored('i1')],
  ]);
  await w.commit();
}

interface Backend {
  serving: ServingStore;
  servingUrl: string;
  dispose(): Promise<void>;
}

function describeApi(name: string, open: () => Promise<Backend>): void {
  describe(`recommendation API depth: ${name}`, () => {
    let backend: Backend;
    let userState: UserStateStore;
    let metadata: KyselyMetadataStore;
    let app: FastifyInstance;
    const ids = (body: { items: { id: string }[] }) => body.items.map((i) => i.id);
    const get = async (url: string) => {
      const res = await app.inject({ method: 'GET', url });
      return { status: res.statusCode, body: res.json() };
    };
    const send = async (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
      const res = await app.inject({
        method,
        url,
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      return { status: res.statusCode, body: res.body === '' ? null : res.json() };
    };
    // The user-state routes of the default service (createServingApp's userState and interactions).
    const STATE = '/v1';

    beforeAll(async () => {
      backend = await open();
      userState = await openUserStateStore(backend.servingUrl);
      metadata = KyselyMetadataStore.sqlite(':memory:');
      await metadata.migrate();
      await publish(backend.serving, 'v1', ['i2']);
      app = createServingApp({
        serving: backend.serving,
        userState,
        interactions: metadata.interactions,
      });
      await app.ready();
    });
    afterAll(async () => {
      await app?.close();
      await userState?.close();
      await metadata?.close();
      await backend?.dispose();
    });

    it('serves the personal list with its source, never a retired item', async () => {
      const { status, body } = await get('/v1/users/u1/recommendations?k=3');
      expect(status).toBe(200);
      expect(body).toEqual({
        user: 'u1',
        items: [
          { id: 'i1', score: 1, source: 'personal' },
          { id: 'i3', score: 0.8, source: 'personal' },
          { id: 'i4', score: 0.7, source: 'personal' },
        ],
        fallback: false,
      });
      expect(ids((await get('/v1/items/i9/related?k=5')).body)).toEqual(['i10', 'i7']);
    });

    it('leaves out ?exclude ids, comma-separated or repeated', async () => {
      expect(ids((await get('/v1/users/u1/recommendations?k=3&exclude=i1,i3')).body)).toEqual([
        'i4',
        'i5',
        'i6',
      ]);
      expect(
        ids((await get('/v1/users/u1/recommendations?k=2&exclude=i1&exclude=i4')).body),
      ).toEqual(['i3', 'i5']);
      expect(ids((await get('/v1/items/i9/related?exclude=i10')).body)).toEqual(['i7']);
    });

    it('keeps to ?category, filling from related-to-recent and category-popular', async () => {
      const { body } = await get('/v1/users/u1/recommendations?k=4&category=drama');
      expect(body.items.map((i: { id: string; source: string }) => [i.id, i.source])).toEqual([
        ['i3', 'personal'],
        ['i7', 'related-to-recent'],
        ['i11', 'category-popular'],
        ['i12', 'category-popular'],
      ]);
      expect(body.fallback).toBe(false);
      expect((await get('/v1/users/u1/recommendations?category=unknown')).body.items).toEqual([]);
    });

    it('pages through one stable sequence: page 1 + page 2 = the first 2k, no duplicates', async () => {
      const all = ids((await get('/v1/users/u1/recommendations?k=8')).body);
      // i2 retired; then the history's related items, then popular (history and taken items left out).
      expect(all).toEqual(['i1', 'i3', 'i4', 'i5', 'i6', 'i10', 'i7', 'i11']);
      const page1 = ids((await get('/v1/users/u1/recommendations?k=4')).body);
      const page2 = ids((await get('/v1/users/u1/recommendations?k=4&offset=4')).body);
      expect([...page1, ...page2]).toEqual(all);
      expect(new Set([...page1, ...page2]).size).toBe(8);
      expect(ids((await get('/v1/users/u1/recommendations?k=8')).body)).toEqual(all);
    });

    it('reports the fallback sources per item', async () => {
      const cold = await get('/v1/users/nobody/recommendations?k=3');
      expect(cold.body).toEqual({
        user: 'nobody',
        items: [
          { id: 'i10', score: 100, source: 'popular' },
          { id: 'i11', score: 90, source: 'popular' },
          { id: 'i1', score: 80, source: 'popular' },
        ],
        fallback: true,
      });
      const short = await get('/v1/users/short/recommendations?k=4');
      expect(short.body.items.map((i: { id: string; source: string }) => [i.id, i.source])).toEqual(
        [
          ['i4', 'personal'],
          ['i7', 'related-to-recent'],
          ['i8', 'related-to-recent'],
          ['i10', 'popular'],
        ],
      );
      expect(short.body.fallback).toBe(false);
    });

    it("explains items with the user's history items behind them", async () => {
      const { body } = await get('/v1/users/u1/recommendations?k=7&explain=true');
      const why = Object.fromEntries(
        body.items.map((i: { id: string; explain: { reasons: unknown[] } }) => [
          i.id,
          i.explain.reasons,
        ]),
      );
      expect(why.i3).toEqual([{ item: 'i20', score: 0.6 }]);
      expect(why.i10).toEqual([{ item: 'i9', score: 0.8 }]);
      expect(why.i7).toEqual([{ item: 'i9', score: 0.3 }]);
      expect(why.i1).toEqual([]);
      const history = new Set(['i9', 'i20']);
      for (const reasons of Object.values(why) as { item: string }[][])
        for (const r of reasons) expect(history.has(r.item)).toBe(true);
      expect((await get('/v1/users/u1/recommendations?k=2')).body.items[0].explain).toBeUndefined();
    });

    it('recommends for a session from its recent items, leaving them out', async () => {
      const res = await send('POST', '/v1/recommendations', { items: ['i1', 'i9'], k: 3 });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        items: [
          { id: 'i7', score: 1.2, source: 'related-to-recent' },
          { id: 'i10', score: 0.8, source: 'related-to-recent' },
          { id: 'i8', score: 0.5, source: 'related-to-recent' },
        ],
        fallback: false,
      });
      const more = await send('POST', '/v1/recommendations', {
        items: ['i1', 'i9'],
        k: 3,
        exclude: ['i10'],
        explain: true,
      });
      expect(more.body.items.map((i: { id: string; source: string }) => [i.id, i.source])).toEqual([
        ['i7', 'related-to-recent'],
        ['i8', 'related-to-recent'],
        ['i11', 'popular'],
      ]);
      expect(more.body.items[0].explain.reasons).toEqual([
        { item: 'i1', score: 0.9 },
        { item: 'i9', score: 0.3 },
      ]);
      const cold = await send('POST', '/v1/recommendations', { items: ['unknown'], k: 1 });
      expect(cold.body).toEqual({
        items: [{ id: 'i10', score: 100, source: 'popular' }],
        fallback: true,
      });
    });

    it('hides an item until it is shown again (PUT/DELETE)', async () => {
      expect((await send('PUT', `${STATE}/users/u1/hidden/i1`)).status).toBe(204);
      expect((await send('PUT', `${STATE}/users/u1/hidden/i1`)).status).toBe(204);
      expect(ids((await get(`${STATE}/users/u1/recommendations?k=2`)).body)).toEqual(['i3', 'i4']);
      expect((await get(`${STATE}/users/u1/hidden`)).body).toEqual({ user: 'u1', items: ['i1'] });
      expect((await send('DELETE', `${STATE}/users/u1/hidden/i1`)).status).toBe(204);
      expect(ids((await get(`${STATE}/users/u1/recommendations?k=2`)).body)).toEqual(['i1', 'i3']);
    });

    it('writes events back: stored for the next batch and left out at once', async () => {
      const res = await send('POST', `${STATE}/users/u2/events`, {
        events: [
          { item: 'i10', type: 'click', ts: '2026-12-01T00:00:00Z' },
          { item: 'i11', type: 'purchase', id: 'evt-1' },
        ],
      });
      expect(res).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, seen: 2 } });
      const stored = await metadata.interactions.forUser('u2');
      expect(stored.map((e) => [e.item, e.weight])).toEqual([
        ['i10', 1],
        ['i11', 3],
      ]);
      // u2 has no list: popular, without what they just saw; the seen items seed related-to-recent.
      const recs = await get(`${STATE}/users/u2/recommendations?k=3`);
      expect(ids(recs.body)).not.toContain('i10');
      expect(ids(recs.body)).not.toContain('i11');
      const again = await send('POST', `${STATE}/users/u2/events`, {
        events: [{ item: 'i11', type: 'purchase', id: 'evt-1' }],
      });
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
    });

    it('answers bad requests with a 400 naming the field', async () => {
      const badType = await send('POST', `${STATE}/users/u2/events`, {
        events: [{ item: 'i1', type: 'stare' }],
      });
      expect(badType.status).toBe(400);
      expect(badType.body.message).toMatch(/events\/0\/type|events\[0\]\.type/);
      const badTs = await send('POST', `${STATE}/users/u2/events`, {
        events: [{ item: 'i1', type: 'view', ts: 'yesterday' }],
      });
      expect(badTs.status).toBe(400);
      expect(badTs.body.message).toContain('body.events[0].ts');
      const badOffset = await get('/v1/users/u1/recommendations?offset=-1');
      expect(badOffset.status).toBe(400);
      expect(badOffset.body.message).toMatch(/offset/);
      const badSession = await send('POST', '/v1/recommendations', { items: [] });
      expect(badSession.status).toBe(400);
      expect(badSession.body.message).toMatch(/items/);
    });

    it('follows a new version: its retired set applies at once', async () => {
      await publish(backend.serving, 'v2', ['i1', 'i2']);
      expect(ids((await get('/v1/users/u1/recommendations?k=2')).body)).toEqual(['i3', 'i4']);
      expect(ids((await get('/v1/users/nobody/recommendations?k=2')).body)).toEqual(['i10', 'i11']);
    });
  });
}

describeApi('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-recs-api-'));
  const path = join(dir, 'serving.db');
  const serving = new SqliteServingStore(path);
  return {
    serving,
    servingUrl: `sqlite:${path}`,
    async dispose() {
      await serving.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const reachable = await redisAnswers(TEST_REDIS_URL);
if (mustRunRedis(reachable)) {
  it(`reaches Redis at ${TEST_REDIS_URL}`, () => {
    expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
  });
  describeApi('redis', async () => {
    const prefix = `kiban-test-recs-${randomUUID()}:`;
    const serving = new RedisServingStore(TEST_REDIS_URL, { prefix });
    return {
      serving,
      servingUrl: `${TEST_REDIS_URL}?prefix=${encodeURIComponent(prefix)}`,
      async dispose() {
        await serving.close();
        const raw = new Redis(TEST_REDIS_URL);
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.unlink(...keys);
        raw.disconnect();
      },
    };
  });
}
