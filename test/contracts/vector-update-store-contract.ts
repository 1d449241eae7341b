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
      expect(again).toEqual([
        { id: 'a', vector: new Float32Array([5, 6]), at: new Date(T0 + 4) },
        { id: 'b', vector: null, at: new Date(T0 + 3) },
      ]);
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
