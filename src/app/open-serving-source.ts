/**
 * The composition root's {@link ServingSourceOpener}: how stage `serving` sources open the store
 * they read. Stage workers on other threads and processes reach it through
 * {@link servingSourceOpenerRef}. The store adapters (and so `better-sqlite3` and `ioredis`) load
 * by dynamic import on first use.
 *
 * @module
 */
import { DataError, InvalidArgumentError } from '../core/errors.js';
import type {
  ServingSourceOpener,
  ServingSourceOpenerRef,
  ServingSourceStore,
} from '../stages/source.js';

/**
 * Opens the serving store at `url` for reading as a stage source: `sqlite:PATH` read-only (the
 * file must exist; its keys come sorted), or `redis://HOST:PORT[/DB][?prefix=P]` lazily (keys
 * under `P`, default `kiban:`; listed in SCAN order).
 * @throws InvalidArgumentError naming `field` for `memory:` or `sqlite::memory:` (private to the
 *   process that opened it) or any other URL
 * @throws DataError naming the file when the SQLite file cannot be opened
 */
export const openServingSource: ServingSourceOpener = async (url, field) => {
  if (
    typeof url === 'string' &&
    url.startsWith('sqlite:') &&
    url.length > 'sqlite:'.length &&
    url !== 'sqlite::memory:'
  ) {
    const path = url.slice('sqlite:'.length);
    const { SqliteServingStore } = await import('../storage/sqlite-serving-store.js');
    try {
      return {
        store: new SqliteServingStore(path, { readOnly: true }),
        keyOrder: 'sorted',
        file: path,
        name: 'SQLite',
      } satisfies ServingSourceStore;
    } catch (cause) {
      throw new DataError(
        { file: path },
        `cannot open the serving store: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  if (typeof url === 'string' && (url.startsWith('redis://') || url.startsWith('rediss://'))) {
    const at = url.indexOf('?');
    const prefix = at < 0 ? null : new URLSearchParams(url.slice(at + 1)).get('prefix');
    const { RedisServingStore } = await import('../storage/redis-serving-store.js');
    return {
      store: new RedisServingStore(at < 0 ? url : url.slice(0, at), {
        prefix: prefix ?? 'kiban:',
        redis: { lazyConnect: true },
      }),
      keyOrder: 'scan',
      file: url,
      name: 'Redis',
    } satisfies ServingSourceStore;
  }
  throw new InvalidArgumentError(
    field,
    `"${String(url)}" cannot be read as a source; use sqlite:PATH or redis://HOST:PORT (a memory: or in-memory SQLite store is private to the process that opened it)`,
  );
};

/**
 * {@link openServingSource} as a reference stage workers on other threads and processes import
 * (the `servingSourceOpener` option of a stage run).
 */
export function servingSourceOpenerRef(): ServingSourceOpenerRef {
  return { module: import.meta.url, export: 'openServingSource' };
}
