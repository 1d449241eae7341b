import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, KibanError, NotFoundError } from '../../src/core/errors.js';
import type { ExternalId } from '../../src/data/id-map.js';
import type { ScoredItem, ServingStore, VersionWriter } from '../../src/storage/serving-store.js';

/** Ids of both kinds, one that looks like a number, separators, non-ASCII, extreme scores. */
const MIXED: ScoredItem[] = [
  { id: 7, score: 0.9 },
  { id: '7', score: 0.5 },
  { id: 'x:y/z ü', score: 1 / 3 },
  { id: 2 ** 53 - 1, score: -1.5e-300 },
  { id: 0, score: 1e300 },
  { id: '', score: -2 },
];

/** A list whose every item names its version, so a list mixing versions is detectable. */
function tagged(tag: string, key: ExternalId, length = 5): ScoredItem[] {
  return Array.from({ length }, (_, r) => ({ id: `${tag}/${key}/${r}`, score: length - r }));
}

/** The version a tagged list belongs to, or `mixed` / `short` when it is not one whole list. */
function tagOf(items: ScoredItem[] | null, length = 5): string {
  if (items === null) return 'missing';
  if (items.length !== length) return 'short';
  const tags = new Set(items.map((item) => String(item.id).split('/')[0]));
  return tags.size === 1 ? [...tags][0] : 'mixed';
}

function* taggedEntries(tag: string, from: number, to: number): Generator<[number, ScoredItem[]]> {
  for (let key = from; key < to; key++) yield [key, tagged(tag, key)];
}

/** Lets readers and writers in this process take turns (the stores' calls may be synchronous inside). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function publish(store: ServingStore, version: string, keys = 3): Promise<void> {
  const writer = await store.beginVersion(version, { tag: version });
  await writer.putLists('user', taggedEntries(version, 0, keys));
  await writer.commit();
}

async function refusal(promise: Promise<unknown>): Promise<KibanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KibanError);
  return error as KibanError;
}

async function refusedField(promise: Promise<unknown>, field: string): Promise<void> {
  const error = await refusal(promise);
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).field).toBe(field);
}

/** What the contract lets backends differ in. */
export interface ServingStoreTraits {
  /**
   * `listKeys` pages are key ranges in UTF-8 byte order, each but the last exactly `limit` keys
   * long, with no key twice (memory, SQLite); otherwise SCAN order (Redis). @defaultValue true
   */
  orderedKeys?: boolean;
}

/** Every key of `list` through `listKeys` pages of `limit`, checking each page's version. */
async function allKeys(
  store: ServingStore,
  list: string,
  limit: number,
  version: string,
  ordered: boolean,
  between?: () => Promise<void>,
): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    const page = await store.listKeys(list, cursor === undefined ? { limit } : { cursor, limit });
    expect(page.version).toBe(version);
    if (ordered && page.cursor !== null) expect(page.keys).toHaveLength(limit);
    keys.push(...page.keys);
    if (page.cursor === null) return keys;
    expect(pages).toBeLessThan(10_000);
    cursor = page.cursor;
    if (between) await between();
  }
}

const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Store options the suite varies: passed to the factory, absent for the defaults. */
export interface ServingStoreFactoryOptions {
  /** Committed versions kept, as the backends' `retainVersions` option. */
  retainVersions?: number;
}

/**
 * The conformance suite every {@link ServingStore} runs. `factory` must return a new, empty store
 * on each call (the suite closes each one), with `options` applied; stores of one factory must not
 * share state.
 */
export function describeServingStore(
  name: string,
  factory: (options?: ServingStoreFactoryOptions) => Promise<ServingStore>,
  traits: ServingStoreTraits = {},
): void {
  const ordered = traits.orderedKeys ?? true;
  describe(`ServingStore contract: ${name}`, () => {
    let store: ServingStore;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await store.close();
    });

    it('starts with nothing published', async () => {
      expect(await store.currentVersion()).toBeNull();
      expect(await store.getList('user', 1)).toBeNull();
      expect(await store.get('anything')).toBeUndefined();
    });

    it('publishes lists that read back exactly, whole or in slices', async () => {
      const before = Date.now();
      const writer = await store.beginVersion('v1', { model: 'als', metrics: { 'ndcg@10': 0.25 } });
      expect(writer.version).toBe('v1');
      await writer.putLists('user', [
        [1, MIXED],
        ['alice', tagged('v1', 'alice')],
        ['empty', []],
      ]);
      await writer.putLists('related', [[1, tagged('r', 1, 3)]]);
      await writer.commit();

      const info = await store.currentVersion();
      expect(info).toMatchObject({
        version: 'v1',
        meta: { model: 'als', metrics: { 'ndcg@10': 0.25 } },
      });
      const publishedAt = Date.parse(info!.publishedAt);
      expect(publishedAt).toBeGreaterThanOrEqual(before - 1000);
      expect(publishedAt).toBeLessThanOrEqual(Date.now() + 1000);

      const whole = await store.getList('user', 1);
      expect(whole).toEqual(MIXED);
      expect(whole!.map((item) => typeof item.id)).toEqual(MIXED.map((item) => typeof item.id));
      // A key is addressed by its string form: HTTP hands ids over as strings.
      expect(await store.getList('user', '1')).toEqual(MIXED);
      expect(await store.getList('user', 1, { offset: 1, limit: 2 })).toEqual(MIXED.slice(1, 3));
      expect(await store.getList('user', 1, { limit: 3 })).toEqual(MIXED.slice(0, 3));
      expect(await store.getList('user', 1, { offset: 4 })).toEqual(MIXED.slice(4));
      expect(await store.getList('user', 1, { offset: 99 })).toEqual([]);
      expect(await store.getList('user', 1, { limit: 0 })).toEqual([]);
      expect(await store.getList('user', 'empty')).toEqual([]);
      expect(await store.getList('user', 'alice')).toEqual(tagged('v1', 'alice'));
      expect(await store.getList('related', 1)).toEqual(tagged('r', 1, 3));
      expect(await store.getList('user', 'nobody')).toBeNull();
      expect(await store.getList('other', 1)).toBeNull();
    });

    it('keeps the last write of a list and key, and runs unawaited writes in call order', async () => {
      const writer = await store.beginVersion('v1', {});
      const writes = [
        writer.putLists('user', [[1, tagged('first', 1)]]),
        writer.putLists('user', [[1, tagged('last', 1)]]),
        writer.putLists('related', taggedEntries('rel', 0, 2500)),
      ];
      await writer.commit();
      await Promise.all(writes);
      expect(await store.getList('user', 1)).toEqual(tagged('last', 1));
      expect(tagOf(await store.getList('related', 2499))).toBe('rel');
    });

    it('refuses an existing or malformed version name, and malformed meta', async () => {
      await publish(store, 'v1');
      await refusedField(store.beginVersion('v1', {}), 'version');
      const open = await store.beginVersion('v2', {});
      await refusedField(store.beginVersion('v2', {}), 'version');
      await open.abort();
      for (const bad of ['', 'a b', 'a:b', 'x'.repeat(65), 'é', 'a/b'])
        await refusedField(store.beginVersion(bad, {}), 'version');
      await refusedField(
        store.beginVersion('v3', null as unknown as Record<string, unknown>),
        'meta',
      );
      await refusedField(
        store.beginVersion('v3', [] as unknown as Record<string, unknown>),
        'meta',
      );
      expect((await store.currentVersion())?.version).toBe('v1');
      const ok = await store.beginVersion(`A-z.0_${'9'.repeat(58)}`, {});
      await ok.abort();
    });

    it('refuses malformed lists, keys, items and ranges, naming the field', async () => {
      const writer = await store.beginVersion('v1', {});
      await refusedField(writer.putLists('bad:list', []), 'list');
      await refusedField(writer.putLists('', []), 'list');
      await refusedField(writer.putLists('user', [[Number.NaN, []]]), 'entries[0].key');
      await refusedField(
        writer.putLists('user', [
          [1, []],
          ['', []],
        ]),
        'entries[1].key',
      );
      await refusedField(
        writer.putLists('user', [
          [
            1,
            [
              { id: 1, score: 1 },
              { id: 2, score: Number.NaN },
            ],
          ],
        ]),
        'entries[0].items[1].score',
      );
      await refusedField(
        writer.putLists('user', [[1, [{ id: {} as unknown as ExternalId, score: 1 }]]]),
        'entries[0].items[0].id',
      );
      await refusedField(
        writer.putLists('user', [[1, [{ id: Infinity, score: 1 }]]]),
        'entries[0].items[0].id',
      );
      await writer.putLists('user', [[1, tagged('v1', 1)]]);
      await writer.commit();
      await refusedField(store.getList('user', 1, { offset: -1 }), 'offset');
      await refusedField(store.getList('user', 1, { limit: 1.5 }), 'limit');
      await refusedField(store.getList('no:such', 1), 'list');
      await refusedField(store.getList('user', Number.NaN), 'key');
      expect(await store.getList('user', 1)).toEqual(tagged('v1', 1));
    });

    it('keeps uncommitted writes invisible', async () => {
      await publish(store, 'v1');
      const writer = await store.beginVersion('v2', { tag: 'v2' });
      await writer.putLists('user', [
        [0, tagged('v2', 0)],
        ['new', tagged('v2', 'new')],
      ]);
      expect((await store.currentVersion())?.version).toBe('v1');
      expect(tagOf(await store.getList('user', 0))).toBe('v1');
      expect(await store.getList('user', 'new')).toBeNull();
      await writer.commit();
      expect(await store.currentVersion()).toMatchObject({ version: 'v2', meta: { tag: 'v2' } });
      expect(tagOf(await store.getList('user', 0))).toBe('v2');
      expect(tagOf(await store.getList('user', 'new'))).toBe('v2');
      // The new version is whole on its own: v1's other keys are not carried over.
      expect(await store.getList('user', 1)).toBeNull();
    });

    it('discards an aborted version and frees its name', async () => {
      await publish(store, 'v1');
      const writer = await store.beginVersion('v2', {});
      await writer.putLists('user', taggedEntries('v2', 0, 3));
      await writer.abort();
      await writer.abort();
      expect((await store.currentVersion())?.version).toBe('v1');
      expect(tagOf(await store.getList('user', 0))).toBe('v1');
      await refusedField(writer.commit(), 'version');
      await refusedField(writer.putLists('user', []), 'version');
      const again = await store.beginVersion('v2', {});
      await again.commit();
      // Nothing of the aborted attempt leaks into the version published under its name.
      expect(await store.getList('user', 0)).toBeNull();
    });

    it('refuses a second commit; abort after commit changes nothing', async () => {
      const writer = await store.beginVersion('v1', {});
      await writer.putLists('user', [[0, tagged('v1', 0)]]);
      await writer.commit();
      await refusedField(writer.commit(), 'version');
      await refusedField(writer.putLists('user', []), 'version');
      await writer.abort();
      expect((await store.currentVersion())?.version).toBe('v1');
      expect(tagOf(await store.getList('user', 0))).toBe('v1');
    });

    it('switches versions atomically under concurrent readers', async () => {
      const KEYS = 2000;
      const v1 = await store.beginVersion('v1', {});
      await v1.putLists('user', taggedEntries('v1', 0, KEYS));
      await v1.commit();

      const seen = { v1: 0, v2: 0 };
      const violations: string[] = [];
      let done = false;
      const reader = async (stride: number): Promise<void> => {
        let sawV2 = false;
        for (let i = 0; !done; i++) {
          const key = (i * stride) % KEYS;
          const tag = tagOf(await store.getList('user', key));
          if (tag === 'v1' && !sawV2) seen.v1++;
          else if (tag === 'v2') {
            seen.v2++;
            sawV2 = true;
          } else violations.push(`key ${key}: ${tag}${sawV2 ? ' after v2' : ''}`);
          await turn();
        }
      };
      const readers = [reader(7919), reader(104729), reader(1)];

      const v2 = await store.beginVersion('v2', {});
      for (let from = 0; from < KEYS; from += 100) {
        await v2.putLists('user', taggedEntries('v2', from, from + 100));
        await turn();
      }
      const v1Reads = seen.v1;
      await v2.commit();
      // Once commit has resolved, every read is of v2.
      for (const key of [0, 1, KEYS - 1])
        expect(tagOf(await store.getList('user', key))).toBe('v2');
      while (seen.v2 < 30) await turn();
      done = true;
      await Promise.all(readers);

      expect(violations).toEqual([]);
      expect(v1Reads).toBeGreaterThan(0);
      expect((await store.currentVersion())?.version).toBe('v2');
    });

    it('keeps the last three committed versions by default', async () => {
      for (const version of ['v1', 'v2', 'v3', 'v4']) await publish(store, version);
      expect((await store.currentVersion())?.version).toBe('v4');
      expect(tagOf(await store.getList('user', 2))).toBe('v4');
      // v2 and v3 are still held; v1 is gone, so its name is free again.
      for (const held of ['v2', 'v3', 'v4'])
        await refusedField(store.beginVersion(held, {}), 'version');
      expect(tagOf(await store.getList('user', 0, { version: 'v2' }))).toBe('v2');
      const reused = await store.beginVersion('v1', {});
      await reused.abort();
      expect((await store.listVersions()).map((v) => v.version)).toEqual(['v4', 'v3', 'v2']);
      expect(tagOf(await store.getList('user', 0))).toBe('v4');
    });

    it('keeps retainVersions committed versions: 2 keeps the current and the previous only', async () => {
      await store.close();
      store = await factory({ retainVersions: 2 });
      for (const version of ['v1', 'v2', 'v3']) await publish(store, version);
      expect((await store.listVersions()).map((v) => v.version)).toEqual(['v3', 'v2']);
      const reused = await store.beginVersion('v1', {});
      await reused.abort();
      expect(await refusal(store.rollback('v1'))).toBeInstanceOf(NotFoundError);
      expect(await store.rollback('v2')).toEqual({ from: 'v3', to: 'v2' });

      await store.close();
      store = await factory({ retainVersions: 5 });
      for (const version of ['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'])
        await publish(store, version);
      expect((await store.listVersions()).map((v) => v.version)).toEqual([
        'v7',
        'v6',
        'v5',
        'v4',
        'v3',
      ]);
      expect(await store.rollback('v3')).toEqual({ from: 'v7', to: 'v3' });
      expect(tagOf(await store.getList('user', 1))).toBe('v3');

      for (const bad of [1, 0, 2.5, Number.NaN])
        await refusedField(
          factory({ retainVersions: bad }).then(async (s) => {
            await s.close();
          }),
          'retainVersions',
        );
    });

    it('lists the committed versions held, newest first, with meta and the current one marked', async () => {
      expect(await store.listVersions()).toEqual([]);
      const before = Date.now();
      await publish(store, 'v1');
      const open = await store.beginVersion('v2', { tag: 'v2' });
      await open.putLists('user', taggedEntries('v2', 0, 2));
      // A version being written is not listed.
      expect(await store.listVersions()).toEqual([
        expect.objectContaining({ version: 'v1', meta: { tag: 'v1' }, current: true }),
      ]);
      await open.commit();
      const listed = await store.listVersions();
      expect(listed.map(({ version, meta, current }) => ({ version, meta, current }))).toEqual([
        { version: 'v2', meta: { tag: 'v2' }, current: true },
        { version: 'v1', meta: { tag: 'v1' }, current: false },
      ]);
      for (const v of listed) {
        expect(Date.parse(v.publishedAt)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(v.publishedAt)).toBeLessThanOrEqual(Date.now() + 1000);
      }
      expect(Date.parse(listed[0].publishedAt)).toBeGreaterThanOrEqual(
        Date.parse(listed[1].publishedAt),
      );
      const { current: _, ...info } = listed[0];
      expect(await store.currentVersion()).toEqual(info);
    });

    it('rolls back to a held version and forward again, atomically for every read', async () => {
      await publish(store, 'v1', 4);
      const v1 = await store.currentVersion();
      await publish(store, 'v2', 6);
      expect(await store.rollback('v1')).toEqual({ from: 'v2', to: 'v1' });
      // The old version reads whole: its lists, its keys, its info (publishedAt unchanged).
      expect(await store.currentVersion()).toEqual(v1);
      for (let key = 0; key < 4; key++) expect(tagOf(await store.getList('user', key))).toBe('v1');
      expect(await store.getList('user', 5)).toBeNull();
      expect(new Set(await allKeys(store, 'user', 2, 'v1', ordered))).toEqual(
        new Set(['0', '1', '2', '3']),
      );
      expect((await store.listVersions()).map((v) => [v.version, v.current])).toEqual([
        ['v2', false],
        ['v1', true],
      ]);
      // The newer version is still pinned-readable, and forward again works; so does a no-op.
      expect(tagOf(await store.getList('user', 5, { version: 'v2' }))).toBe('v2');
      expect(await store.rollback('v2')).toEqual({ from: 'v1', to: 'v2' });
      expect(tagOf(await store.getList('user', 5))).toBe('v2');
      expect(await store.rollback('v2')).toEqual({ from: 'v2', to: 'v2' });
      expect(await store.rollback('v1')).toEqual({ from: 'v2', to: 'v1' });
      expect(tagOf(await store.getList('user', 0))).toBe('v1');
    });

    it('refuses to roll back to a version it does not hold committed, naming it', async () => {
      await expect(store.rollback('v1')).rejects.toThrow(/v1/);
      await publish(store, 'v1');
      const aborted = await store.beginVersion('gone', {});
      await aborted.abort();
      const open = await store.beginVersion('open', {});
      await open.putLists('user', taggedEntries('open', 0, 2));
      for (const name of ['never', 'gone', 'open']) {
        const error = await refusal(store.rollback(name));
        expect(error).toBeInstanceOf(NotFoundError);
        expect(error.message).toContain(name);
      }
      await refusedField(store.rollback('no/such'), 'version');
      await refusedField(store.rollback(''), 'version');
      expect((await store.currentVersion())?.version).toBe('v1');
      await open.abort();
    });

    it('publishes after a rollback, keeping the version it replaces', async () => {
      for (const version of ['v1', 'v2', 'v3']) await publish(store, version);
      await store.rollback('v1');
      await publish(store, 'v4');
      expect((await store.currentVersion())?.version).toBe('v4');
      // v1 was being served when v4 came: it is kept as the version replaced, with v3 the newest
      // other; v2 goes.
      expect((await store.listVersions()).map((v) => v.version)).toEqual(['v4', 'v3', 'v1']);
      expect(await refusal(store.rollback('v2'))).toBeInstanceOf(NotFoundError);
      expect(await store.rollback('v1')).toEqual({ from: 'v4', to: 'v1' });
      expect(tagOf(await store.getList('user', 2))).toBe('v1');
      await publish(store, 'v5');
      expect((await store.listVersions()).map((v) => v.version)).toEqual(['v5', 'v4', 'v1']);
      expect(tagOf(await store.getList('user', 2, { version: 'v1' }))).toBe('v1');
    });

    it('rolls back under concurrent readers without a mixed or missing list', async () => {
      const KEYS = 500;
      for (const version of ['v1', 'v2']) {
        const writer = await store.beginVersion(version, {});
        await writer.putLists('user', taggedEntries(version, 0, KEYS));
        await writer.commit();
      }
      const violations: string[] = [];
      const seen = { v1: 0, v2: 0 };
      let rolledBack = false;
      let done = false;
      const reader = async (stride: number): Promise<void> => {
        let sawV1 = false;
        for (let i = 0; !done; i++) {
          const key = (i * stride) % KEYS;
          const settled = rolledBack;
          const tag = tagOf(await store.getList('user', key));
          if (tag === 'v2' && !sawV1 && !settled) seen.v2++;
          else if (tag === 'v1') {
            seen.v1++;
            sawV1 = true;
          } else violations.push(`key ${key}: ${tag}${sawV1 ? ' after v1' : ''}`);
          await turn();
        }
      };
      const readers = [reader(7919), reader(104729), reader(1)];
      while (seen.v2 < 30) await turn();
      await store.rollback('v1');
      rolledBack = true;
      for (const key of [0, 1, KEYS - 1])
        expect(tagOf(await store.getList('user', key))).toBe('v1');
      while (seen.v1 < 30) await turn();
      done = true;
      await Promise.all(readers);
      expect(violations).toEqual([]);
    });

    it('keeps serving through a writer abandoned mid-publish, and collects it later', async () => {
      await publish(store, 'v1');
      const crashed: VersionWriter = await store.beginVersion('v2', {});
      await crashed.putLists('user', taggedEntries('v2', 0, 2));
      // The writer is never committed nor aborted, as if its process died.
      expect((await store.currentVersion())?.version).toBe('v1');
      expect(tagOf(await store.getList('user', 0))).toBe('v1');
      await refusedField(store.beginVersion('v2', {}), 'version');

      await publish(store, 'v3');
      expect((await store.currentVersion())?.version).toBe('v3');
      expect(tagOf(await store.getList('user', 1))).toBe('v3');
      await publish(store, 'v4');
      expect(tagOf(await store.getList('user', 1))).toBe('v4');
      await publish(store, 'v5');
      expect(tagOf(await store.getList('user', 1))).toBe('v5');
      // v2 began before v3 (now the oldest of the three versions kept), so the v5 commit
      // collected it.
      expect(await refusal(crashed.commit())).toBeInstanceOf(NotFoundError);
      expect(await refusal(store.rollback('v2'))).toBeInstanceOf(NotFoundError);
      const reused = await store.beginVersion('v2', {});
      await reused.abort();
      expect((await store.currentVersion())?.version).toBe('v5');
    });

    it('stores unversioned JSON values', async () => {
      const values: unknown[] = [
        { a: [1, 'two', null], b: { c: true } },
        [1, 2, 3],
        'text',
        42.5,
        0,
        false,
        null,
      ];
      for (const [i, value] of values.entries()) await store.set(`k${i}`, value);
      for (const [i, value] of values.entries()) expect(await store.get(`k${i}`)).toEqual(value);
      await store.set('k0', { replaced: 1 });
      expect(await store.get('k0')).toEqual({ replaced: 1 });
      await store.delete('k0');
      await store.delete('never-set');
      expect(await store.get('k0')).toBeUndefined();
      expect(await store.get('k6')).toBeNull();
      await refusedField(store.set('u', undefined), 'value');
      await refusedField(
        store.set('f', () => 1),
        'value',
      );
      await refusedField(store.set('', 1), 'key');
      // The KV space is not versioned: publishing leaves it alone.
      await publish(store, 'v1');
      expect(await store.get('k1')).toEqual([1, 2, 3]);
    });

    it('lists the keys of one list of the current version, page by page', async () => {
      expect(await store.listKeys('user')).toEqual({ version: null, keys: [], cursor: null });
      const odd = ['x:y/z ü', '07', 'a*b', '[c]?', '\u00e9', '\uffff', '\u{1f600}', 'Z'];
      const writer = await store.beginVersion('v1', {});
      await writer.putLists('user', taggedEntries('v1', 0, 2300));
      await writer.putLists(
        'user',
        odd.map((key) => [key, tagged('v1', key)] as const),
      );
      await writer.putLists('related', taggedEntries('rel', 5000, 5010));
      await writer.commit();
      const expected = [...Array.from({ length: 2300 }, (_, k) => String(k)), ...odd];

      const keys = await allKeys(store, 'user', 700, 'v1', ordered);
      expect(new Set(keys)).toEqual(new Set(expected));
      if (ordered) expect(keys).toEqual([...expected].sort(byUtf8));
      const whole = await store.listKeys('related');
      expect(whole.version).toBe('v1');
      expect(whole.cursor).toBeNull();
      expect(whole.keys.sort()).toEqual(Array.from({ length: 10 }, (_, k) => String(5000 + k)));
      expect(await store.listKeys('other')).toEqual({ version: 'v1', keys: [], cursor: null });
      // Default page size: every key in pages of 1000 at most (about that many for Redis).
      expect(new Set(await allKeys(store, 'user', 1000, 'v1', ordered))).toEqual(new Set(expected));
    });

    it('keeps a listing and pinned reads on their version while newer ones are published', async () => {
      await publish(store, 'v1', 60);
      const pages: string[][] = [];
      let page = await store.listKeys('user', { limit: 10 });
      pages.push(page.keys);
      await publish(store, 'v2', 5);
      while (page.cursor !== null) {
        page = await store.listKeys('user', { cursor: page.cursor, limit: 10 });
        expect(page.version).toBe('v1');
        pages.push(page.keys);
      }
      expect(new Set(pages.flat())).toEqual(
        new Set(Array.from({ length: 60 }, (_, k) => String(k))),
      );
      expect(new Set(await allKeys(store, 'user', 3, 'v2', ordered))).toEqual(
        new Set(['0', '1', '2', '3', '4']),
      );
      expect((await store.listKeys('user', { version: 'v1', limit: 100 })).version).toBe('v1');
      expect(await store.getList('user', 42, { version: 'v1' })).toEqual(tagged('v1', 42));
      expect(await store.getList('user', 42, { version: 'v1', offset: 1, limit: 2 })).toEqual(
        tagged('v1', 42).slice(1, 3),
      );
      expect(await store.getList('user', 42)).toBeNull();
      expect(await store.getList('user', 42, { version: 'v2' })).toBeNull();
      expect(await store.getList('user', 4, { version: 'v2' })).toEqual(tagged('v2', 4));
      const later = await store.listKeys('user', { version: 'v1', limit: 5 });
      // v4 is the third version published after v1: v1 is collected.
      await publish(store, 'v3');
      await publish(store, 'v4');
      expect((await refusal(store.listKeys('user', { version: 'v1' }))).code).toBe('NOT_FOUND');
      expect(
        await refusal(store.listKeys('user', { cursor: later.cursor!, limit: 5 })),
      ).toBeInstanceOf(NotFoundError);
      expect(await refusal(store.getList('user', 42, { version: 'v1' }))).toBeInstanceOf(
        NotFoundError,
      );
      expect(await refusal(store.getList('user', 1, { version: 'never' }))).toBeInstanceOf(
        NotFoundError,
      );
      expect(await store.getList('user', 4, { version: 'v2' })).toEqual(tagged('v2', 4));
    });

    it('refuses malformed listKeys options by name', async () => {
      await publish(store, 'v1');
      await refusedField(store.listKeys('bad list'), 'list');
      await refusedField(store.listKeys('user', { limit: 0 }), 'limit');
      await refusedField(store.listKeys('user', { limit: 1.5 }), 'limit');
      await refusedField(store.listKeys('user', { version: 'no/such' }), 'version');
      await refusedField(store.listKeys('user', { cursor: 'garbage' }), 'cursor');
      await refusedField(store.getList('user', 1, { version: '' }), 'version');
    });

    it('stores vectors per version beside the lists, switched in with them', async () => {
      const matrix = new Float32Array([1, -2.5, 3e-8, 0.1, 4, 5, -6, 7]);
      const w1 = await store.beginVersion('v1', {});
      await w1.putLists('user', taggedEntries('v1', 0, 2));
      await w1.putVectors('user', [
        ['a', matrix.subarray(0, 4)],
        [7, matrix.subarray(4, 8)],
      ]);
      // Not visible before the commit.
      expect(await store.getVector('user', 'a')).toBeNull();
      await w1.commit();
      expect(await store.getVector('user', 'a')).toEqual(new Float32Array([1, -2.5, 3e-8, 0.1]));
      // Keys in their string form, as lists; float32 values come back bit for bit.
      expect(await store.getVector('user', '7')).toEqual(new Float32Array([4, 5, -6, 7]));
      expect(await store.getVector('user', 'nobody')).toBeNull();
      expect(await store.getVector('other', 'a')).toBeNull();
      // A space and a list of one name never meet: neither the list nor its keys change.
      expect(await store.getList('user', 'a')).toBeNull();
      expect(tagOf(await store.getList('user', 1))).toBe('v1');
      expect(await allKeys(store, 'user', 10, 'v1', ordered)).toHaveLength(2);
      // A fresh array each read: changing it changes nothing stored, nor does reusing the input.
      (await store.getVector('user', 'a'))![0] = 99;
      matrix.fill(0);
      expect((await store.getVector('user', 'a'))![0]).toBe(1);

      const w2 = await store.beginVersion('v2', {});
      await w2.putVectors('user', [['a', new Float32Array([8])]]);
      expect((await store.getVector('user', 'a'))![0]).toBe(1);
      await w2.commit();
      expect(await store.getVector('user', 'a')).toEqual(new Float32Array([8]));
      expect(await store.getVector('user', '7')).toBeNull();
      expect(await store.getVector('user', '7', { version: 'v1' })).toEqual(
        new Float32Array([4, 5, -6, 7]),
      );
      expect(await refusal(store.getVector('user', 'a', { version: 'never' }))).toBeInstanceOf(
        NotFoundError,
      );
    });

    it('refuses malformed vectors by name and aborts them with the version', async () => {
      const w = await store.beginVersion('v1', {});
      await refusedField(w.putVectors('bad space', [['a', new Float32Array([1])]]), 'space');
      await refusedField(
        w.putVectors('user', [['a', [1, 2] as unknown as Float32Array]]),
        'entries[0].vector',
      );
      await refusedField(
        w.putVectors('user', [
          ['a', new Float32Array([1])],
          ['b', new Float32Array([1, Number.NaN])],
        ]),
        'entries[1].vector',
      );
      await refusedField(w.putVectors('user', [['a', new Float32Array(0)]]), 'entries[0].vector');
      await w.putVectors('user', [['c', new Float32Array([1])]]);
      await w.abort();
      await publish(store, 'v2');
      expect(await store.getVector('user', 'c')).toBeNull();
      await refusedField(store.getVector('no/such', 'c'), 'space');
    });

    it('answers ping until closed, and closes twice without error', async () => {
      expect(await store.ping()).toBe(true);
      await store.close();
      expect(await store.ping()).toBe(false);
      await store.close();
    });
  });
}
