import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureRepository } from './feature-definitions.js';
import type { FeatureRepository } from './feature-types.js';
import { appendPushLog, hasPushLog, pushLogDirectory, pushLogTable } from './push-log.js';

let root = '';
let repo: FeatureRepository;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiban-push-log-'));
  repo = defineFeatureRepository({
    root,
    entities: [
      { name: 'user', joinKey: 'user_id', type: 'string' },
      { name: 'movie', joinKey: 'movie_id', type: 'int64' },
    ],
    sources: [{ name: 's', path: 's.csv', timestamp: 'event_time' }],
    featureViews: [
      {
        name: 'pair',
        entities: ['user', 'movie'],
        source: 's',
        ttl: 0,
        features: {
          n: 'int64',
          x: 'float64',
          ok: 'bool',
          label: 'string',
          seen: 'timestamp',
          small: 'int32',
        },
      },
    ],
  });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('push log', () => {
  it('appends one complete file per push that DuckDB reads back typed', async () => {
    const view = repo.featureViews.get('pair')!;
    expect(await hasPushLog(repo, 'pair')).toBe(false);
    expect(await appendPushLog(repo, view, [], 1)).toBeNull();
    await appendPushLog(
      repo,
      view,
      [
        {
          keys: ['u1', '9007199254740993'],
          eventTime: 1_765_000_000_123.456,
          createdTime: 1_765_000_001_000,
          values: [2 ** 53 + 10, 1.5, true, 'a"b', '2026-12-01T00:00:00.000Z', -7],
        },
      ],
      1_765_000_001_000,
    );
    await appendPushLog(
      repo,
      view,
      [
        {
          keys: ['u2', '3'],
          eventTime: 0,
          createdTime: 5,
          // An int64 beyond 2^53 arrives as its digits (as the online stores keep it).
          values: ['9007199254740993', null, null, null, null, null],
        },
      ],
      1_765_000_002_000,
    );
    const names = await readdir(pushLogDirectory(repo, 'pair'));
    expect(names).toHaveLength(2);
    expect(names.every((n) => /^\d{15}-[0-9a-f-]{36}\.ndjson$/.test(n))).toBe(true);
    expect(await hasPushLog(repo, 'pair')).toBe(true);
    const first = JSON.parse(
      (await readFile(join(pushLogDirectory(repo, 'pair'), names.sort()[0]), 'utf8')).trim(),
    );
    expect(first.__event_time_us).toBe(1_765_000_000_123_456);

    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      const reader = await con.runAndReadAll(
        `SELECT user_id, movie_id, __event_time_us, __created_time_us, n, x, ok, label, CAST(seen AS VARCHAR) AS seen, small FROM ${pushLogTable(repo, view)} ORDER BY user_id`,
      );
      expect(reader.getRowObjects()).toEqual([
        {
          user_id: 'u1',
          movie_id: 9007199254740993n,
          __event_time_us: 1_765_000_000_123_456n,
          __created_time_us: 1_765_000_001_000_000n,
          // Written as the JSON number 2^53 + 10 (exact: it is even), read as BIGINT.
          n: 9007199254741002n,
          x: 1.5,
          ok: true,
          label: 'a"b',
          seen: '2026-12-01 00:00:00',
          small: -7,
        },
        {
          user_id: 'u2',
          movie_id: 3n,
          __event_time_us: 0n,
          __created_time_us: 5000n,
          n: 9007199254740993n,
          x: null,
          ok: null,
          label: null,
          seen: null,
          small: null,
        },
      ]);
    } finally {
      con.closeSync();
      instance.closeSync();
    }
  });
});
