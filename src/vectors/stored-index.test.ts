import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { Random } from '../core/random.js';
import { readArtifact } from '../storage/artifacts/artifact-store.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { vectorIndexKind } from './index-kinds.js';
import { loadVectorIndex, readVectorIndexMeta, saveVectorIndex } from './stored-index.js';

describe('saveVectorIndex / loadVectorIndex', () => {
  const tmp = useTempDir('kiban-stored-index-');

  it('stores versions under vectors/NAME/, switches current last, and loads an index answering identically', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'store'));
    const dim = 6;
    const n = 50;
    const vectors = new Random(7).fillGaussian(new Float32Array(n * dim), 1);
    const index = await vectorIndexKind('exact').create(dim, 'l2');
    await index.add(
      Uint32Array.from({ length: n }, (_, i) => i),
      vectors,
    );
    const ids = Array.from({ length: n }, (_, i) => `item-${i}`);
    const first = await saveVectorIndex(store, 'items', index, ids);
    const keys = (await store.list('vectors/items/')).map((o) => o.key);
    expect(keys).toEqual([
      `vectors/items/${first}/ids`,
      `vectors/items/${first}/index.bin`,
      `vectors/items/${first}/meta.json`,
      'vectors/items/current',
    ]);
    expect((await readArtifact(store, 'vectors/items/current')).toString().trim()).toBe(first);

    const loaded = await loadVectorIndex(store, 'items');
    expect(loaded.version).toBe(first);
    expect(loaded.ids).toEqual(ids);
    expect(loaded.meta).toMatchObject({
      kind: 'exact',
      dim,
      metric: 'l2',
      count: n,
      ids: 'strings',
    });
    const queries = vectors.subarray(0, 5 * dim);
    const before = await index.search(queries, { k: 4 });
    const after = await loaded.index.search(queries, { k: 4 });
    expect([...after.keys]).toEqual([...before.keys]);
    expect([...after.scores]).toEqual([...before.scores]);
    loaded.index.close();

    await index.remove([0, 1]);
    const rows = await vectorIndexKind('exact').create(dim, 'ip');
    await rows.add(Uint32Array.of(0, 1), vectors.subarray(0, 2 * dim));
    const second = await saveVectorIndex(store, 'items', rows, null);
    expect(second).not.toBe(first);
    const info = await readVectorIndexMeta(store, 'items');
    expect(info.version).toBe(second);
    expect(info.meta).toMatchObject({ metric: 'ip', count: 2, ids: 'row-numbers' });
    expect(info.bytes).toBe(
      (await store.list(`vectors/items/${second}/`)).reduce((s, o) => s + o.size, 0),
    );
    const reloaded = await loadVectorIndex(store, 'items');
    expect(reloaded.ids).toBeNull();
    reloaded.index.close();

    // Two versions are kept by default; keep 1 leaves only the new one.
    const versions = async () =>
      [...new Set((await store.list('vectors/items/')).map((o) => o.key.split('/')[2]))].filter(
        (v) => v !== 'current',
      );
    expect(await versions()).toEqual([first, second]);
    const third = await saveVectorIndex(store, 'items', rows, null);
    expect(await versions()).toEqual([second, third]);
    const fourth = await saveVectorIndex(store, 'items', rows, null, { keep: 1 });
    expect(await versions()).toEqual([fourth]);
    await expect(saveVectorIndex(store, 'items', rows, null, { keep: 0 })).rejects.toThrow(
      /keep: must be a positive integer/,
    );
    index.close();
    rows.close();
    await store.close();
  });

  it('loads an HNSW index back from the store answering identically (usearch loaded only for it)', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'store-hnsw'));
    const dim = 8;
    const n = 300;
    const vectors = new Random(11).fillGaussian(new Float32Array(n * dim), 1);
    const index = await vectorIndexKind('hnsw').create(dim, 'cosine', { connectivity: 8 });
    await index.add(
      Uint32Array.from({ length: n }, (_, i) => i),
      vectors,
    );
    await saveVectorIndex(store, 'graph', index, null);
    const loaded = await loadVectorIndex(store, 'graph');
    expect(loaded.meta).toMatchObject({ kind: 'hnsw', dim, metric: 'cosine', count: n });
    const queries = vectors.subarray(0, 10 * dim);
    const before = await index.search(queries, { k: 5 });
    const after = await loaded.index.search(queries, { k: 5 });
    expect([...after.keys]).toEqual([...before.keys]);
    expect([...after.scores]).toEqual([...before.scores]);
    index.close();
    loaded.index.close();
    await store.close();
  });

  it('refuses bad names and ids that do not match the keys, and reports a missing index', async () => {
    const store = new FileArtifactStore(join(tmp.path, 'store2'));
    const index = await vectorIndexKind('exact').create(2, 'cosine');
    await index.add(Uint32Array.of(0), Float32Array.of(1, 0));
    await expect(saveVectorIndex(store, '../x', index, null)).rejects.toThrow(InvalidArgumentError);
    await expect(saveVectorIndex(store, 'a.b', index, null)).rejects.toThrow(/name: "a.b"/);
    await expect(saveVectorIndex(store, 'ok', index, ['a', 'b'])).rejects.toThrow(
      /ids: holds 2 ids but the index holds 1/,
    );
    await expect(loadVectorIndex(store, 'missing')).rejects.toThrow(NotFoundError);
    expect(() => vectorIndexKind('nope', '--kind')).toThrow(
      /--kind: unknown vector index kind "nope"/,
    );
    index.close();
    await store.close();
  });
});
