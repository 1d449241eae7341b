/**
 * Serving-store sources of `sources.ts`: published lists read straight from a SQLite file
 * (better-sqlite3) or Redis (ioredis). `sources.ts` loads this module only when a stage reads
 * one, so other stages' workers do not load either client.
 *
 * @module
 */
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { decodeItems } from '../storage/serving-codec.js';
import type { SourcePartition } from './source.js';
import { numbered, splitEvenly } from './sources-common.js';

/** Locator of a serving partition: the version planned against (pinned) and a share of its keys. */
type ServingLocator =
  | { backend: 'sqlite'; version: string; after: string | null; upTo: string | null }
  | { backend: 'redis'; version: string; shard: number; shards: number };

/**
 * The keys of `namespace` in the current version of the serving store at `url`, in key order
 * for SQLite (SCAN order for Redis), and that version. {@link ServingStore} has no way to list
 * keys, so this reads each backend's layout directly (read-only, without changing the store
 * classes): the `serving_*` tables of the SQLite file, the `{prefix}v:{version}:{list}:` keys of
 * Redis. A `memory:` store is private to the process that opened it, so it cannot be listed.
 * Keys come back in their stored (string) form.
 */
export async function listServingKeys(url: string, namespace: string): Promise<{ version: string | null; keys: string[] }> {
  const backend = servingBackend(url);
  if (backend.kind === 'sqlite') {
    const db = openSqliteReadOnly(backend.path);
    try {
      const current = sqliteCurrent(db);
      if (current === null) return { version: null, keys: [] };
      const keys = db.prepare<[number, string], string>('SELECT key FROM serving_lists WHERE seq = ? AND list = ? ORDER BY key').pluck().all(current.seq, namespace);
      return { version: current.version, keys };
    } finally {
      db.close();
    }
  }
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const version = await redis.hget(`${backend.prefix}current`, 'version');
    if (version === null) return { version: null, keys: [] };
    const keys: string[] = [];
    for await (const key of redisScanKeys(redis, `${backend.prefix}v:${version}:${namespace}:`)) keys.push(key);
    return { version, keys };
  } finally {
    redis.disconnect();
  }
}

type ServingBackend = { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string; prefix: string };

function servingBackend(url: string): ServingBackend {
  if (typeof url === 'string' && url.startsWith('sqlite:') && url.length > 'sqlite:'.length && url !== 'sqlite::memory:') return { kind: 'sqlite', path: url.slice('sqlite:'.length) };
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

function openSqliteReadOnly(path: string): Database.Database {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (cause) {
    throw new DataError({ file: path }, `cannot open the serving store: ${(cause as Error).message}`, { cause });
  }
}

function sqliteCurrent(db: Database.Database): { seq: number; version: string } | null {
  try {
    return (
      db
        .prepare<[], { seq: number; version: string }>('SELECT v.seq, v.version FROM serving_current c JOIN serving_versions v ON v.seq = c.seq WHERE c.id = 1')
        .get() ?? null
    );
  } catch (cause) {
    // A file without the tables was never written by a serving store.
    if (/no such table/.test((cause as Error).message)) return null;
    throw cause;
  }
}

async function* redisScanKeys(redis: Redis, base: string): AsyncGenerator<string> {
  const pattern = `${base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const full of found) yield full.slice(base.length);
    cursor = next;
  } while (cursor !== '0');
}

export async function planServing(url: string, namespace: string, target: number): Promise<SourcePartition[]> {
  const backend = servingBackend(url);
  if (backend.kind === 'sqlite') {
    const { version, keys } = await listServingKeys(url, namespace);
    if (version === null) throw new DataError({ file: backend.path }, 'nothing is published in this serving store');
    // Shares are key ranges (after, upTo], so each partition reads one index range of the pinned version.
    return numbered(
      splitEvenly(keys.length, target).map(([start, end]) => ({
        label: `${namespace} keys ${start}–${end} of ${version}`,
        locator: { backend: 'sqlite', version, after: start === 0 ? null : keys[start - 1], upTo: end === keys.length ? null : keys[end - 1] } satisfies ServingLocator,
      })),
    );
  }
  // Redis keys come unordered from SCAN: shares are hash buckets, each partition scans all keys
  // of the version and keeps its own (no key list travels in the locators).
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const version = await redis.hget(`${backend.prefix}current`, 'version');
    if (version === null) throw new DataError({ file: url }, 'nothing is published in this serving store');
    return numbered(
      Array.from({ length: target }, (_, shard) => ({ label: `${namespace} shard ${shard + 1}/${target} of ${version}`, locator: { backend: 'redis', version, shard, shards: target } satisfies ServingLocator })),
    );
  } finally {
    redis.disconnect();
  }
}

export async function* readServing(url: string, namespace: string, loc: ServingLocator, batchSize: number): AsyncGenerator<unknown[]> {
  const backend = servingBackend(url);
  const all = { offset: 0, limit: Infinity };
  const gone = (): Error =>
    new NotFoundError(`version ${loc.version} of serving store ${url} (it was removed after two newer publishes; plan the partitions again)`);
  if (backend.kind === 'sqlite') {
    if (loc.backend !== 'sqlite') throw new InvalidArgumentError('partition.locator', 'was not planned for a SQLite serving store');
    const db = openSqliteReadOnly(backend.path);
    try {
      const seq = db.prepare<[string], number>("SELECT seq FROM serving_versions WHERE version = ? AND state = 'committed'").pluck().get(loc.version);
      if (seq === undefined) throw gone();
      const rows = db
        .prepare<unknown[], { key: string; items: Buffer }>(
          `SELECT key, items FROM serving_lists WHERE seq = ? AND list = ?${loc.after === null ? '' : ' AND key > ?'}${loc.upTo === null ? '' : ' AND key <= ?'} ORDER BY key`,
        )
        .iterate(seq, namespace, ...(loc.after === null ? [] : [loc.after]), ...(loc.upTo === null ? [] : [loc.upTo]));
      let batch: unknown[] = [];
      for (const row of rows) {
        batch.push({ key: row.key, items: decodeItems(row.items, all) });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      db.close();
    }
    return;
  }
  if (loc.backend !== 'redis') throw new InvalidArgumentError('partition.locator', 'was not planned for a Redis serving store');
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    if ((await redis.zscore(`${backend.prefix}versions`, loc.version)) === null) throw gone();
    const base = `${backend.prefix}v:${loc.version}:${namespace}:`;
    let keys: string[] = [];
    const flush = async (): Promise<unknown[]> => {
      const values = await redis.mgetBuffer(...keys.map((k) => base + k));
      const out: unknown[] = [];
      values.forEach((value, i) => {
        if (value !== null) out.push({ key: keys[i], items: decodeItems(value, all) });
      });
      keys = [];
      return out;
    };
    for await (const key of redisScanKeys(redis, base)) {
      if (loc.shards > 1 && bucket(key, loc.shards) !== loc.shard) continue;
      keys.push(key);
      if (keys.length >= batchSize) yield await flush();
    }
    if (keys.length > 0) yield await flush();
  } finally {
    redis.disconnect();
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
