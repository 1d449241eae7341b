import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { RedisServingStore } from '../storage/redis-serving-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import { SqliteServingStore } from '../storage/sqlite-serving-store.js';

/**
 * Opens the serving store a URL names: `memory:`, `sqlite:PATH` (embedded default; the directory
 * is created) or `redis://HOST:PORT[/DB]`. The only place a URL becomes a backend.
 */
export async function openServingStore(url: string, field = 'stores.serving'): Promise<ServingStore> {
  if (url === 'memory:') return new MemoryServingStore();
  if (url.startsWith('sqlite:')) {
    const path = await sqlitePath(url, field);
    return new SqliteServingStore(path);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return new RedisServingStore(url);
  throw new InvalidArgumentError(field, `"${url}" is not a serving store URL; use memory:, sqlite:PATH or redis://HOST:PORT`);
}

/**
 * Opens and migrates the metadata store a URL names: `sqlite:PATH` (embedded default),
 * `sqlite::memory:` or `postgres://USER@HOST:PORT/DB`.
 */
export async function openMetadataStore(url: string, field = 'stores.metadata'): Promise<MetadataStore> {
  let store: MetadataStore;
  if (url.startsWith('sqlite:')) store = KyselyMetadataStore.sqlite(await sqlitePath(url, field));
  else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) store = KyselyMetadataStore.postgres(url);
  else throw new InvalidArgumentError(field, `"${url}" is not a metadata store URL; use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
  await store.migrate();
  return store;
}

async function sqlitePath(url: string, field: string): Promise<string> {
  const path = url.slice('sqlite:'.length);
  if (path.length === 0) throw new InvalidArgumentError(field, `"${url}" names no file; use sqlite:PATH or sqlite::memory:`);
  if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
  return path;
}
