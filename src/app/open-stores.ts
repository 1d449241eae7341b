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
 * is created) or `redis://HOST:PORT[/DB][?prefix=P]` (keys under `P`, default `kiban:`, so that
 * several deployments can share one Redis). The only place a URL becomes a backend.
 */
export async function openServingStore(url: string, field = 'stores.serving'): Promise<ServingStore> {
  if (url === 'memory:') return new MemoryServingStore();
  if (url.startsWith('sqlite:')) {
    const path = await sqlitePath(url, field);
    return new SqliteServingStore(path);
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const { base, options } = splitQuery(url, ['prefix'], field);
    return new RedisServingStore(base, options.prefix === undefined ? {} : { prefix: options.prefix });
  }
  throw new InvalidArgumentError(field, `"${url}" is not a serving store URL; use memory:, sqlite:PATH or redis://HOST:PORT`);
}

/**
 * Opens and migrates the metadata store a URL names: `sqlite:PATH` (embedded default),
 * `sqlite::memory:` or `postgres://USER@HOST:PORT/DB[?schema=S]` (tables in schema `S`).
 */
export async function openMetadataStore(url: string, field = 'stores.metadata'): Promise<MetadataStore> {
  let store: MetadataStore;
  if (url.startsWith('sqlite:')) store = KyselyMetadataStore.sqlite(await sqlitePath(url, field));
  else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { base, options } = splitQuery(url, ['schema'], field);
    store = KyselyMetadataStore.postgres(base, options.schema === undefined ? {} : { schema: options.schema });
  }
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

/** Separates kiban's own query options from a URL, refusing options it does not know. */
function splitQuery(url: string, known: string[], field: string): { base: string; options: Record<string, string> } {
  const at = url.indexOf('?');
  if (at < 0) return { base: url, options: {} };
  const options: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(url.slice(at + 1))) {
    if (!known.includes(key)) throw new InvalidArgumentError(field, `unknown URL option "${key}"; known: ${known.join(', ')}`);
    options[key] = value;
  }
  return { base: url.slice(0, at), options };
}
