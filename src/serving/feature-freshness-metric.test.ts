import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryOnlineFeatureStore } from '../storage/memory-online-feature-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { createServingApp } from './create-app.js';
import { registerFeatureFreshness } from './feature-freshness-metric.js';

describe('kiban_feature_view_freshness_seconds', () => {
  it("is now − each materialised view's newest event time, read at every scrape", async () => {
    const online = new MemoryOnlineFeatureStore();
    const registry = new Registry();
    let clock = 1_000_000;
    registerFeatureFreshness(registry, online, { now: () => clock });
    expect(await registry.metrics()).not.toMatch(/^kiban_feature_view_freshness_seconds\{/m);

    await online.setMaterialized('user_stats', {
      start: 0,
      end: 900_000,
      newestEventTime: 880_000,
      updatedAt: 0,
    });
    await online.setMaterialized('empty', {
      start: 0,
      end: 900_000,
      newestEventTime: null,
      updatedAt: 0,
    });
    let text = await registry.metrics();
    expect(text).toContain('kiban_feature_view_freshness_seconds{view="user_stats"} 120');
    expect(text).not.toContain('view="empty"');

    clock += 30_000;
    await online.setMaterialized('movie_stats', {
      start: 0,
      end: 1,
      newestEventTime: 1_000_000,
      updatedAt: 0,
    });
    text = await registry.metrics();
    expect(text).toContain('kiban_feature_view_freshness_seconds{view="user_stats"} 150');
    expect(text).toContain('kiban_feature_view_freshness_seconds{view="movie_stats"} 30');
    await online.clearView('user_stats');
    expect(await registry.metrics()).not.toContain('view="user_stats"');
  });

  it('is served at /metrics by an app that serves features', async () => {
    const online = new MemoryOnlineFeatureStore();
    await online.setMaterialized('user_stats', {
      start: 0,
      end: 1,
      newestEventTime: Date.now() - 3_600_000,
      updatedAt: 0,
    });
    const repo = {
      root: '/',
      entities: new Map(),
      sources: new Map(),
      featureViews: new Map(),
      featureServices: new Map(),
    };
    const app = createServingApp({ serving: new MemoryServingStore(), features: { repo, online } });
    try {
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      const line = response.body
        .split('\n')
        .find((l) => l.startsWith('kiban_feature_view_freshness_seconds{view="user_stats"}'));
      const seconds = Number(line?.split(' ')[1]);
      expect(seconds).toBeGreaterThanOrEqual(3600);
      expect(seconds).toBeLessThan(3600 + 600);
    } finally {
      await app.close();
    }
  });
});
