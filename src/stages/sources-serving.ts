/**
 * Serving-store sources of `sources.ts`: published lists read through the {@link ServingStore}
 * seam (`listKeys`, and `getList` pinned to a version) from a SQLite file or Redis. `sources.ts`
 * loads this module only when a stage reads one, so other stages' workers do not load either
 * client.
 *
 * @module
 */
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { RedisServingStore } from '../storage/redis-serving-store.js';
import type { KeyPage, ServingStore } from '../storage/serving-store.js';
import { SqliteServingStore } from '../storage/sqlite-serving-store.js';
import type { SourcePartition } from './source.js';
import { numbered, splitEvenly } from './sources-common.js';

/**
 * Locator of a serving partition: the version planned against (pinned) and a share of its keys —
 * for SQLite a run of `count` keys in key order starting after `cursor` (a `listKeys` cursor of
 * that version, null for the first key), for Redis a hash bucket.
 */
type ServingLocator =
  | { backend: 'sqlite'; version: string; cursor: string | null; count: number }
  | { backend: 'redis'; version: string; shard: number; shards: number };

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
): Promise<{ version: string | null; keys: string[] }> {
  const store = openSourceStore(url);
  try {
    return await allKeys(store, namespace);
  } finally {
    await store.close();
  }
}

type ServingBackend =
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; prefix: string };

function servingBackend(url: string): ServingBackend {
  if (
    typeof url === 'string' &&
    url.startsWith('sqlite:') &&
    url.length > 'sqlite:'.length &&
    url !== 'sqlite::memory:'
  )
    return { kind: 'sqlite', path: url.slice('sqlite:'.length) };
  if (typeof url === 'string' && (url.startsWith('redis://') || url.startsWith('rediss://'))) {
    const at = url.indexOf('?');
    const prefix = at < 0 ? null : new URLSearchParams(url.slice(at + 1)).get('prefix');
    return { kind: 'redis', url: at < 0 ? url : url.slice(0, at), prefix: prefix ?? 'kiban:' };
  }
  throw new InvalidArgumentError(
    'source.url',
    `"${String(url)}" cannot be read as a source; use sqlite:PATH or redis://HOST:PORT (a memory: or in-memory SQLite store is private to the process that opened it)`,
  );
}

/** The store at `url`, opened for reading: a SQLite file read-only (it must exist), Redis lazily. */
function openSourceStore(url: string): ServingStore {
  const backend = servingBackend(url);
  if (backend.kind === 'redis')
    return new RedisServingStore(backend.url, {
      prefix: backend.prefix,
      redis: { lazyConnect: true },
    });
  try {
    return new SqliteServingStore(backend.path, { readOnly: true });
  } catch (cause) {
    throw new DataError(
      { file: backend.path },
      `cannot open the serving store: ${(cause as Error).message}`,
      { cause },
    );
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
): Promise<SourcePartition[]> {
  const backend = servingBackend(url);
  const store = openSourceStore(url);
  try {
    if (backend.kind === 'sqlite') {
      const { version, keys } = await allKeys(store, namespace);
      if (version === null)
        throw new DataError({ file: backend.path }, 'nothing is published in this serving store');
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
            backend: 'sqlite',
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
      throw new DataError({ file: url }, 'nothing is published in this serving store');
    return numbered(
      Array.from({ length: target }, (_, shard) => ({
        label: `${namespace} shard ${shard + 1}/${target} of ${version}`,
        locator: { backend: 'redis', version, shard, shards: target } satisfies ServingLocator,
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
): AsyncGenerator<unknown[]> {
  const backend = servingBackend(url);
  if (backend.kind === 'sqlite' && loc.backend !== 'sqlite')
    throw new InvalidArgumentError(
      'partition.locator',
      'was not planned for a SQLite serving store',
    );
  if (backend.kind === 'redis' && loc.backend !== 'redis')
    throw new InvalidArgumentError(
      'partition.locator',
      'was not planned for a Redis serving store',
    );
  const gone = (cause: unknown): Error =>
    new NotFoundError(
      `version ${loc.version} of serving store ${url} (it was removed after two newer publishes; plan the partitions again)`,
      { cause },
    );
  const store = openSourceStore(url);
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
    if (loc.backend === 'sqlite') {
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
