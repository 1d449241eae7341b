import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import {
  deleteFoldedUpdates,
  foldedByEveryVersion,
  foldVectorUpdates,
} from './fold-vector-updates.js';
import { vectorIndexKind } from './index-kinds.js';
import { LiveVectorIndex } from './live-vector-index.js';
import { loadVectorIndex, readVectorIndexMeta, saveVectorIndex } from './stored-index.js';
import { VectorAttributes } from './vector-attributes.js';
import type { VectorUpdate, VectorUpdateListOptions } from './vector-update-store.js';

const AT = new Date('2026-12-01T00:00:00Z');

function update(
  id: string,
  vector: number[] | null,
  seq: number,
  attributes: Record<string, string> | null = null,
): VectorUpdate {
  return {
    id,
    vector: vector === null ? null : Float32Array.from(vector),
    attributes,
    at: AT,
    seq,
  };
}

/** Builds an exact l2 index over folded rows and saves it, as a build does. */
async function buildFolded(
  store: FileArtifactStore,
  name: string,
  rows: ReturnType<typeof foldVectorUpdates>,
): Promise<string> {
  const index = await vectorIndexKind('exact').create(rows.dim, 'l2');
  const n = rows.vectors.length / rows.dim;
  await index.add(
    Uint32Array.from({ length: n }, (_, i) => i),
    rows.vectors,
  );
  try {
    return await saveVectorIndex(store, name, index, rows.ids, {
      attributes: rows.attributes,
      foldedThrough: rows.foldedThrough,
    });
  } finally {
    index.close();
  }
}

describe('foldVectorUpdates', () => {
  it('replaces, deletes and appends rows, carries attributes, and records the largest seq', () => {
    const attributes = new VectorAttributes();
    attributes.set(0, { category: 'a' });
    attributes.set(1, { category: 'b' });
    attributes.set(2, { category: 'c', lang: 'en' });
    const rows = {
      ids: ['x', 'y', 'z'],
      dim: 2,
      vectors: Float32Array.from([1, 1, 2, 2, 3, 3]),
      attributes,
    };
    const folded = foldVectorUpdates(rows, [
      update('new', [9, 9], 7, { category: 'stickers' }),
      update('x', [5, 5], 3), // attributes null: kept
      update('y', null, 4),
      update('odd', [1, 2, 3], 9), // another dimension: skipped, still counted as read
      update('z', [6, 6], 5, { lang: 'ja' }), // the whole set: category cleared
      update('ghost', null, 2), // deleting an id not there is no error
    ]);
    expect(folded.ids).toEqual(['x', 'z', 'new']);
    expect(Array.from(folded.vectors)).toEqual([5, 5, 6, 6, 9, 9]);
    expect([0, 1, 2].map((k) => folded.attributes.get(k))).toEqual([
      { category: 'a' },
      { lang: 'ja' },
      { category: 'stickers' },
    ]);
    expect(folded.foldedThrough).toBe(9);
    expect(folded.applied).toBe(5);
    expect(folded.skipped).toBe(1);
    // Moot once folded: vectors for ids the input has, a deletion of one it lacks, another
    // dimension. `new` (unknown to the input) and the deletion of `y` (which it has) stay needed.
    expect(folded.settled.sort()).toEqual(['ghost', 'odd', 'x', 'z']);
    // The input is left as it was.
    expect(Array.from(rows.vectors)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(attributes.get(1)).toEqual({ category: 'b' });
  });

  it('keeps row-number ids as they are with nothing to fold, and names them as strings otherwise', () => {
    const rows = {
      ids: null,
      dim: 1,
      vectors: Float32Array.from([1, 2]),
      attributes: new VectorAttributes(),
    };
    expect(foldVectorUpdates(rows, []).ids).toBeNull();
    expect(foldVectorUpdates(rows, []).foldedThrough).toBe(0);
    const folded = foldVectorUpdates(rows, [update('0', null, 1), update('7', [4], 2)]);
    expect(folded.ids).toEqual(['1', '7']);
    expect(Array.from(folded.vectors)).toEqual([2, 4]);
  });
});

describe('folding changes into builds', () => {
  const tmp = useTempDir('kiban-fold-vectors-');
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('loses no change made while a build runs, applies only later changes on top, and deletes changes once every kept version has folded them', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'artifacts'));
    const metadata = KyselyMetadataStore.sqlite(':memory:');
    open.push(metadata);
    await metadata.migrate();
    const updates = metadata.vectorUpdates;
    // Records every `after` a server asks for.
    const asked: (number | undefined)[] = [];
    const spy = {
      upsert: updates.upsert.bind(updates),
      deleteThrough: updates.deleteThrough.bind(updates),
      list: (index: string, options?: VectorUpdateListOptions) => {
        asked.push(options?.after);
        return updates.list(index, options);
      },
    };
    const base = {
      ids: ['a', 'b'],
      dim: 2,
      vectors: Float32Array.from([0, 0, 10, 10]),
      attributes: new VectorAttributes(),
    };
    const v1 = await buildFolded(store, 'items', foldVectorUpdates(base, []));
    const live = new LiveVectorIndex(store, 'items', { updates: spy });
    open.push(live);
    expect((await live.refresh())?.version).toBe(v1);

    // Changes over the API before the next build.
    await live.upsert('c', Float32Array.from([1, 1]), 'vector', { category: 'new' });
    await live.delete('b');

    // The build reads the changes, then a change arrives before it saves (the race).
    const listed = await updates.list('items');
    const folded = foldVectorUpdates(base, listed);
    expect(folded.ids).toEqual(['a', 'c']);
    await live.upsert('late', Float32Array.from([2, 2]));
    const v2 = await buildFolded(store, 'items', folded);
    const meta = await readVectorIndexMeta(store, 'items');
    expect(meta.meta.folded_through).toBe(folded.foldedThrough);
    expect(meta.meta.attributes).toEqual(['category']);
    const stored = await loadVectorIndex(store, 'items');
    expect(stored.ids).toEqual(['a', 'c']);
    expect(stored.attributes.get(1)).toEqual({ category: 'new' });
    stored.index.close();

    // A fresh server on v2: the folded changes come with the version, the late one on top.
    const fresh = new LiveVectorIndex(store, 'items', { updates: spy });
    open.push(fresh);
    const snapshot = (await fresh.refresh())!;
    expect(snapshot.version).toBe(v2);
    expect(asked.at(-1)).toBe(folded.foldedThrough);
    const [hits] = await fresh.search(snapshot, Float32Array.from([2, 2]), { k: 5 });
    expect(hits!.map((h) => h.id)).toEqual(['late', 'c', 'a']);
    const [stickers] = await fresh.search(snapshot, Float32Array.from([2, 2]), {
      k: 5,
      filter: { category: ['new'] },
    });
    expect(stickers!.map((h) => h.id)).toEqual(['c']);

    // v1 (folded nothing) is still kept: no change may go yet.
    expect(await foldedByEveryVersion(store, 'items')).toBe(0);
    expect(await deleteFoldedUpdates(store, 'items', updates, ['b', 'c'])).toBe(0);
    // v2's input (a, b) made none moot: `c` is unknown to it and `b` still in it.
    expect(folded.settled).toEqual([]);
    // A third build whose input now has `c` (and no longer `b`) folds everything; v1 goes.
    // The changes both kept versions folded and this input made moot (c, b) are deleted; `late`
    // (only v3 folded it, and the input lacks it) stays.
    const input3 = { ...base, ids: ['a', 'c'], vectors: Float32Array.from([0, 0, 3, 3]) };
    const folded3 = foldVectorUpdates(input3, await updates.list('items'));
    expect(folded3.settled.sort()).toEqual(['b', 'c']);
    const v3 = await buildFolded(store, 'items', folded3);
    expect(await foldedByEveryVersion(store, 'items')).toBe(folded.foldedThrough);
    expect(await deleteFoldedUpdates(store, 'items', updates, folded3.settled)).toBe(2);
    expect((await updates.list('items')).map((u) => u.id)).toEqual(['late']);
    expect((await fresh.refresh())?.version).toBe(v3);
    const [after] = await fresh.search(fresh.current!, Float32Array.from([2, 2]), { k: 5 });
    // `c` has the vector of its last change (1, 1), folded over the input's (3, 3).
    expect(after!.map((h) => h.id)).toEqual(['late', 'c', 'a']);
    // A fourth build from the same input: `late` is folded again, not lost.
    await buildFolded(store, 'items', foldVectorUpdates(input3, await updates.list('items')));
    const stored4 = await loadVectorIndex(store, 'items');
    expect(stored4.ids).toEqual(['a', 'c', 'late']);
    stored4.index.close();
  });
});
