import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { MetadataStore, ModelRecord } from '../../src/storage/metadata-store.js';

/** A fixed instant with a non-zero millisecond part, so that truncation to seconds would show. */
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0, 7);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

/** A model whose JSON fields exercise nesting, arrays, nulls, unicode, key order and number edge cases. */
export function sampleModel(id: string, overrides: Partial<ModelRecord> = {}): ModelRecord {
  return {
    id,
    kind: 'als',
    params: {
      factors: 64,
      regularization: 0.01,
      alpha: 1e-7,
      nested: { list: [1, 'two', null, true, { deep: [] }] },
      z: 1.5e300,
      big: 9007199254740991,
      a: 'ünïcödé ✓ "quoted"',
    },
    dataSnapshot: {
      source: 'datasets/movielens-100k/ratings.csv',
      rows: 100_836,
      users: 610,
      items: 9_724,
      checksum: 'sha256:ab12',
    },
    metrics: { 'ndcg@10': 0.3512345678901234, 'recall@20': 0.5, 'precision@5': 0 },
    artifactPath: `/var/kiban/models/${id}`,
    createdAt: at(0),
    ...overrides,
  };
}

/**
 * The conformance suite every {@link MetadataStore} runs. `factory` returns a new, unmigrated
 * store over an empty database each time it is called; the suite migrates and closes it.
 */
export function describeMetadataStore(
  name: string,
  factory: () => MetadataStore | Promise<MetadataStore>,
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    const open: MetadataStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    const fresh = async (): Promise<MetadataStore> => {
      const store = await factory();
      open.push(store);
      await store.migrate();
      return store;
    };

    it('migrates twice in a row and twice at once, and works afterwards', async () => {
      const store = await factory();
      open.push(store);
      await store.migrate();
      await store.migrate();
      await Promise.all([store.migrate(), store.migrate()]);
      await store.insertModel(sampleModel('m1'));
      await store.migrate();
      expect((await store.getModel('m1'))?.id).toBe('m1');
    });

    it('gives null for unknown ids', async () => {
      const store = await fresh();
      expect(await store.getModel('no-such-model')).toBeNull();
      expect(await store.listModels()).toEqual([]);
    });

    it('round-trips every field of a model exactly', async () => {
      const store = await fresh();
      const model = sampleModel('als-20261125T120000Z-ab12');
      await store.insertModel(model);
      const back = await store.getModel(model.id);
      expect(back).toEqual(model);
      expect(back?.createdAt).toBeInstanceOf(Date);
      expect(back?.createdAt.getTime()).toBe(T0);
      // Same text means the same key order and number forms, which toEqual alone would not show.
      expect(JSON.stringify(back?.params)).toBe(JSON.stringify(model.params));
      expect(JSON.stringify(back?.metrics)).toBe(JSON.stringify(model.metrics));
      expect(JSON.stringify(back?.dataSnapshot)).toBe(JSON.stringify(model.dataSnapshot));
    });

    it('keeps timestamps to the millisecond across the whole range that matters', async () => {
      const store = await fresh();
      const instants = [
        new Date(0),
        new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
        new Date(Date.UTC(2100, 0, 1, 0, 0, 0, 1)),
        new Date(-1),
      ];
      for (const [i, createdAt] of instants.entries())
        await store.insertModel(sampleModel(`m${i}`, { createdAt }));
      for (const [i, createdAt] of instants.entries())
        expect((await store.getModel(`m${i}`))?.createdAt.getTime()).toBe(createdAt.getTime());
    });

    it('refuses a duplicate model id with a clear error and keeps the first model', async () => {
      const store = await fresh();
      await store.insertModel(sampleModel('dup'));
      const second = store.insertModel(sampleModel('dup', { kind: 'bpr' }));
      await expect(second).rejects.toThrow(InvalidArgumentError);
      await expect(store.insertModel(sampleModel('dup'))).rejects.toThrow(
        /^model\.id: a model with id "dup" is already recorded/,
      );
      expect((await store.getModel('dup'))?.kind).toBe('als');
    });

    it('lists models newest first, with a limit (50 by default) and a kind filter', async () => {
      const store = await fresh();
      // Inserted out of time order, with a tie at +2000 that the id breaks (descending).
      const spec: Array<[string, string, number]> = [
        ['b', 'als', 1000],
        ['a', 'bpr', 3000],
        ['d', 'als', 2000],
        ['c', 'als', 2000],
        ['e', 'popularity', 0],
      ];
      for (const [id, kind, t] of spec)
        await store.insertModel(sampleModel(id, { kind, createdAt: at(t) }));
      expect((await store.listModels()).map((m) => m.id)).toEqual(['a', 'd', 'c', 'b', 'e']);
      expect((await store.listModels({ limit: 2 })).map((m) => m.id)).toEqual(['a', 'd']);
      expect((await store.listModels({ kind: 'als' })).map((m) => m.id)).toEqual(['d', 'c', 'b']);
      expect((await store.listModels({ kind: 'als', limit: 1 })).map((m) => m.id)).toEqual(['d']);
      expect(await store.listModels({ kind: 'none' })).toEqual([]);
      const listed = await store.listModels({ limit: 1 });
      expect(listed[0]).toEqual(sampleModel('a', { kind: 'bpr', createdAt: at(3000) }));

      for (let i = 0; i < 50; i++)
        await store.insertModel(
          sampleModel(`bulk-${String(i).padStart(2, '0')}`, { createdAt: at(10_000 + i) }),
        );
      const page = await store.listModels();
      expect(page).toHaveLength(50);
      expect(page[0].id).toBe('bulk-49');
    });

    it('refuses records that would not read back the same, naming the field', async () => {
      const store = await fresh();
      const bad: Array<[Partial<ModelRecord>, RegExp]> = [
        [{ createdAt: new Date(Number.NaN) }, /^model\.createdAt: /],
        [{ metrics: { 'ndcg@10': Number.NaN } }, /^model\.metrics\.ndcg@10: /],
        [{ metrics: { loss: '0.1' as unknown as number } }, /^model\.metrics\.loss: /],
        [{ params: { when: new Date(0) } }, /^model\.params\.when: /],
        [{ params: { missing: undefined } }, /^model\.params\.missing: /],
        [{ params: { deep: [1, Number.POSITIVE_INFINITY] } }, /^model\.params\.deep\[1\]: /],
        [{ params: [] as unknown as Record<string, unknown> }, /^model\.params: /],
        [{ kind: '' }, /^model\.kind: /],
      ];
      for (const [override, message] of bad) {
        await expect(store.insertModel(sampleModel('bad', override))).rejects.toThrow(message);
      }
      expect(await store.getModel('bad')).toBeNull();

      await expect(store.listModels({ limit: 0 })).rejects.toThrow(/^limit: /);
      await expect(store.listModels({ limit: 2.5 })).rejects.toThrow(InvalidArgumentError);
    });

    it('handles concurrent writers without losing records', async () => {
      const store = await fresh();
      const names = Array.from({ length: 20 }, (_, i) => `model-${String(i).padStart(2, '0')}`);
      await Promise.all(
        names.map((name, i) => store.insertModel(sampleModel(name, { createdAt: at(i) }))),
      );
      expect((await store.listModels({ limit: 100 })).map((m) => m.id)).toEqual(
        [...names].reverse(),
      );
    });
  });
}
