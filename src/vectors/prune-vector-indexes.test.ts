import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { pruneVectorIndexes } from './prune-vector-indexes.js';

const HOUR = 60 * 60 * 1000;

/** Writes the objects of one version; `complete` adds its meta.json (written last by saves). */
async function version(
  store: FileArtifactStore,
  name: string,
  v: string,
  complete = true,
): Promise<void> {
  await store.put(`vectors/${name}/${v}/index.bin`, 'x');
  if (complete) await store.put(`vectors/${name}/${v}/meta.json`, '{}');
}

describe('pruneVectorIndexes', () => {
  const tmp = useTempDir('kiban-prune-vectors-');

  it('keeps the current and the newest complete versions, and deletes older ones and old partial ones', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'a'));
    // items: current is v3 (an older one: v4 is newer and complete, a build about to switch).
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await version(store, 'items', v);
    await version(store, 'items', 'v0-partial', false);
    await version(store, 'items', 'v9-partial', false);
    await store.put('vectors/items/current', 'v3\n');
    // other: current is its oldest version (rolled back by hand).
    for (const v of ['a1', 'a2', 'a3', 'a4']) await version(store, 'other', v);
    await store.put('vectors/other/current', 'a1\n');
    // An index with no pointer: only old partial versions go.
    await version(store, 'orphan', 'o1');
    await version(store, 'orphan', 'o2', false);
    await store.put('models/m1/model.json', '{}');
    const before = (await store.list('')).map((o) => o.key);

    // Now: nothing is an hour old, so partial versions stay; a dry run deletes nothing.
    const dry = await pruneVectorIndexes(store, { keep: 2, dryRun: true });
    // other/a2 is newer than the current a1 and young: maybe a build about to switch.
    expect(dry.deleted).toEqual(['vectors/items/v1', 'vectors/items/v2']);
    expect((await store.list('')).map((o) => o.key)).toEqual(before);

    // An hour and more later: the partial versions that are not current go too.
    const later = await pruneVectorIndexes(store, { keep: 2, now: Date.now() + 2 * HOUR });
    expect(later.deleted).toEqual([
      'vectors/items/v0-partial',
      'vectors/items/v1',
      'vectors/items/v2',
      'vectors/items/v9-partial',
      'vectors/orphan/o2',
      'vectors/other/a2',
    ]);
    expect(later.kept).toEqual([
      'vectors/items/v3',
      'vectors/items/v4',
      'vectors/items/v5',
      'vectors/orphan/o1',
      'vectors/other/a1',
      'vectors/other/a3',
      'vectors/other/a4',
    ]);
    const after = (await store.list('')).map((o) => o.key);
    expect(after).toContain('models/m1/model.json');
    expect(after).toContain('vectors/items/current');
    expect(after.filter((k) => k.startsWith('vectors/items/v1/'))).toEqual([]);
    expect(after.filter((k) => k.startsWith('vectors/items/v3/'))).toHaveLength(2);
    expect(later.deletedKeys).toContain('vectors/items/v0-partial/index.bin');

    // keep 0, hours later: only the current versions stay.
    const zero = await pruneVectorIndexes(store, { keep: 0, now: Date.now() + 2 * HOUR });
    expect(zero.deleted).toEqual([
      'vectors/items/v4',
      'vectors/items/v5',
      'vectors/orphan/o1',
      'vectors/other/a3',
      'vectors/other/a4',
    ]);
    expect(zero.kept).toEqual(['vectors/items/v3', 'vectors/other/a1']);
    await expect(pruneVectorIndexes(store, { keep: -1 })).rejects.toThrow(/^keep: /);
  });
});
