// The dashboard's feature catalogue over the bundled example repository (examples/features),
// materialised for 1996 into a real SQLite file and a real Redis: definitions, freshness from the
// materialisation marks, registry versions and a sample of online values, checked against the
// CSVs read back by hand.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mustRunRedis,
  redisAnswers,
  TEST_REDIS_URL,
} from '../../../test/fixtures/redis-available.js';
import { TokenAuthenticator } from '../../../test/fixtures/token-authenticator.js';
import { openMetadataStore } from '../../app/open-stores.js';
import { loadFeatureRepository } from '../../features/feature-definitions.js';
import type { FeatureRepository } from '../../features/feature-types.js';
import { materialize } from '../../features/materialize.js';
import { DuckDBOfflineFeatureStore } from '../../features/offline-store.js';
import type { OnlineFeatureStore } from '../../features/online-store.js';
import { RedisOnlineFeatureStore } from '../../storage/redis-online-feature-store.js';
import { SqliteOnlineFeatureStore } from '../../storage/sqlite-online-feature-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import { createServingApp } from '../create-app.js';

const REPO = 'examples/features';
const START = Date.UTC(1996, 0, 1);
const END = Date.UTC(1997, 0, 1);

/** Per entity key, its latest row with event time in [START, END), read from a source CSV. */
async function latestRows(
  file: string,
): Promise<Map<string, { eventTime: number; cells: string[] }>> {
  const [header, ...lines] = (await readFile(join(REPO, file), 'utf8')).trim().split('\n');
  expect(header!.split(',')[1]).toBe('event_time');
  const latest = new Map<string, { eventTime: number; cells: string[] }>();
  for (const line of lines) {
    const [key, time, ...cells] = line.split(',');
    const eventTime = Number(time) * 1000;
    if (eventTime < START || eventTime >= END) continue;
    const had = latest.get(key!);
    if (had === undefined || had.eventTime < eventTime) latest.set(key!, { eventTime, cells });
  }
  return latest;
}

const reachable = await redisAnswers(TEST_REDIS_URL);

function describeCatalog(name: string, open: (dir: string) => OnlineFeatureStore, run = true) {
  describe.skipIf(!run)(`feature catalogue on ${name}`, () => {
    let dir: string;
    let repo: FeatureRepository;
    let online: OnlineFeatureStore;
    let metadata: MetadataStore;
    let app: FastifyInstance;
    let users: Awaited<ReturnType<typeof latestRows>>;
    let movies: Awaited<ReturnType<typeof latestRows>>;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kiban-feature-catalog-'));
      repo = await loadFeatureRepository(REPO);
      online = open(dir);
      const offline = new DuckDBOfflineFeatureStore({ threads: 1 });
      try {
        // One window for the year: the marks end at END, newest event time the year's last.
        await materialize({
          repo,
          offline,
          online,
          start: new Date(START),
          end: new Date(END),
          stepMs: END - START,
        });
      } finally {
        await offline.close();
      }
      metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
      await metadata.featureRegistry.apply(repo, { appliedBy: 'test' });
      users = await latestRows('data/user_stats.csv');
      movies = await latestRows('data/movie_stats.csv');
      app = createServingApp({
        serving: new MemoryServingStore(),
        metadata,
        webRoot: false,
        features: { repo, online },
        auth: {
          mode: 'required',
          authenticators: [
            new TokenAuthenticator({ reader: ['features:read'], other: ['recs:read'] }),
          ],
        },
      });
      await app.ready();
    }, 180_000);

    afterAll(async () => {
      await app?.close();
      await online?.clearView('user_stats');
      await online?.clearView('movie_stats');
      await online?.close();
      await metadata?.close();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    const get = async (url: string, token = 'reader') => {
      const res = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
      return { status: res.statusCode, body: res.json() };
    };

    it('needs features:read: 401 anonymous, 403 with other scopes', async () => {
      for (const url of [
        '/v1/features/views',
        '/v1/features/views/user_stats',
        '/v1/features/services',
      ]) {
        expect((await app.inject({ url })).statusCode).toBe(401);
        expect((await get(url, 'other')).status).toBe(403);
      }
    });

    it('lists every view with its definition, services, registry version and freshness', async () => {
      const { status, body } = await get('/v1/features/views');
      expect(status).toBe(200);
      expect(body.registry).toBe(true);
      expect(body.entities.map((e: { joinKey: string }) => e.joinKey)).toEqual([
        'user_id',
        'movie_id',
      ]);
      expect(body.views.map((v: { name: string }) => v.name)).toEqual([
        'user_stats',
        'movie_stats',
      ]);
      const [user, movie] = body.views;
      expect(user).toMatchObject({
        owner: 'recs-team',
        tags: { domain: 'movies', granularity: 'daily' },
        entities: [{ name: 'user', joinKey: 'user_id', type: 'int64' }],
        ttlSeconds: 365 * 86_400,
        source: {
          name: 'user_stats',
          kind: 'file',
          path: 'data/user_stats.csv',
          timestamp: 'event_time',
          createdTimestamp: null,
        },
        services: ['user_activity'],
        registry: { version: 1, current: true },
      });
      expect(user.features).toEqual([
        { name: 'ratings_1d', type: 'int64', description: 'Ratings the user gave that UTC day' },
        { name: 'mean_rating_1d', type: 'float64', description: 'Their mean rating that day' },
        {
          name: 'ratings_total',
          type: 'int64',
          description: 'Ratings the user has given so far',
        },
      ]);
      expect(JSON.stringify(body)).not.toContain(repo.root);
      // Freshness: the newest event time materialised, its age from `now`, stale past the TTL.
      const newestUser = Math.max(...[...users.values()].map((r) => r.eventTime));
      const newestMovie = Math.max(...[...movies.values()].map((r) => r.eventTime));
      const now = Date.parse(body.now);
      expect(user.freshness).toMatchObject({
        newestEventTime: new Date(newestUser).toISOString(),
        materializedFrom: new Date(START).toISOString(),
        materializedUntil: new Date(END).toISOString(),
        stale: true,
      });
      expect(user.freshness.ageSeconds).toBeCloseTo((now - newestUser) / 1000, 3);
      // movie_stats has TTL 0: never stale, however old.
      expect(movie).toMatchObject({
        ttlSeconds: 0,
        services: ['popularity'],
        freshness: { newestEventTime: new Date(newestMovie).toISOString(), stale: false },
      });
    });

    it('shows one view with its services and a sample of online values from the store', async () => {
      const { status, body } = await get('/v1/features/views/movie_stats?limit=4');
      expect(status).toBe(200);
      expect(body.view.name).toBe('movie_stats');
      expect(body.services).toEqual([
        {
          name: 'popularity',
          owner: 'recs-team',
          description: null,
          features: ['movie_stats:ratings_total', 'movie_stats:mean_rating'],
          views: ['movie_stats'],
        },
      ]);
      expect(body.sample.keysFrom).toBe('store');
      expect(body.sample.features).toEqual(['ratings_total', 'mean_rating']);
      expect(body.sample.rows).toHaveLength(Math.min(4, movies.size));
      const seen = new Set<string>();
      for (const row of body.sample.rows) {
        const key = row.entity.movie_id as string;
        seen.add(key);
        const expected = movies.get(key);
        expect(expected, `movie ${key} has a row in 1996`).toBeDefined();
        // TTL 0: present, the latest values of the window.
        expect(row.statuses).toEqual(['present', 'present']);
        expect(row.values).toEqual(expected!.cells.map(Number));
        expect(row.eventTimes).toEqual([
          new Date(expected!.eventTime).toISOString(),
          new Date(expected!.eventTime).toISOString(),
        ]);
      }
      expect(seen.size).toBe(body.sample.rows.length);
    });

    it('marks values expired past the TTL and missing where the store has no row', async () => {
      const [known] = [...users.keys()];
      const { status, body } = await get(`/v1/features/views/user_stats?keys=${known},999999999`);
      expect(status).toBe(200);
      expect(body.sample.keysFrom).toBe('request');
      expect(body.sample.rows.map((r: { entity: unknown }) => r.entity)).toEqual([
        { user_id: known },
        { user_id: '999999999' },
      ]);
      const [old, none] = body.sample.rows;
      // 1996 rows against a 365-day TTL: expired, value withheld, event time kept.
      expect(old.statuses).toEqual(['expired', 'expired', 'expired']);
      expect(old.values).toEqual([null, null, null]);
      expect(old.eventTimes[0]).toBe(new Date(users.get(known!)!.eventTime).toISOString());
      expect(none).toEqual({
        entity: { user_id: '999999999' },
        values: [null, null, null],
        statuses: ['missing', 'missing', 'missing'],
        eventTimes: [null, null, null],
      });
      // Without keys the store's keys are sampled: users of 1996, all expired.
      const sampled = await get('/v1/features/views/user_stats');
      expect(sampled.body.sample.rows).toHaveLength(Math.min(10, users.size));
      for (const row of sampled.body.sample.rows) {
        expect(users.has(row.entity.user_id)).toBe(true);
        expect(row.statuses).toEqual(['expired', 'expired', 'expired']);
      }
    });

    it('answers 404 for an unknown view and 400 naming a bad key or limit', async () => {
      const missing = await get('/v1/features/views/nope');
      expect(missing.status).toBe(404);
      expect(missing.body.message).toContain('"nope"');
      const bad = await get('/v1/features/views/user_stats?keys=abc');
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain('querystring.keys[0].user_id');
      const composite = await get('/v1/features/views/user_stats?keys=1|2');
      expect(composite.status).toBe(400);
      expect(composite.body.message).toContain('querystring.keys[0]');
      expect((await get('/v1/features/views/user_stats?limit=0')).status).toBe(400);
      expect((await get('/v1/features/views/user_stats?limit=1&keys=1,2')).status).toBe(400);
    });

    it('lists the feature services', async () => {
      const { status, body } = await get('/v1/features/services');
      expect(status).toBe(200);
      expect(body.services.map((s: { name: string }) => s.name)).toEqual([
        'user_activity',
        'popularity',
      ]);
      expect(body.services[0]).toEqual({
        name: 'user_activity',
        owner: 'recs-team',
        description: "What the ranking model knows of a user's activity",
        features: [
          'user_stats:ratings_1d',
          'user_stats:mean_rating_1d',
          'user_stats:ratings_total',
        ],
        views: ['user_stats'],
      });
    });
  });
}

describeCatalog('SQLite', (dir) => new SqliteOnlineFeatureStore(join(dir, 'features.db')));
describeCatalog(
  'Redis',
  () => new RedisOnlineFeatureStore(TEST_REDIS_URL, { prefix: `kiban-test-${randomUUID()}:` }),
  mustRunRedis(reachable),
);
