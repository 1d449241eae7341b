import { describe, expect, it } from 'vitest';
import { defineFeatureRepository } from '../features/feature-definitions.js';
import { MemoryOnlineFeatureStore } from '../storage/memory-online-feature-store.js';
import {
  FEATURE_CONTEXT_FILL,
  featureContextWidth,
  fetchFeatureContext,
} from './feature-context.js';

const NOW = Date.UTC(2024, 5, 1);
const HOUR = 3_600_000;

const repo = defineFeatureRepository({
  root: '/tmp',
  entities: [{ name: 'user', joinKey: 'user_id', type: 'int64' }],
  sources: [
    { name: 'a', path: 'a.csv', timestamp: 't' },
    { name: 'b', path: 'b.csv', timestamp: 't' },
  ],
  featureViews: [
    {
      name: 'stats',
      entities: ['user'],
      source: 'a',
      ttl: '1d',
      features: { big: 'int64', score: 'float64', flag: 'bool', label: 'string' },
    },
    { name: 'old', entities: ['user'], source: 'b', ttl: '1h', features: { clicks: 'int32' } },
  ],
  featureServices: [
    { name: 'ctx', features: ['stats:flag', 'stats:big', 'old:clicks', 'stats:score'] },
    { name: 'labelled', features: ['stats:score', 'stats:label'] },
  ],
});

describe('bandit contexts from a feature service', () => {
  it('turns the service’s values into numbers in its order: bools 0/1, int64 text as a double, missing, null, NaN and expired as 0, counted', async () => {
    const online = new MemoryOnlineFeatureStore();
    const features = ['big', 'score', 'flag', 'label'];
    await online.write('stats', features, [
      {
        key: '1',
        eventTime: NOW - HOUR,
        createdTime: NOW - HOUR,
        values: [(2n ** 60n) as unknown as number, 0.25, false, 'x'],
      },
      { key: '2', eventTime: NOW - HOUR, createdTime: NOW - HOUR, values: [5, null, true, null] },
      {
        key: '3',
        eventTime: NOW - HOUR,
        createdTime: NOW - HOUR,
        values: [6, Number.NaN, true, 'y'],
      },
    ]);
    await online.write(
      'old',
      ['clicks'],
      [
        { key: '1', eventTime: NOW - 2 * HOUR, createdTime: NOW - 2 * HOUR, values: [9] },
        { key: '2', eventTime: NOW - HOUR / 2, createdTime: NOW - HOUR / 2, values: [4] },
      ],
    );
    const source = { repo, online, now: () => NOW };
    expect(await fetchFeatureContext(source, 'ctx', { user_id: 1 }, 4, 'b')).toEqual({
      featureService: 'ctx',
      x: [0, 2 ** 60, FEATURE_CONTEXT_FILL, 0.25],
      missing: 0,
      expired: 1,
    });
    expect(await fetchFeatureContext(source, 'ctx', { user_id: '2' }, 4, 'b')).toEqual({
      featureService: 'ctx',
      x: [1, 5, 4, FEATURE_CONTEXT_FILL],
      missing: 1,
      expired: 0,
    });
    const nan = await fetchFeatureContext(source, 'ctx', { user_id: 3 }, 4, 'b');
    expect(nan.x).toEqual([1, 6, 0, 0]);
    expect(nan).toMatchObject({ missing: 2, expired: 0 });
    expect(await fetchFeatureContext(source, 'ctx', { user_id: 4 }, 4, 'b')).toMatchObject({
      x: [0, 0, 0, 0],
      missing: 4,
    });
  });

  it('refuses a service with a string feature, another width, and a bad entity, naming the field', async () => {
    const source = { repo, online: new MemoryOnlineFeatureStore() };
    expect(() => featureContextWidth(repo, 'labelled', 'featureService')).toThrow(
      /^featureService: feature service "labelled" has "stats:label" of type string/,
    );
    expect(featureContextWidth(repo, 'ctx', 'featureService')).toBe(4);
    await expect(fetchFeatureContext(source, 'ctx', { user_id: 1 }, 3, 'b')).rejects.toThrow(
      /^context\.featureService: feature service "ctx" gives 4 feature\(s\); bandit "b" takes 3/,
    );
    await expect(fetchFeatureContext(source, 'nope', { user_id: 1 }, 4, 'b')).rejects.toThrow(
      /^context\.featureService: no feature service "nope"/,
    );
    await expect(fetchFeatureContext(source, 'ctx', { user_id: 'abc' }, 4, 'b')).rejects.toThrow(
      /^context\.entity\.user_id: must be an int64/,
    );
  });
});
