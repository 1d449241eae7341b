import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { parseFeatureRepository } from '../../src/features/feature-definitions.js';
import type { FeatureRegistry } from '../../src/features/feature-registry.js';
import type { FeatureRepository } from '../../src/features/feature-types.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

const V1 = `entities:
  user: { joinKey: user_id, type: string }
sources:
  user_stats: { path: data/user_stats.csv, timestamp: event_time }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 7d
    features: { clicks_7d: int64, spend_7d: float64 }
featureServices:
  ranker: { features: [user_stats:*], owner: ml }
`;

/** V1 with the view's ttl and a feature type changed, a feature and a tag added, the service removed. */
const V2 = `entities:
  user: { joinKey: user_id, type: string }
sources:
  user_stats: { path: data/user_stats.csv, timestamp: event_time }
featureViews:
  user_stats:
    entities: [user]
    source: user_stats
    ttl: 1d
    features: { clicks_7d: int32, spend_7d: float64, views_7d: int64 }
    tags: { tier: gold }
`;

const repo = (text: string, root = '/srv/features'): FeatureRepository =>
  parseFeatureRepository(text, { file: 'features.yaml', root });

/**
 * The conformance suite of the {@link FeatureRegistry} every metadata store backend carries
 * (`metadata.featureRegistry`): plans name added, changed (field by field), removed and unchanged
 * objects; apply records one version per change and nothing when applied again; list and get
 * read the current versions. `create` returns a new, migrated, empty store.
 */
export function describeFeatureRegistry(name: string, create: () => Promise<MetadataStore>): void {
  describe(`FeatureRegistry contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async (): Promise<FeatureRegistry> => {
      store = await create();
      return store.featureRegistry;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('plans everything as added on an empty registry, and writes nothing', async () => {
      const registry = await open();
      const plan = await registry.plan(repo(V1));
      expect(plan.map((c) => [c.kind, c.name, c.action, c.toVersion])).toEqual([
        ['entity', 'user', 'added', 1],
        ['source', 'user_stats', 'added', 1],
        ['featureView', 'user_stats', 'added', 1],
        ['featureService', 'ranker', 'added', 1],
      ]);
      // Paths are recorded relative to the repository, services with `view:*` expanded.
      expect(plan[1]?.definition).toEqual({ path: 'data/user_stats.csv', timestamp: 'event_time' });
      expect(plan[3]?.definition).toEqual({
        features: ['user_stats:clicks_7d', 'user_stats:spend_7d'],
        owner: 'ml',
      });
      expect(await registry.list()).toEqual([]);
    });

    it('applies once; applying the same repository again changes nothing', async () => {
      const registry = await open();
      const before = Date.now();
      const applied = await registry.apply(repo(V1), { appliedBy: 'alice' });
      expect(applied.every((c) => c.action === 'added')).toBe(true);
      const listed = await registry.list();
      expect(listed.map((o) => [o.kind, o.name, o.version, o.appliedBy])).toEqual([
        ['entity', 'user', 1, 'alice'],
        ['source', 'user_stats', 1, 'alice'],
        ['featureView', 'user_stats', 1, 'alice'],
        ['featureService', 'ranker', 1, 'alice'],
      ]);
      expect(listed[2]?.appliedAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(listed[2]?.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(listed[2]?.definition).toEqual({
        entities: ['user'],
        source: 'user_stats',
        ttlSeconds: 604_800,
        features: { clicks_7d: { type: 'int64' }, spend_7d: { type: 'float64' } },
        tags: {},
      });

      // The same repository checked out elsewhere: nothing to do, nothing recorded.
      const again = await registry.apply(repo(V1, '/elsewhere'), { appliedBy: 'bob' });
      expect(again.map((c) => [c.action, c.fromVersion, c.toVersion])).toEqual([
        ['unchanged', 1, 1],
        ['unchanged', 1, 1],
        ['unchanged', 1, 1],
        ['unchanged', 1, 1],
      ]);
      expect(await registry.list()).toEqual(listed);
    });

    it('plans and records changes field by field, removals, and re-additions as new versions', async () => {
      const registry = await open();
      await registry.apply(repo(V1));
      const plan = await registry.plan(repo(V2));
      expect(plan.map((c) => [c.kind, c.name, c.action, c.fromVersion, c.toVersion])).toEqual([
        ['entity', 'user', 'unchanged', 1, 1],
        ['source', 'user_stats', 'unchanged', 1, 1],
        ['featureView', 'user_stats', 'changed', 1, 2],
        ['featureService', 'ranker', 'removed', 1, undefined],
      ]);
      expect(plan[2]?.fields).toEqual([
        { field: 'features.clicks_7d.type', before: 'int64', after: 'int32' },
        { field: 'features.views_7d', after: { type: 'int64' } },
        { field: 'tags.tier', after: 'gold' },
        { field: 'ttlSeconds', before: 604_800, after: 86_400 },
      ]);

      const applied = await registry.apply(repo(V2), { appliedBy: 'carol' });
      expect(applied.map((c) => [c.action, c.toVersion])).toEqual([
        ['unchanged', 1],
        ['unchanged', 1],
        ['changed', 2],
        ['removed', 2],
      ]);
      const view = await registry.get('featureView', 'user_stats');
      expect(view?.version).toBe(2);
      expect(view?.appliedBy).toBe('carol');
      expect(view?.definition.ttlSeconds).toBe(86_400);
      expect(await registry.get('featureService', 'ranker')).toBeNull();
      expect(await registry.get('entity', 'nobody')).toBeNull();
      expect((await registry.list()).map((o) => `${o.kind}:${o.name}@${o.version}`)).toEqual([
        'entity:user@1',
        'source:user_stats@1',
        'featureView:user_stats@2',
      ]);
      expect((await registry.apply(repo(V2))).every((c) => c.action === 'unchanged')).toBe(true);

      // Back to V1: the view changes again, the service comes back as version 3.
      const back = await registry.apply(repo(V1));
      expect(
        back.filter((c) => c.action !== 'unchanged').map((c) => [c.name, c.action, c.toVersion]),
      ).toEqual([
        ['user_stats', 'changed', 3],
        ['ranker', 'added', 3],
      ]);
      expect((await registry.get('featureService', 'ranker'))?.version).toBe(3);
    });

    it('lets one of two concurrent applies of a change win and refuses the other, losing no version', async () => {
      const registry = await open();
      await registry.apply(repo(V1));
      const results = await Promise.allSettled([
        registry.apply(repo(V2)),
        registry.apply(repo(V2)),
      ]);
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      expect(fulfilled.length).toBeGreaterThanOrEqual(1);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
      expect((await registry.get('featureView', 'user_stats'))?.version).toBe(2);
      expect((await registry.plan(repo(V2))).every((c) => c.action === 'unchanged')).toBe(true);
    });
  });
}
