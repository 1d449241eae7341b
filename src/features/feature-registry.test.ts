import { describe, expect, it } from 'vitest';
import { parseFeatureRepository } from './feature-definitions.js';
import {
  canonicalJson,
  contentHash,
  diffDefinitions,
  planFeatureRegistry,
  registryEntries,
  type RegisteredFeatureObject,
} from './feature-registry.js';

const TEXT = `entities:
  user: { joinKey: user_id, type: string }
sources:
  user_stats: { path: data/user_stats.csv, timestamp: event_time }
  q: { query: "select 1 as user_id, now() as event_time", timestamp: event_time }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 7d
    features: { clicks_7d: int64, spend_7d: float64 }
`;

describe('feature registry plan', () => {
  it('hashes definitions by content, whatever the key order', () => {
    expect(canonicalJson({ b: [1, { d: 2, c: 3 }], a: 'x', u: undefined })).toBe(
      '{"a":"x","b":[1,{"c":3,"d":2}]}',
    );
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1, b: 2 })).not.toBe(contentHash({ a: 1, b: 3 }));
  });

  it('diffs leaves; lists compare whole; absent sides are left out', () => {
    expect(
      diffDefinitions(
        { ttlSeconds: 60, entities: ['user'], features: { a: { type: 'int64' } }, owner: 'x' },
        {
          ttlSeconds: 60,
          entities: ['user', 'item'],
          features: { a: { type: 'int32' } },
          tags: {},
        },
      ),
    ).toEqual([
      { field: 'entities', before: ['user'], after: ['user', 'item'] },
      { field: 'features.a.type', before: 'int64', after: 'int32' },
      { field: 'owner', before: 'x' },
      { field: 'tags', after: {} },
    ]);
  });

  it('records source paths relative to the root, so a checkout elsewhere plans no change', () => {
    const here = registryEntries(parseFeatureRepository(TEXT, { file: 'f', root: '/a/repo' }));
    const there = registryEntries(parseFeatureRepository(TEXT, { file: 'f', root: '/b/other' }));
    expect(here).toEqual(there);
    expect(here.find((e) => e.kind === 'source' && e.name === 'user_stats')?.definition).toEqual({
      path: 'data/user_stats.csv',
      timestamp: 'event_time',
    });
    const current: RegisteredFeatureObject[] = here.map((e) => ({
      ...e,
      version: 4,
      appliedAt: new Date(0),
      appliedBy: 'x',
    }));
    const plan = planFeatureRegistry(
      current,
      parseFeatureRepository(TEXT, { file: 'f', root: '/b/other' }),
    );
    expect(plan.map((c) => c.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  });

  it('continues the version of an object removed earlier when it is added again', () => {
    const repo = parseFeatureRepository(TEXT, { file: 'f', root: '/r' });
    const plan = planFeatureRegistry([], repo, new Map([['entity:user', 3]]));
    expect(plan.find((c) => c.kind === 'entity')).toMatchObject({ action: 'added', toVersion: 4 });
    expect(plan.find((c) => c.kind === 'featureView')).toMatchObject({
      action: 'added',
      toVersion: 1,
    });
  });
});
