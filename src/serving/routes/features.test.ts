import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mustRunRedis,
  redisAnswers,
  TEST_REDIS_URL,
} from '../../../test/fixtures/redis-available.js';
import { send, TokenAuthenticator } from '../../../test/fixtures/token-authenticator.js';
import { loadFeatureRepository } from '../../features/feature-definitions.js';
import type { FeatureRepository } from '../../features/feature-types.js';
import { MemoryOnlineFeatureStore } from '../../storage/memory-online-feature-store.js';
import type { OnlineFeatureStore } from '../../features/online-store.js';
import { pushLogDirectory } from '../../features/push-log.js';
import { RedisOnlineFeatureStore } from '../../storage/redis-online-feature-store.js';
import { SqliteOnlineFeatureStore } from '../../storage/sqlite-online-feature-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { createServingApp } from '../create-app.js';
import { onlineFeaturesJson } from './features.js';

const REPO_YAML = `
entities:
  user: { joinKey: user_id, type: string }
  movie: { joinKey: movie_id, type: int64 }
sources:
  user_stats: { path: data/user_stats.csv, timestamp: event_time }
  movie_stats: { path: data/movie_stats.csv, timestamp: event_time }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 1h
    features: { clicks_7d: int64, spend_7d: float64 }
  movie_stats:
    entities: [movie]
    source: movie_stats
    ttl: 0
    features: { views: int64, genre: string, family: bool, released: timestamp }
featureServices:
  ranker:
    features: [movie_stats:views, user_stats:clicks_7d]
`;

const T0 = Date.UTC(2026, 11, 1);

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiban-feature-routes-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh repository directory (its own push log) with one source row per view. */
async function makeRepo(): Promise<FeatureRepository> {
  const dir = join(root, randomUUID());
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'features.yaml'), REPO_YAML);
  await writeFile(
    join(dir, 'data/user_stats.csv'),
    `user_id,event_time,clicks_7d,spend_7d\nu1,${T0 / 1000},1,0.5\n`,
  );
  await writeFile(
    join(dir, 'data/movie_stats.csv'),
    `movie_id,event_time,views,genre,family,released\n10,${T0 / 1000},100,drama,false,2001-01-01T00:00:00Z\n`,
  );
  return loadFeatureRepository(dir);
}

interface Harness {
  app: FastifyInstance;
  base: string;
  repo: FeatureRepository;
}

async function start(online: OnlineFeatureStore): Promise<Harness> {
  const repo = await makeRepo();
  const app = createServingApp({
    serving: new MemoryServingStore(),
    webRoot: false,
    features: { repo, online },
    auth: {
      mode: 'required',
      authenticators: [
        new TokenAuthenticator({
          reader: ['features:read'],
          writer: ['features:write'],
          both: ['features:read', 'features:write'],
          other: ['recs:read'],
        }),
      ],
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, repo };
}

function describeFeatureRoutes(name: string, open: () => Promise<OnlineFeatureStore>): void {
  describe(`feature routes on ${name}`, () => {
    let h: Harness;
    let store: OnlineFeatureStore;
    beforeAll(async () => {
      store = await open();
      h = await start(store);
    });
    afterAll(async () => {
      await h.app.close();
      await store.close();
    });

    it('refuses a caller without the scope: 401 anonymous, 403 with other scopes', async () => {
      const body = { featureService: 'ranker', entities: [{ user_id: 'u1', movie_id: 10 }] };
      expect((await send(h.base, 'POST', '/v1/features/online', { body })).status).toBe(401);
      expect(
        (await send(h.base, 'POST', '/v1/features/online', { body, token: 'other' })).status,
      ).toBe(403);
      expect(
        (await send(h.base, 'POST', '/v1/features/online', { body, token: 'writer' })).status,
      ).toBe(403);
      const push = { view: 'user_stats', rows: [] };
      expect(
        (await send(h.base, 'POST', '/v1/features/push', { body: push, token: 'reader' })).status,
      ).toBe(403);
    });

    it('pushes rows, then answers them in request order with statuses, as JSON and msgpack', async () => {
      const now = Date.now();
      const pushed = await send(h.base, 'POST', '/v1/features/push', {
        token: 'writer',
        body: {
          view: 'user_stats',
          rows: [
            { user_id: 'u1', event_time: new Date(now).toISOString(), clicks_7d: 7, spend_7d: 2.5 },
            // Epoch seconds, and two hours old: expired under the 1h TTL.
            {
              user_id: 'u2',
              event_time: (now - 2 * 3_600_000) / 1000,
              clicks_7d: 4,
              spend_7d: null,
            },
          ],
        },
      });
      expect(pushed).toMatchObject({
        status: 200,
        body: { view: 'user_stats', rows: 2, stored: 2 },
      });
      const movie = await send(h.base, 'POST', '/v1/features/push', {
        token: 'both',
        body: {
          view: 'movie_stats',
          rows: [
            {
              movie_id: '10',
              event_time: '2026-12-02T00:00:00Z',
              views: 120,
              genre: 'drama',
              family: true,
              released: 978307200,
            },
          ],
        },
      });
      expect(movie.status).toBe(200);

      const body = {
        features: ['user_stats:spend_7d', 'movie_stats:released', 'user_stats:clicks_7d'],
        entities: [
          { user_id: 'u2', movie_id: 10 },
          { user_id: 'u1', movie_id: 11 },
        ],
      };
      const expected = {
        features: body.features,
        results: [
          {
            values: [null, '2001-01-01T00:00:00.000Z', null],
            statuses: ['expired', 'present', 'expired'],
            eventTimes: { user_stats: now - 2 * 3_600_000, movie_stats: Date.UTC(2026, 11, 2) },
          },
          {
            values: [2.5, null, 7],
            statuses: ['present', 'missing', 'present'],
            eventTimes: { user_stats: now, movie_stats: null },
          },
        ],
      };
      const json = await send(h.base, 'POST', '/v1/features/online', { token: 'reader', body });
      expect(json.status).toBe(200);
      expect(json.headers.get('content-type')).toMatch(/^application\/json/);
      expect(json.body).toEqual(expected);

      const binary = await fetch(`${h.base}/v1/features/online`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer reader',
          'content-type': 'application/json',
          accept: 'application/x-msgpack',
        },
        body: JSON.stringify(body),
      });
      expect(binary.status).toBe(200);
      expect(binary.headers.get('content-type')).toBe('application/x-msgpack');
      expect(unpack(Buffer.from(await binary.arrayBuffer()))).toEqual(expected);
    });

    it('keeps the newest row: an older push does not replace a newer one', async () => {
      const push = (at: string, clicks: number) =>
        send(h.base, 'POST', '/v1/features/push', {
          token: 'writer',
          body: {
            view: 'user_stats',
            rows: [{ user_id: 'u9', event_time: at, clicks_7d: clicks, spend_7d: 0 }],
          },
        });
      const now = Date.now();
      expect((await push(new Date(now).toISOString(), 2)).body.stored).toBe(1);
      expect((await push(new Date(now - 60_000).toISOString(), 1)).body.stored).toBe(0);
      const read = await send(h.base, 'POST', '/v1/features/online', {
        token: 'reader',
        body: { features: ['user_stats:clicks_7d'], entities: [{ user_id: 'u9' }] },
      });
      expect(read.body.results[0].values).toEqual([2]);
      // Both pushes are in the offline log all the same: a point-in-time join needs the older one.
      const files = (await readdir(pushLogDirectory(h.repo, 'user_stats'))).filter((f) =>
        f.endsWith('.ndjson'),
      );
      const lines = (
        await Promise.all(
          files.map((f) => readFile(join(pushLogDirectory(h.repo, 'user_stats'), f), 'utf8')),
        )
      )
        .join('')
        .split('\n')
        .filter((l) => l.includes('"u9"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.clicks_7d).sort()).toEqual([1, 2]);
      expect(lines.find((l) => l.clicks_7d === 1)?.__event_time_us).toBe((now - 60_000) * 1000);
    });

    it('answers 400 naming the field, and writes nothing of a bad push', async () => {
      const online = async (body: unknown) =>
        send(h.base, 'POST', '/v1/features/online', { token: 'reader', body });
      const bad: [unknown, RegExp][] = [
        [
          { features: ['user_stats:nope'], entities: [{ user_id: 'u1' }] },
          /^body\.features\[0\]: view "user_stats" has no feature "nope"/,
        ],
        [
          { features: ['nope:x'], entities: [{ user_id: 'u1' }] },
          /^body\.features\[0\]: no feature view "nope"/,
        ],
        [
          { features: ['user_stats'], entities: [{ user_id: 'u1' }] },
          /^body\.features\[0\]: "user_stats" is not view:feature/,
        ],
        [
          { featureService: 'nope', entities: [{ user_id: 'u1' }] },
          /^body\.featureService: no feature service "nope"/,
        ],
        [{ entities: [{ user_id: 'u1' }] }, /^body\.features: give either/],
        [
          { featureService: 'ranker', entities: [{ user_id: 'u1' }] },
          /^body\.entities\[0\]\.movie_id: is missing/,
        ],
        [
          { features: ['user_stats:clicks_7d'], entities: [{ user_id: 1 }] },
          /^body\.entities\[0\]\.user_id: must be a string/,
        ],
        [{ features: ['user_stats:clicks_7d'], entities: [] }, /body parameter entities/],
        [
          {
            features: Array.from({ length: 300 }, (_, i) => `user_stats:f${i}`),
            entities: Array.from({ length: 1000 }, () => ({ user_id: 'u1' })),
          },
          /^body\.entities: 1000 entities × 300 features is over 250000 values/,
        ],
      ];
      for (const [body, message] of bad) {
        const answer = await online(body);
        expect(answer.status, JSON.stringify(body)).toBe(400);
        expect(answer.body.code).toBe('INVALID_ARGUMENT');
        expect(answer.body.message).toMatch(message);
      }

      const push = async (rows: unknown[], view = 'user_stats') =>
        send(h.base, 'POST', '/v1/features/push', { token: 'writer', body: { view, rows } });
      const ok = { user_id: 'u5', event_time: '2026-12-01T00:00:00Z', clicks_7d: 1, spend_7d: 1 };
      const badPushes: [unknown[], RegExp, string?][] = [
        [
          [ok, { ...ok, clicks_7d: 1.5 }],
          /^body\.rows\[1\]\.clicks_7d: must be an integer \(int64\)/,
        ],
        [[ok, { ...ok, spend_7d: 'x' }], /^body\.rows\[1\]\.spend_7d: must be a finite number/],
        [
          [{ ...ok, event_time: 'yesterday' }],
          /^body\.rows\[0\]\.event_time: must be an ISO-8601 time or epoch seconds/,
        ],
        [[{ ...ok, user_id: 5 }], /^body\.rows\[0\]\.user_id: must be a string/],
        [
          [{ user_id: 'u5', event_time: 1, clicks_7d: 1 }],
          /^body\.rows\[0\]\.spend_7d: is missing/,
        ],
        [
          [{ ...ok, clicks7d: 1 }],
          /^body\.rows\[0\]\.clicks7d: view "user_stats" has no such column/,
        ],
        [[ok], /^body\.view: no feature view "nope"/, 'nope'],
        [
          [{ movie_id: 1, event_time: 1, views: 1, genre: 'x', family: 'yes', released: null }],
          /^body\.rows\[0\]\.family: must be true or false/,
          'movie_stats',
        ],
      ];
      for (const [rows, message, view] of badPushes) {
        const answer = await push(rows, view);
        expect(answer.status, JSON.stringify(rows)).toBe(400);
        expect(answer.body.message).toMatch(message);
      }
      // The good first rows of the refused pushes were not written anywhere.
      const read = await online({
        features: ['user_stats:clicks_7d'],
        entities: [{ user_id: 'u5' }],
      });
      expect(read.body.results[0].statuses).toEqual(['missing']);
      const logged = await readdir(pushLogDirectory(h.repo, 'user_stats')).catch(() => []);
      const texts = await Promise.all(
        logged.map((f) => readFile(join(pushLogDirectory(h.repo, 'user_stats'), f), 'utf8')),
      );
      expect(texts.join('')).not.toContain('"u5"');
    });
  });
}

describeFeatureRoutes('memory', async () => new MemoryOnlineFeatureStore());
describeFeatureRoutes(
  'sqlite',
  async () => new SqliteOnlineFeatureStore(join(root, `${randomUUID()}.db`)),
);

const reachable = await redisAnswers(TEST_REDIS_URL);
const prefix = `kiban-test:${randomUUID()}:`;
if (mustRunRedis(reachable)) {
  it(`reaches Redis at ${TEST_REDIS_URL}`, () => {
    expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
  });
  describeFeatureRoutes(
    'redis',
    async () => new RedisOnlineFeatureStore(TEST_REDIS_URL, { prefix }),
  );
  afterAll(async () => {
    const raw = new Redis(TEST_REDIS_URL);
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.unlink(...keys);
    await raw.quit();
  });
} else {
  console.warn(
    `[features.test] Redis at ${TEST_REDIS_URL} is unreachable and CI is not set: skipping the Redis suite.`,
  );
  describe.skip('feature routes on redis (Redis unreachable)', () => {
    it('needs Redis', () => undefined);
  });
}

describe('onlineFeaturesJson', () => {
  it('writes what JSON.stringify writes, whatever the statuses and event times', () => {
    const features = Object.freeze(['a:x', 'a:y', 'b:"q"']);
    const cases = [
      { features, results: [] },
      {
        features,
        results: [
          {
            values: [1, 'two', true],
            statuses: ['present', 'present', 'present'],
            eventTimes: { a: 5, b: 5 },
          },
          {
            values: [null, null, 0.5],
            statuses: ['missing', 'expired', 'present'],
            eventTimes: { a: 3, b: null },
          },
          {
            values: [1.25, null, null],
            statuses: ['present', 'present', 'missing'],
            eventTimes: { a: 7, b: null },
          },
        ],
      },
      {
        features: ['z:z'],
        results: [{ values: ['é\n"'], statuses: ['present'], eventTimes: { z: -1 } }],
      },
    ] as const;
    for (const result of cases)
      expect(onlineFeaturesJson(result as never)).toBe(JSON.stringify(result));
    // Twice: the second answer comes from the cached parts.
    expect(onlineFeaturesJson(cases[1] as never)).toBe(JSON.stringify(cases[1]));
  });
});
