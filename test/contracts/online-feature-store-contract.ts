import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import {
  entityKey,
  type MaterializedMark,
  type OnlineFeatureStore,
  type OnlineWrite,
} from '../../src/features/online-store.js';

const F = ['clicks', 'spend', 'name'] as const;

function row(key: string, eventTime: number, createdTime: number, values: unknown[]): OnlineWrite {
  return { key, eventTime, createdTime, values: values as OnlineWrite['values'] };
}

/**
 * The {@link OnlineFeatureStore} contract: every implementation (memory, SQLite, Redis) passes
 * the same cases. `factory` returns a new, empty store each time.
 */
export function describeOnlineFeatureStore(
  name: string,
  factory: () => Promise<OnlineFeatureStore>,
): void {
  describe(`OnlineFeatureStore contract: ${name}`, () => {
    let store: OnlineFeatureStore;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await store.close();
    });

    it('reads null for unknown keys and views, in the order asked, and nothing for no keys', async () => {
      expect(await store.read('nope', ['a', 'b'])).toEqual([null, null]);
      await store.write('v', F, [row('a', 10, 10, [1, 2.5, 'x'])]);
      expect(await store.read('v', [])).toEqual([]);
      const got = await store.read('v', ['zz', 'a', 'zz']);
      expect(got[0]).toBeNull();
      expect(got[2]).toBeNull();
      expect(got[1]).toEqual({
        eventTime: 10,
        createdTime: 10,
        values: [1, 2.5, 'x'],
        features: F,
      });
      expect(await store.read('other', ['a'])).toEqual([null]);
    });

    it('keeps the newest row: later event time wins, equal event time goes to the later created time', async () => {
      expect(await store.write('v', F, [row('a', 100, 100, [1, 1, 'first'])])).toBe(1);
      // Older event time: ignored, whatever its created time.
      expect(await store.write('v', F, [row('a', 99, 10_000, [2, 2, 'older'])])).toBe(0);
      expect((await store.read('v', ['a']))[0]?.values).toEqual([1, 1, 'first']);
      // Same event time, older created time: ignored.
      expect(await store.write('v', F, [row('a', 100, 50, [3, 3, 'created earlier'])])).toBe(0);
      expect((await store.read('v', ['a']))[0]?.values).toEqual([1, 1, 'first']);
      // Same event time, later created time: replaces.
      expect(await store.write('v', F, [row('a', 100, 150, [4, 4, 'created later'])])).toBe(1);
      expect(await store.read('v', ['a'])).toEqual([
        { eventTime: 100, createdTime: 150, values: [4, 4, 'created later'], features: F },
      ]);
      // Later event time with an earlier created time: event time decides.
      expect(await store.write('v', F, [row('a', 101, 0, [5, 5, 'newer'])])).toBe(1);
      expect((await store.read('v', ['a']))[0]).toMatchObject({ eventTime: 101, createdTime: 0 });
      // Both times equal, other values: a correction, stored.
      expect(await store.write('v', F, [row('a', 101, 0, [6, 6, 'fixed'])])).toBe(1);
      expect((await store.read('v', ['a']))[0]?.values).toEqual([6, 6, 'fixed']);
    });

    it('applies the rows of one call in order, and a rewrite of the same rows stores nothing', async () => {
      const rows = Array.from({ length: 1_234 }, (_, i) =>
        row(`k${i}`, 1_000 + i, 2_000 + i, [i, i / 7, `n${i}`]),
      );
      expect(await store.write('v', F, rows)).toBe(rows.length);
      expect(await store.write('v', F, rows)).toBe(0);
      expect(await store.write('v', F, rows.slice(100, 300))).toBe(0);
      const got = await store.read(
        'v',
        rows.map((r) => r.key),
      );
      expect(got.map((r) => r?.values)).toEqual(rows.map((r) => r.values));
      // Within a call, the later of two rows for a key is applied after the earlier one.
      expect(
        await store.write('v', F, [
          row('dup', 5, 5, [1, 1, 'old']),
          row('dup', 6, 6, [2, 2, 'new']),
        ]),
      ).toBe(2);
      expect(
        await store.write('v', F, [
          row('dup2', 6, 6, [2, 2, 'new']),
          row('dup2', 5, 5, [1, 1, 'old']),
        ]),
      ).toBe(1);
      const dups = await store.read('v', ['dup', 'dup2']);
      expect(dups.map((r) => r?.values[2])).toEqual(['new', 'new']);
    });

    it('keeps composite keys apart and reads keys with separators and non-ASCII', async () => {
      const keys = [
        entityKey(['u1', 42n]),
        entityKey(['u1', 4]),
        entityKey(['u14', 2]),
        entityKey(['ü🙂', '']),
        entityKey(['a:b/c d']),
        entityKey([7]),
        entityKey(['7']),
      ];
      expect(new Set(keys).size).toBe(6); // 7 and '7' are the same key by design: a key is its text
      const distinct = [...new Set(keys)];
      await store.write(
        'pair',
        ['i'],
        distinct.map((key, i) => row(key, 1, 1, [i])),
      );
      const got = await store.read('pair', distinct);
      expect(got.map((r) => r?.values[0])).toEqual(distinct.map((_, i) => i));
    });

    it('stores nulls, booleans, floats, unicode strings and int64 beyond 2^53 as decimal strings', async () => {
      const features = ['n', 'b', 'f', 's', 'big', 'neg', 'safe', 'safeBig', 'empty'];
      const values = [
        null,
        false,
        1 / 3,
        'naïve — 日本語 🙂 \u0000 end',
        2n ** 63n - 1n,
        -(2n ** 53n) - 1n,
        2 ** 53 - 1,
        123n,
        '',
      ];
      await store.write('types', features, [row('e', 1, 1, values)]);
      const [got] = await store.read('types', ['e']);
      expect(got?.features).toEqual(features);
      expect(got?.values).toEqual([
        null,
        false,
        1 / 3,
        'naïve — 日本語 🙂 \u0000 end',
        '9223372036854775807',
        '-9007199254740993',
        9007199254740991,
        123,
        '',
      ]);
      // Written as the string it reads back as: the same row, so nothing changes.
      expect(await store.write('types', features, [row('e', 1, 1, got!.values as unknown[])])).toBe(
        0,
      );
    });

    it('names each row by the features it was written with, after the view changed', async () => {
      await store.write('v', ['a', 'b'], [row('old', 1, 1, [1, 2]), row('both', 1, 1, [1, 2])]);
      await store.write(
        'v',
        ['b', 'c', 'd'],
        [row('new', 2, 2, [3, 4, 5]), row('both', 2, 2, [6, 7, 8])],
      );
      const [old, fresh, both] = await store.read('v', ['old', 'new', 'both']);
      expect(old).toMatchObject({ features: ['a', 'b'], values: [1, 2] });
      expect(fresh).toMatchObject({ features: ['b', 'c', 'd'], values: [3, 4, 5] });
      expect(both).toMatchObject({ features: ['b', 'c', 'd'], values: [6, 7, 8] });
    });

    it('refuses malformed writes by field, writing none of the call', async () => {
      const refused = async (promise: Promise<unknown>, field: string): Promise<void> => {
        const error = await promise.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe(field);
      };
      await refused(
        store.write('v', F, [row('ok', 1, 1, [1, 1, 'x']), row('short', 1, 1, [1])]),
        'rows[1].values',
      );
      await refused(store.write('v', F, [row('t', Number.NaN, 1, [1, 1, 'x'])]), 'rows[0]');
      await refused(store.write('', F, []), 'view');
      await refused(store.write('v', ['a', 'a'], []), 'features');
      await refused(store.write('v', ['d'], [row('d', 1, 1, [new Map()])]), 'rows[0].values');
      expect(await store.read('v', ['ok', 'short', 't'])).toEqual([null, null, null]);
    });

    it('clears one view, its rows and its mark, leaving the others', async () => {
      await store.write('a', F, [row('k', 1, 1, [1, 1, 'a'])]);
      await store.write('b', F, [row('k', 1, 1, [2, 2, 'b'])]);
      const mark = { start: 0, end: 86_400_000, newestEventTime: 1, updatedAt: 5 };
      await store.setMaterialized('a', mark);
      await store.setMaterialized('b', { ...mark, end: 2 * 86_400_000 });
      await store.clearView('a');
      await store.clearView('never-written');
      expect(await store.read('a', ['k'])).toEqual([null]);
      expect((await store.read('b', ['k']))[0]?.values).toEqual([2, 2, 'b']);
      expect(await store.getMaterialized('a')).toBeNull();
      expect(await store.getMaterialized('b')).toEqual({ ...mark, end: 2 * 86_400_000 });
      // Written again after the clear: stored as new, even at an older time.
      expect(await store.write('a', ['x'], [row('k', 0, 0, ['again'])])).toBe(1);
      expect(await store.read('a', ['k'])).toEqual([
        { eventTime: 0, createdTime: 0, values: ['again'], features: ['x'] },
      ]);
    });

    it('samples up to limit distinct keys of a view that hold rows, none of other views', async () => {
      expect(await store.sampleKeys?.('v', 5)).toEqual([]);
      const keys = Array.from({ length: 40 }, (_, i) => entityKey([`k${i}`, i]));
      await store.write(
        'v',
        F,
        keys.map((k, i) => row(k, i + 1, i + 1, [i, i, 'x'])),
      );
      await store.write('w', F, [row('other', 1, 1, [1, 1, 'y'])]);
      const some = (await store.sampleKeys?.('v', 7)) ?? [];
      expect(some).toHaveLength(7);
      expect(new Set(some).size).toBe(7);
      for (const k of some) expect(keys).toContain(k);
      const all = (await store.sampleKeys?.('v', 100)) ?? [];
      expect([...all].sort()).toEqual([...keys].sort());
      expect(await store.sampleKeys?.('w', 10)).toEqual(['other']);
      expect(await store.sampleKeys?.('nope', 10)).toEqual([]);
    });

    it('keeps materialisation marks per view, replacing and listing them', async () => {
      expect(await store.getMaterialized('v')).toBeNull();
      expect(await store.listMaterialized()).toEqual(new Map());
      const first: MaterializedMark = {
        start: 1_000,
        end: 2_000,
        newestEventTime: null,
        updatedAt: 3,
      };
      await store.setMaterialized('v', first);
      expect(await store.getMaterialized('v')).toEqual(first);
      const second: MaterializedMark = {
        start: 1_000,
        end: 3_000,
        newestEventTime: 2_999.5,
        updatedAt: 4,
      };
      await store.setMaterialized('v', second);
      await store.setMaterialized('w', first);
      expect(await store.getMaterialized('v')).toEqual(second);
      expect(await store.listMaterialized()).toEqual(
        new Map([
          ['v', second],
          ['w', first],
        ]),
      );
      const error = await store
        .setMaterialized('v', { start: 5, end: 4, newestEventTime: null, updatedAt: 0 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(await store.getMaterialized('v')).toEqual(second);
    });
  });
}
