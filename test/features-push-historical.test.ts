// POST /v1/features/push, then the point-in-time join: pushed rows are part of the view's
// offline data (the repository's push log), at their event time, never earlier.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFeatureRepository } from '../src/features/feature-definitions.js';
import type { FeatureRepository } from '../src/features/feature-types.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';
import { SqliteOnlineFeatureStore } from '../src/storage/sqlite-online-feature-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { send } from './fixtures/token-authenticator.js';

const DAY = 86_400;
const T0 = Date.UTC(2026, 10, 1) / 1000; // epoch seconds

let dir = '';
let repo: FeatureRepository;
let app: FastifyInstance;
let base = '';
let online: SqliteOnlineFeatureStore;
const offline = new DuckDBOfflineFeatureStore({ threads: 1 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-push-historical-'));
  await mkdir(join(dir, 'data'));
  await writeFile(
    join(dir, 'features.yaml'),
    [
      'entities:',
      '  user: { joinKey: user_id, type: int64 }',
      '  item: { joinKey: item_id, type: string }',
      'sources:',
      '  user_stats: { path: data/user_stats.csv, timestamp: event_time }',
      '  item_stats: { path: data/item_stats.csv, timestamp: event_time, createdTimestamp: created_at }',
      'featureViews:',
      '  user_stats:',
      '    entities: [user]',
      '    source: user_stats',
      '    ttl: 7d',
      '    features: { clicks: int64, tier: string }',
      '  item_stats:',
      '    entities: [item]',
      '    source: item_stats',
      '    ttl: 0',
      '    features: { score: float64 }',
      '',
    ].join('\n'),
  );
  // The source: user 1 at T0 (clicks 1) and T0 + 2 days (clicks 2).
  await writeFile(
    join(dir, 'data/user_stats.csv'),
    `user_id,event_time,clicks,tier\n1,${T0},1,a\n1,${T0 + 2 * DAY},2,b\n`,
  );
  // With a created time: item i1 at T0 (score 1) and at T0 + 1 day created 100 s later (score 2).
  await writeFile(
    join(dir, 'data/item_stats.csv'),
    `item_id,event_time,created_at,score\ni1,${T0},${T0},1\ni1,${T0 + DAY},${T0 + DAY + 100},2\n`,
  );
  repo = await loadFeatureRepository(dir);
  online = new SqliteOnlineFeatureStore(join(dir, 'online.db'));
  app = createServingApp({
    serving: new MemoryServingStore(),
    webRoot: false,
    features: { repo, online },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app.close();
  await online.close();
  await offline.close();
  await rm(dir, { recursive: true, force: true });
});

describe('pushed rows in point-in-time joins', () => {
  it('sees a pushed row from its event time on, and a push ties over a source row', async () => {
    const pushed = await send(base, 'POST', '/v1/features/push', {
      body: {
        view: 'user_stats',
        rows: [
          // Between the two source rows.
          { user_id: 1, event_time: T0 + DAY, clicks: 10, tier: 'pushed' },
          // The same event time as the second source row: the push is created later and wins.
          {
            user_id: 1,
            event_time: new Date((T0 + 2 * DAY) * 1000).toISOString(),
            clicks: 20,
            tier: 'tie',
          },
          // A user the source does not have.
          { user_id: 2, event_time: T0, clicks: 5, tier: null },
        ],
      },
    });
    expect(pushed).toMatchObject({ status: 200, body: { rows: 3 } });

    const entities = join(dir, 'entities.csv');
    await writeFile(
      entities,
      [
        'user_id,event_time',
        `1,${T0 + DAY - 1}`, // before the push: the first source row
        `1,${T0 + DAY}`, // at the push's event time: the push
        `1,${T0 + 2 * DAY + 5}`, // the tie: the push, not the source's clicks 2
        `2,${T0 + 6 * DAY}`, // the pushed user, within the 7d TTL
        `2,${T0 + 7 * DAY}`, // at exactly the TTL: expired
        '',
      ].join('\n'),
    );
    const output = join(dir, 'train.csv');
    await offline.historical({
      repo,
      entities,
      output,
      features: [
        { view: 'user_stats', feature: 'clicks' },
        { view: 'user_stats', feature: 'tier' },
      ],
    });
    const lines = (await readFile(output, 'utf8')).trimEnd().split('\n');
    expect(lines).toEqual([
      'user_id,event_time,user_stats__clicks,user_stats__tier',
      `1,${T0 + DAY - 1},1,a`,
      `1,${T0 + DAY},10,pushed`,
      `1,${T0 + 2 * DAY + 5},20,tie`,
      `2,${T0 + 6 * DAY},5,`,
      `2,${T0 + 7 * DAY},,`,
    ]);
  });

  it('orders a pushed row by its created time against source rows of the same event time', async () => {
    const at = T0 + DAY;
    const pushed = await send(base, 'POST', '/v1/features/push', {
      body: {
        view: 'item_stats',
        rows: [
          // Created before the source's row of the same event time (T0 + 1 day + 100 s): loses.
          { item_id: 'i1', event_time: at, created_at: at + 50, score: 3 },
          // Created after it: wins, offline and online.
          { item_id: 'i1', event_time: at, created_at: at + 200, score: 4 },
        ],
      },
    });
    expect(pushed).toMatchObject({ status: 200, body: { rows: 2, stored: 2 } });
    const read = await send(base, 'POST', '/v1/features/online', {
      body: { features: ['item_stats:score'], entities: [{ item_id: 'i1' }] },
    });
    expect(read.body.results[0]).toEqual({
      values: [4],
      statuses: ['present'],
      eventTimes: { item_stats: at * 1000 },
    });

    const entities = join(dir, 'items.csv');
    await writeFile(entities, `item_id,event_time\ni1,${at - 1}\ni1,${at}\n`);
    const output = join(dir, 'items-train.csv');
    await offline.historical({
      repo,
      entities,
      output,
      features: [{ view: 'item_stats', feature: 'score' }],
    });
    expect((await readFile(output, 'utf8')).trimEnd().split('\n')).toEqual([
      'item_id,event_time,item_stats__score',
      `i1,${at - 1},1.0`,
      `i1,${at},4.0`,
    ]);
  });
});
