/**
 * A service's fallback chain from its configuration (issue 22): `recommend` is a key each entry
 * of `services:` may override, checked by name, and the routes of each service answer through
 * their own chain.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { listServices } from '../src/app/services.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

async function published(): Promise<MemoryServingStore> {
  const store = new MemoryServingStore();
  const writer = await store.beginVersion('v1', {});
  await writer.putLists('user', [['u1', [{ id: 'a', score: 1 }]]]);
  await writer.putLists('popular', [['all', [{ id: 'p', score: 5 }]]]);
  await writer.commit();
  return store;
}

describe('recommend: a fallback chain per service', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('is read per service from kiban.yaml, merged over the default, and a bad source is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-recommend-config-'));
    dirs.push(dir);
    const file = join(dir, 'kiban.yaml');
    await writeFile(
      file,
      'recommend: { recentItems: 5 }\nservices:\n  booth:\n    recommend: { chain: [personal] }\n  shop: {}\n',
    );
    const byName = new Map(
      listServices(await loadKibanConfig({ file, env: {} })).map((s) => [
        s.name,
        s.pipeline.recommend,
      ]),
    );
    expect(byName.get('default')).toEqual({ recentItems: 5 });
    expect(byName.get('booth')).toEqual({ recentItems: 5, chain: ['personal'] });
    expect(byName.get('shop')).toEqual({ recentItems: 5 });
    await writeFile(file, 'services:\n  booth:\n    recommend: { chain: [personal, trending] }\n');
    await expect(loadKibanConfig({ file, env: {} })).rejects.toThrow(
      /services\.booth\.recommend\.chain\.1.*kiban\.yaml:3/,
    );
  });

  it("answers each service's requests through its own chain", async () => {
    const app = createServingApp({
      serving: await published(),
      webRoot: false,
      services: [{ name: 'booth', serving: await published(), recommend: { chain: ['personal'] } }],
    });
    try {
      const ids = async (url: string) =>
        ((await app.inject(url)).json() as { items: { id: string; source: string }[] }).items.map(
          (i) => `${i.id}:${i.source}`,
        );
      expect(await ids('/v1/users/u1/recommendations?k=2')).toEqual(['a:personal', 'p:popular']);
      expect(await ids('/v1/services/booth/users/u1/recommendations?k=2')).toEqual(['a:personal']);
      expect(await ids('/v1/services/booth/users/nobody/recommendations?k=2')).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
