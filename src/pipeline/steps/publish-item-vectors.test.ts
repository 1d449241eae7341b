import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useTempDir } from '../../../test/fixtures/temp-dir.js';
import { FileArtifactStore } from '../../storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../../storage/kysely-metadata-store.js';
import { loadVectorIndex } from '../../vectors/stored-index.js';
import { publishItemVectors } from './publish-item-vectors.js';

describe('publishItemVectors folds the API changes', () => {
  const tmp = useTempDir('kiban-publish-fold-');
  let metadata: KyselyMetadataStore | null = null;
  afterEach(async () => {
    await metadata?.close();
    metadata = null;
  });

  it('puts added items in and deleted ones out, records how far, and deletes the changes every stored version has folded and the model made moot', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'artifacts'));
    metadata = KyselyMetadataStore.sqlite(':memory:');
    await metadata.migrate();
    const updates = metadata.vectorUpdates;
    await updates.upsert('items', 'posted', Float32Array.from([0, 1]), new Date(), {
      category: 'stickers',
    });
    const last = await updates.upsert('items', 'b', null, new Date());
    await updates.upsert('other', 'x', Float32Array.from([1, 1]), new Date());
    const vectors = { dim: 2, vectors: Float32Array.from([1, 0, 0.6, 0.8, 0.8, 0.6]) };
    const args = { store, vectors, ids: ['a', 'b', 'c'], exactBelow: 100, updates };

    const first = await publishItemVectors(args);
    expect(first).toMatchObject({ count: 3, foldedThrough: last, folded: 2 });
    const loaded = await loadVectorIndex(store, 'items');
    expect(loaded.ids).toEqual(['a', 'c', 'posted']);
    expect(loaded.meta.folded_through).toBe(last);
    expect(loaded.attributes.get(2)).toEqual({ category: 'stickers' });
    expect(loaded.index.get(2)).toEqual(Float32Array.from([0, 1]));
    loaded.index.close();
    // The only version has folded them all; the deletion of `b` (which the model has) goes once
    // the model no longer has it, the added item while the model does not know it: both stay.
    expect((await updates.list('items')).map((u) => u.id)).toEqual(['b', 'posted']);
    // A model that now knows `posted` and no longer has `b`: both changes are moot and go.
    const next = await publishItemVectors({
      ...args,
      vectors: { dim: 2, vectors: Float32Array.from([1, 0, 0.6, 0.8, 0.8, 0.6]) },
      ids: ['a', 'c', 'posted'],
    });
    expect(next).toMatchObject({ count: 3, foldedThrough: last, folded: 2 });
    expect((await updates.list('items')).map((u) => u.id)).toEqual([]);
    expect((await updates.list('other')).map((u) => u.id)).toEqual(['x']);

    // Without an update store nothing is folded: the model's rows only.
    const plain = await publishItemVectors({ ...args, updates: undefined });
    expect(plain).toMatchObject({ count: 3, foldedThrough: 0, folded: 0 });
  });
});
