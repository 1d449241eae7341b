/**
 * Serving-store sources of `sources.ts`: published lists read through the {@link ServingStore}
 * seam (`listKeys`, and `getList` pinned to a version) from a store opened by the caller's
 * {@link ServingSourceOpener} (the composition root's opens a SQLite file read-only or Redis
 * lazily). `sources.ts` loads this module only when a stage reads one.
 *
 * @module
 */
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { KeyPage, ServingStore } from '../storage/serving-store.js';
import type { ServingSourceOpener, SourcePartition } from './source.js';
import { numbered, splitEvenly } from './sources-common.js';

/**
 * Locator of a serving partition: the version planned against (pinned) and a share of its keys —
 * for a store with sorted keys (SQLite) a run of `count` keys in key order starting after
 * `cursor` (a `listKeys` cursor of that version, null for the first key), for one listed in SCAN
 * order (Redis) a hash bucket.
 */
type ServingLocator =
  | { keyOrder: 'sorted'; version: string; cursor: string | null; count: number }
  | { keyOrder: 'scan'; version: string; shard: number; shards: number };

/** Keys asked for per `listKeys` page while planning. */
const PLAN_PAGE = 10_000;

/**
 * The keys of `namespace` in the current version of the serving store at `url`, in key order
 * for SQLite (SCAN order for Redis), and that version, through {@link ServingStore.listKeys}. A
 * `memory:` store is private to the process that opened it, so it cannot be listed. Keys come
 * back in their stored (string) form.
 */
export async function listServingKeys(
  url: string,
  namespace: string,
  open: ServingSourceOpener,
): Promise<{ version: string | null; keys: string[] }> {
  const { store } = await open(url, 'source.url');
  try {
    return await allKeys(store, namespace);
  } finally {
    await store.close();
  }
}

/** Every key of `namespace` in the current version, and that version (all pages on one version). */
async function allKeys(
  store: ServingStore,
  namespace: string,
): Promise<{ version: string | null; keys: string[] }> {
  let page = await store.listKeys(namespace, { limit: PLAN_PAGE });
  const keys = [...page.keys];
  while (page.cursor !== null) {
    page = await store.listKeys(namespace, { cursor: page.cursor, limit: PLAN_PAGE });
    keys.push(...page.keys);
  }
  return { version: page.version, keys };
}

export async function planServing(
  url: string,
  namespace: string,
  target: number,
  open: ServingSourceOpener,
): Promise<SourcePartition[]> {
  const { store, keyOrder, file } = await open(url, 'source.url');
  try {
    if (keyOrder === 'sorted') {
      const { version, keys } = await allKeys(store, namespace);
      if (version === null)
        throw new DataError({ file }, 'nothing is published in this serving store');
      // Shares are runs of keys in key order, each starting at the cursor that ends the run
      // before it, so each partition reads one index range of the pinned version.
      const shares = splitEvenly(keys.length, target);
      const cursors: (string | null)[] = [null];
      for (const [start, end] of shares.slice(0, -1)) {
        const page = await store.listKeys(
          namespace,
          cursors[cursors.length - 1] === null
            ? { version, limit: end - start }
            : { cursor: cursors[cursors.length - 1]!, limit: end - start },
        );
        cursors.push(page.cursor);
      }
      return numbered(
        shares.map(([start, end], i) => ({
          label: `${namespace} keys ${start}–${end} of ${version}`,
          locator: {
            keyOrder: 'sorted',
            version,
            cursor: cursors[i],
            count: end - start,
          } satisfies ServingLocator,
        })),
      );
    }
    // Redis keys come unordered from SCAN: shares are hash buckets, each partition lists all keys
    // of the version and keeps its own (no key list travels in the locators).
    const version = (await store.currentVersion())?.version ?? null;
    if (version === null)
      throw new DataError({ file }, 'nothing is published in this serving store');
    return numbered(
      Array.from({ length: target }, (_, shard) => ({
        label: `${namespace} shard ${shard + 1}/${target} of ${version}`,
        locator: { keyOrder: 'scan', version, shard, shards: target } satisfies ServingLocator,
      })),
    );
  } finally {
    await store.close();
  }
}

export async function* readServing(
  url: string,
  namespace: string,
  loc: ServingLocator,
  batchSize: number,
  open: ServingSourceOpener,
): AsyncGenerator<unknown[]> {
  const { store, keyOrder, name } = await open(url, 'source.url');
  if (loc.keyOrder !== keyOrder) {
    await store.close();
    throw new InvalidArgumentError(
      'partition.locator',
      `was not planned for a ${name} serving store`,
    );
  }
  const gone = (cause: unknown): Error =>
    new NotFoundError(
      `version ${loc.version} of serving store ${url} (it was removed after two newer publishes; plan the partitions again)`,
      { cause },
    );
  // The lists of `keys` in the pinned version, as records; a version collected meanwhile is `gone`.
  const records = async (keys: readonly string[]): Promise<unknown[]> => {
    const lists = await Promise.all(
      keys.map((key) => store.getList(namespace, key, { version: loc.version })),
    );
    return keys.flatMap((key, i) => (lists[i] === null ? [] : [{ key, items: lists[i] }]));
  };
  const pinned = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw error instanceof NotFoundError ? gone(error) : error;
    }
  };
  try {
    if (loc.keyOrder === 'sorted') {
      let left = loc.count;
      let cursor = loc.cursor;
      while (left > 0) {
        const limit = Math.min(batchSize, left);
        const from = cursor;
        const page: KeyPage = await pinned(() =>
          store.listKeys(
            namespace,
            from === null ? { version: loc.version, limit } : { cursor: from, limit },
          ),
        );
        const keys = page.keys.slice(0, left);
        if (keys.length > 0) yield await pinned(() => records(keys));
        left -= keys.length;
        cursor = page.cursor;
        if (cursor === null) break;
      }
      return;
    }
    let cursor: string | null = null;
    let keys: string[] = [];
    do {
      const from: string | null = cursor;
      const page: KeyPage = await pinned(() =>
        store.listKeys(
          namespace,
          from === null
            ? { version: loc.version, limit: batchSize }
            : { cursor: from, limit: batchSize },
        ),
      );
      for (const key of page.keys) {
        if (loc.shards > 1 && bucket(key, loc.shards) !== loc.shard) continue;
        keys.push(key);
        if (keys.length >= batchSize) {
          const batch = keys;
          keys = [];
          yield await pinned(() => records(batch));
        }
      }
      cursor = page.cursor;
    } while (cursor !== null);
    if (keys.length > 0) yield await pinned(() => records(keys));
  } finally {
    await store.close();
  }
}

/** FNV-1a of a key, modulo `n`: a stable bucket whatever process computes it. */
function bucket(key: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}
