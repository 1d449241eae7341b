import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');

/**
 * The conformance suite of the {@link VectorUpdateStore} every metadata store backend carries
 * (`metadata.vectorUpdates`): changes round-trip bit for bit, one per (index, id), the last one
 * kept; deletions are null vectors; indexes are kept apart; bad arguments are refused naming the
 * field, before anything is written. `create` returns a new, migrated, empty store.
 */
export function describeVectorUpdateStore(
  name: string,
  create: () => Promise<MetadataStore>,
): void {
  describe(`VectorUpdateStore contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async () => {
      store = await create();
      return store.vectorUpdates;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('keeps the last change per id, bit for bit, ordered by id', async () => {
      const s = await open();
      expect(await s.list('items')).toEqual([]);
      // Values float32 keeps exactly only as bits: a subnormal, -0, the largest finite.
      const a = new Float32Array([0.1, -0, 3.4028234663852886e38, 1.401298464324817e-45]);
      const b = new Float32Array([1, 2, 3, 4]);
      await s.upsert('items', 'b', b, new Date(T0 + 1));
      await s.upsert('items', 'a', a, new Date(T0 + 2));
      const listed = await s.list('items');
      expect(listed.map((u) => u.id)).toEqual(['a', 'b']);
      expect(listed[0]!.vector).toBeInstanceOf(Float32Array);
      expect(new Uint8Array(listed[0]!.vector!.buffer)).toEqual(new Uint8Array(a.buffer));
      expect(Array.from(listed[1]!.vector!)).toEqual([1, 2, 3, 4]);
      expect(listed.map((u) => u.at.getTime())).toEqual([T0 + 2, T0 + 1]);

      await s.upsert('items', 'b', null, new Date(T0 + 3));
      await s.upsert('items', 'a', new Float32Array([5, 6]), new Date(T0 + 4));
      const again = await s.list('items');
      expect(again.map(({ seq: _, ...rest }) => rest)).toEqual([
        { id: 'a', vector: new Float32Array([5, 6]), attributes: null, at: new Date(T0 + 4) },
        { id: 'b', vector: null, attributes: null, at: new Date(T0 + 3) },
      ]);
    });

    it('numbers changes in order, lists those after a number and deletes through one', async () => {
      const s = await open();
      const one = await s.upsert('items', 'a', new Float32Array([1]), new Date(T0));
      const two = await s.upsert('other', 'a', new Float32Array([1]), new Date(T0));
      const three = await s.upsert('items', 'b', new Float32Array([2]), new Date(T0));
      expect(one).toBeGreaterThanOrEqual(1);
      expect(two).toBeGreaterThan(one);
      expect(three).toBeGreaterThan(two);
      expect((await s.list('items')).map((u) => [u.id, u.seq])).toEqual([
        ['a', one],
        ['b', three],
      ]);
      expect((await s.list('items', { after: one })).map((u) => u.id)).toEqual(['b']);
      expect(await s.list('items', { after: three })).toEqual([]);
      // Rewriting `a` gives it a new, larger number: deleting through `three` keeps it.
      const four = await s.upsert('items', 'a', null, new Date(T0));
      expect(four).toBeGreaterThan(three);
      expect(await s.deleteThrough('items', three)).toBe(1);
      expect((await s.list('items')).map((u) => [u.id, u.seq])).toEqual([['a', four]]);
      expect((await s.list('other')).map((u) => u.id)).toEqual(['a']);
      // With ids, only those go (and still only through the number).
      const five = await s.upsert('items', 'c', new Float32Array([3]), new Date(T0));
      const manyIds = Array.from({ length: 1200 }, (_, i) => `n${i}`);
      expect(await s.deleteThrough('items', five, [...manyIds, 'c'])).toBe(1);
      expect(await s.deleteThrough('items', five, [])).toBe(0);
      expect((await s.list('items')).map((u) => u.id)).toEqual(['a']);
      expect(await s.deleteThrough('items', four)).toBe(1);
      expect(await s.list('items')).toEqual([]);
      await expect(s.list('items', { after: -1 })).rejects.toThrow(/^after: /);
      await expect(s.deleteThrough('items', 1.5)).rejects.toThrow(/^seq: /);
    });

    it('keeps attributes with the change; null keeps none', async () => {
      const s = await open();
      await s.upsert('items', 'a', new Float32Array([1]), new Date(T0), {
        category: 'stickers',
        lang: 'ja',
      });
      await s.upsert('items', 'b', new Float32Array([1]), new Date(T0), null);
      const listed = await s.list('items');
      expect(listed.map((u) => u.attributes)).toEqual([{ category: 'stickers', lang: 'ja' }, null]);
      await s.upsert('items', 'a', null, new Date(T0), { category: 'fonts' });
      expect((await s.list('items'))[0]!.attributes).toEqual({ category: 'fonts' });
      await expect(
        s.upsert('items', 'c', new Float32Array([1]), new Date(T0), { 'bad name': 'x' }),
      ).rejects.toThrow(/^attributes: /);
      await expect(
        s.upsert('items', 'c', new Float32Array([1]), new Date(T0), {
          category: 3,
        } as unknown as Record<string, string>),
      ).rejects.toThrow(/^attributes\.category: /);
      expect((await s.list('items')).map((u) => u.id)).toEqual(['a', 'b']);
    });

    it('never lets a list miss a change numbered below what it saw (the fold race)', async () => {
      const s = await open();
      const writes = Array.from({ length: 40 }, (_, i) =>
        s.upsert('items', `id-${i % 25}`, new Float32Array([i]), new Date(T0)),
      );
      const views: { id: string; seq: number }[][] = [];
      for (let r = 0; r < 8; r++) views.push(await s.list('items'));
      await Promise.all(writes);
      const final = await s.list('items');
      for (const view of views) {
        // A fold of `view` records its largest number; every change it did not see as it is now
        // must carry a larger one, or a server would never apply it on top of that fold.
        const through = Math.max(0, ...view.map((u) => u.seq));
        const seen = new Set(view.map((u) => `${u.id}@${u.seq}`));
        for (const u of final)
          if (!seen.has(`${u.id}@${u.seq}`)) expect(u.seq).toBeGreaterThan(through);
      }
      expect(final).toHaveLength(25);
    });

    it('keeps indexes apart and takes any string id', async () => {
      const s = await open();
      await s.upsert('items', 'x', new Float32Array([1]), new Date(T0));
      await s.upsert('other-2', "it's ✓ / ; drop", new Float32Array([2]), new Date(T0));
      expect((await s.list('items')).map((u) => u.id)).toEqual(['x']);
      expect((await s.list('other-2')).map((u) => u.id)).toEqual(["it's ✓ / ; drop"]);
      expect(await s.list('none')).toEqual([]);
    });

    it('keeps every one of concurrent upserts', async () => {
      const s = await open();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s.upsert(
            'items',
            `id-${String(i).padStart(2, '0')}`,
            new Float32Array([i]),
            new Date(T0),
          ),
        ),
      );
      const listed = await s.list('items');
      expect(listed.map((u) => u.vector![0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('refuses bad arguments naming the field, writing nothing', async () => {
      const s = await open();
      const v = new Float32Array([1]);
      const at = new Date(T0);
      await expect(s.upsert('bad name', 'a', v, at)).rejects.toThrow(/^index: /);
      await expect(s.upsert('items', '', v, at)).rejects.toThrow(/^id: /);
      await expect(s.upsert('items', 'x'.repeat(257), v, at)).rejects.toThrow(/^id: /);
      await expect(s.upsert('items', 'a', new Float32Array([1, Number.NaN]), at)).rejects.toThrow(
        /^vector: element 1 is NaN/,
      );
      await expect(s.upsert('items', 'a', new Float32Array(0), at)).rejects.toThrow(/^vector: /);
      await expect(
        s.upsert('items', 'a', [1] as unknown as Float32Array, at),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(s.upsert('items', 'a', v, new Date(Number.NaN))).rejects.toThrow(/^at: /);
      await expect(s.list('../x')).rejects.toThrow(/^index: /);
      expect(await s.list('items')).toEqual([]);
    });
  });
}
