import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { Random } from '../core/random.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { vectorIndexKind } from './index-kinds.js';
import { LiveVectorIndex } from './live-vector-index.js';
import { saveVectorIndex } from './stored-index.js';
import { VectorAttributes } from './vector-attributes.js';

describe('VectorAttributes', () => {
  it('matches every attribute of a filter, any of its values, and nothing without a value', () => {
    const a = new VectorAttributes();
    a.set(0, { category: 'stickers', lang: 'ja' });
    a.set(1, { category: 'fonts', lang: 'ja' });
    a.set(2, { category: 'stickers' });
    a.set(40, { lang: 'en' }); // grows past the keys seen
    const keys = (filter: Record<string, string[]>) =>
      [0, 1, 2, 3, 40, 1000].filter(a.matcher(filter, 'filter'));
    expect(keys({ category: ['stickers'] })).toEqual([0, 2]);
    expect(keys({ category: ['stickers', 'fonts'] })).toEqual([0, 1, 2]);
    expect(keys({ category: ['stickers'], lang: ['ja'] })).toEqual([0]);
    expect(keys({ lang: ['en'] })).toEqual([40]);
    expect(keys({ category: ['unknown value'] })).toEqual([]);
    expect(() => a.matcher({ colour: ['red'] }, 'body.filter')).toThrow(
      /^body\.filter: the index has no attribute "colour"; it has "category", "lang"/,
    );
    expect(() => a.matcher({ category: [] }, 'filter')).toThrow(/^filter: .*no value/);
    // `set` replaces the whole set; null clears it.
    a.set(0, { lang: 'en' });
    expect(a.get(0)).toEqual({ lang: 'en' });
    a.set(1, null);
    expect(a.get(1)).toEqual({});
  });

  it('round-trips through its stored form and takes rows in a new order', () => {
    const a = new VectorAttributes();
    a.set(0, { category: 'x' });
    a.set(2, { category: 'y', lang: 'fr' });
    const text = a.serialize(3)!;
    const b = VectorAttributes.parse(text, 3, 'attributes');
    expect([0, 1, 2].map((k) => b.get(k))).toEqual([
      { category: 'x' },
      {},
      { category: 'y', lang: 'fr' },
    ]);
    expect(() => VectorAttributes.parse(text, 4, 'f')).toThrow(/4 codes/);
    expect(new VectorAttributes().serialize(3)).toBeNull();
    const taken = b.take([2, 0]);
    expect([taken.get(0), taken.get(1)]).toEqual([
      { category: 'y', lang: 'fr' },
      { category: 'x' },
    ]);
  });
});

describe('filtered search through LiveVectorIndex', () => {
  const tmp = useTempDir('kiban-vector-filter-');
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('answers k items of a selective filter from an HNSW index, exactly, with exclusions', async () => {
    const dim = 16;
    const n = 3000;
    const vectors = new Random(5).fillGaussian(new Float32Array(n * dim), 1);
    const attributes = new VectorAttributes();
    // 12 items of 3000 are "rare": far fewer than any over-fetch of HNSW would meet by chance.
    const rare = new Set(Array.from({ length: 12 }, (_, i) => i * 250 + 7));
    for (let k = 0; k < n; k++)
      attributes.set(k, { category: rare.has(k) ? 'rare' : `common-${k % 5}` });
    const index = await vectorIndexKind('hnsw').create(dim, 'cosine');
    await index.add(
      Uint32Array.from({ length: n }, (_, i) => i),
      vectors,
    );
    const ids = Array.from({ length: n }, (_, i) => `i${i}`);
    const store = new FileArtifactStore(join(tmp.path, 'a'));
    await saveVectorIndex(store, 'items', index, ids, { attributes });
    index.close();
    const live = new LiveVectorIndex(store, 'items');
    open.push(live);
    const snapshot = (await live.refresh())!;
    expect(snapshot.attributeNames).toEqual(['category']);

    const query = vectors.slice(0, dim);
    // Brute force over the rare items, by cosine.
    const cosine = (k: number) => {
      let dot = 0;
      let a = 0;
      let b = 0;
      for (let j = 0; j < dim; j++) {
        dot += vectors[k * dim + j]! * query[j]!;
        a += vectors[k * dim + j]! ** 2;
        b += query[j]! ** 2;
      }
      return dot / Math.sqrt(a * b);
    };
    const expected = [...rare].sort((x, y) => cosine(y) - cosine(x)).map((k) => `i${k}`);
    const [hits] = await live.search(snapshot, query, { k: 10, filter: { category: ['rare'] } });
    expect(hits!.map((h) => h.id)).toEqual(expected.slice(0, 10));
    // With the two best excluded, the next ten (all but... the remaining ten of twelve).
    const [rest] = await live.search(snapshot, query, {
      k: 10,
      exclude: expected.slice(0, 2),
      filter: { category: ['rare'] },
    });
    expect(rest!.map((h) => h.id)).toEqual(expected.slice(2, 12));
    // Fewer matching than k: all of them, no padding.
    const [all] = await live.search(snapshot, query, { k: 50, filter: { category: ['rare'] } });
    expect(all).toHaveLength(12);
    // Two attributes' values at once.
    const [two] = await live.search(snapshot, query, {
      k: 30,
      filter: { category: ['rare', 'common-1'] },
    });
    expect(
      two!.every((h) => rare.has(Number(h.id.slice(1))) || Number(h.id.slice(1)) % 5 === 1),
    ).toBe(true);
    expect(two).toHaveLength(30);
    await expect(
      live.search(snapshot, query, { k: 3, filter: { lang: ['ja'] }, filterField: 'body.filter' }),
    ).rejects.toThrow(/^body\.filter: the index has no attribute "lang"/);
  });
});
