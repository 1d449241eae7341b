import { Redis, type RedisOptions } from 'ioredis';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { quitRedis, redisAnswers } from './redis-ping.js';
import type { ExternalId } from '../data/id-map.js';
import { defineServingScripts, type ScriptedRedis } from './redis-serving-scripts.js';
import {
  checkKvKey,
  checkListKeysOptions,
  checkListName,
  checkRange,
  checkVersionName,
  decodeItems,
  decodeVector,
  encodeJson,
  encodeKey,
  encodeMeta,
  keyCursor,
  vectorSpaceList,
  withDefaults,
} from './serving-codec.js';
import {
  DEFAULT_RETAIN_VERSIONS,
  type HeldVersionInfo,
  type KeyPage,
  type ListKeysOptions,
  type ListRange,
  type RollbackResult,
  type ScoredItem,
  type ServingStore,
  type VersionInfo,
  type VersionWriter,
} from './serving-store.js';
import {
  BaseVersionWriter,
  checkRetainVersions,
  type EncodedRow,
  type HeldVersionEntry,
  newestPublishedFirst,
  versionsToCollect,
} from './version-writer-base.js';

/** Options of {@link RedisServingStore}. */
export interface RedisServingStoreOptions {
  /** Prepended to every key, so several stores (or test runs) can share one Redis. @defaultValue `'kiban:'` */
  prefix?: string;
  /** SET commands per pipeline in `putLists`. @defaultValue 1000 */
  batchSize?: number;
  /** Keys asked for per SCAN step when removing a version. @defaultValue 1000 */
  scanCount?: number;
  /** How long {@link RedisServingStore.ping} waits for PONG, in ms. @defaultValue 1000 */
  pingTimeoutMs?: number;
  /**
   * Committed versions kept (the current one included), an integer ≥ 2; see
   * `VersionWriter.commit`. Applied by the process that commits. @defaultValue {@link DEFAULT_RETAIN_VERSIONS}
   */
  retainVersions?: number;
  /** Passed to the ioredis client (retry strategy, TLS…), after kiban's own settings; not `keyPrefix`. */
  redis?: RedisOptions;
}

/** Defaults of {@link RedisServingStoreOptions} (`redis` excepted). */
export const REDIS_SERVING_STORE_DEFAULTS: Readonly<
  Required<Omit<RedisServingStoreOptions, 'redis'>>
> = Object.freeze({
  prefix: 'kiban:',
  batchSize: 1000,
  scanCount: 1000,
  pingTimeoutMs: 1000,
  retainVersions: DEFAULT_RETAIN_VERSIONS,
});

/** The keys a store uses, all under its prefix. */
interface KeyLayout {
  /** Hash `{version, info}`: the pointer readers follow; `info` is the {@link VersionInfo} JSON. */
  current: string;
  /** Sorted set of held versions scored by begin order. */
  versions: string;
  /** Hash version → {@link VersionInfo} JSON of the committed versions held. */
  published: string;
  /** Counter giving each begun version its order. */
  seq: string;
  /** `{prefix}v:` — a list lives at `{prefix}v:{version}:{list}:{key}`. */
  lists: string;
  /** `{prefix}kv:` — a KV entry lives at `{prefix}kv:{key}`. */
  kv: string;
}

/**
 * A {@link ServingStore} on Redis (production). Each list is one string
 * `{prefix}v:{version}:{list}:{key}` holding the encoded ranked list (see `serving-codec.ts`), so a request is one
 * read; the current version is the hash `{prefix}current`. Versions in hand are registered in
 * the sorted set `{prefix}versions`, the committed ones' info in the hash `{prefix}published`;
 * KV entries live at `{prefix}kv:{key}`.
 *
 * Atomicity: `getList` is a Lua script that reads the pointer and then the list inside Redis, in
 * one round trip, so no switch can fall between the two; commit switches the pointer in another
 * script. Lists are written with pipelined SETs under the new version's own keys, which no reader
 * follows until the switch; versions past `retainVersions` are removed by SCAN + UNLINK after the
 * switch (see `VersionWriter.commit` for which); a rollback switches the pointer in a script too. Needs standalone Redis
 * (or one shard): the scripts touch keys they compute.
 *
 * @example
 * ```ts
 * const store = new RedisServingStore('redis://127.0.0.1:6379', { prefix: 'shop:' });
 * const w = await store.beginVersion('20261125-als', { model: 'als' });
 * await w.putLists('user', lists);
 * await w.commit();
 * await store.getList('user', 42, { limit: 10 });
 * ```
 */
export class RedisServingStore implements ServingStore {
  /** The options in force (defaults applied), frozen. */
  readonly options: Readonly<Required<Omit<RedisServingStoreOptions, 'redis'>>>;
  readonly #redis: ScriptedRedis;
  readonly #keys: KeyLayout;
  #closed = false;

  /** Connects (lazily, in the background) to the Redis at `url`, e.g. `redis://127.0.0.1:6379/0`. */
  constructor(url: string, options: RedisServingStoreOptions = {}) {
    const { redis: clientOptions, ...rest } = options;
    this.options = withDefaults(REDIS_SERVING_STORE_DEFAULTS, rest);
    const { prefix, batchSize, scanCount } = this.options;
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix', 'must be a string');
    if (!Number.isSafeInteger(batchSize) || batchSize < 1)
      throw new InvalidArgumentError('batchSize', `must be an integer ≥ 1, got ${batchSize}`);
    if (!Number.isSafeInteger(scanCount) || scanCount < 1)
      throw new InvalidArgumentError('scanCount', `must be an integer ≥ 1, got ${scanCount}`);
    checkRetainVersions(this.options.retainVersions);
    // ioredis would prefix the declared KEYS but not the list keys the scripts build.
    if (clientOptions?.keyPrefix)
      throw new InvalidArgumentError('redis.keyPrefix', 'is not supported; use the prefix option');
    // A bounded retry count makes calls fail instead of queueing forever while Redis is down.
    const client = new Redis(url, { maxRetriesPerRequest: 3, ...clientOptions });
    // Connection errors surface through the failing calls and ping(); without a listener
    // ioredis would also print every failed reconnect attempt.
    client.on('error', () => undefined);
    this.#redis = defineServingScripts(client);
    this.#keys = {
      current: `${prefix}current`,
      versions: `${prefix}versions`,
      published: `${prefix}published`,
      seq: `${prefix}seq`,
      lists: `${prefix}v:`,
      kv: `${prefix}kv:`,
    };
  }

  /** Registers `version` (refused if held already or malformed) and returns its writer. */
  async beginVersion(version: string, meta: Record<string, unknown>): Promise<VersionWriter> {
    checkVersionName(version);
    const metaJson = encodeMeta(meta);
    const seq = await this.#redis.kibanBegin(this.#keys.versions, this.#keys.seq, version);
    if (seq === 0) throw new InvalidArgumentError('version', `${version} exists already`);
    return new RedisVersionWriter(this.#redis, this.#keys, this.options, version, metaJson);
  }

  /** The current version, or null before the first commit. */
  async currentVersion(): Promise<VersionInfo | null> {
    const info = await this.#redis.hget(this.#keys.current, 'info');
    return info === null ? null : (JSON.parse(info) as VersionInfo);
  }

  /** The committed versions held, newest first; see {@link ServingStore.listVersions}. */
  async listVersions(): Promise<HeldVersionInfo[]> {
    const { held, infos, current } = await readHeld(this.#redis, this.#keys);
    const entries: (HeldVersionEntry & { info: VersionInfo })[] = [];
    for (const { version, seq } of held) {
      const info = infos.get(version);
      if (info !== undefined) entries.push({ version, seq, publishedAt: info.publishedAt, info });
    }
    return entries
      .sort(newestPublishedFirst)
      .map(({ info }) => ({ ...info, current: info.version === current }));
  }

  /** Makes a held, committed version current again; see {@link ServingStore.rollback}. */
  async rollback(version: string): Promise<RollbackResult> {
    checkVersionName(version);
    try {
      const from = await this.#redis.kibanRollback(
        this.#keys.current,
        this.#keys.versions,
        this.#keys.published,
        version,
      );
      return { from, to: version };
    } catch (error) {
      if (String((error as Error).message).includes('KIBAN_NOT_FOUND'))
        throw new NotFoundError(`version ${version} of the serving store`, { cause: error });
      throw error;
    }
  }

  /** The slice of `list`/`key` in the current version, or null; see {@link ServingStore.getList}. */
  async getList(list: string, key: ExternalId, range?: ListRange): Promise<ScoredItem[] | null> {
    checkListName(list);
    const k = encodeKey(key);
    const r = checkRange(range);
    const stored = await this.#row(list, k, r.version);
    return stored === null ? null : decodeItems(stored, r);
  }

  /** The vector of `space`/`key`, or null; see {@link ServingStore.getVector}. */
  async getVector(
    space: string,
    key: ExternalId,
    options?: { version?: string },
  ): Promise<Float32Array | null> {
    const list = vectorSpaceList(space);
    const k = encodeKey(key);
    const version = options?.version === undefined ? undefined : checkVersionName(options.version);
    const stored = await this.#row(list, k, version);
    return stored === null ? null : decodeVector(stored);
  }

  /** The stored row of `list`/`key` in the current version or held `version`, or null. */
  async #row(list: string, key: string, version: string | undefined): Promise<Buffer | null> {
    if (version !== undefined) {
      // MULTI: the registration check and the read see one state, so a collected version is never read half-deleted.
      const [[, held], [, read]] = (await this.#redis
        .multi()
        .zscore(this.#keys.versions, version)
        .getBuffer(`${this.#keys.lists}${version}:${list}:${key}`)
        .exec())! as [[Error | null, string | null], [Error | null, Buffer | null]];
      if (held === null) throw new NotFoundError(`version ${version} of the serving store`);
      return read;
    }
    return this.#redis.kibanGetListBuffer(this.#keys.current, this.#keys.lists, `:${list}:${key}`);
  }

  /** A page of the keys of `list`, in SCAN order; see {@link ServingStore.listKeys}. */
  async listKeys(list: string, options?: ListKeysOptions): Promise<KeyPage> {
    checkListName(list);
    const { version: asked, position, limit } = checkListKeysOptions(options);
    let version = asked;
    if (version === undefined) {
      const current = await this.#redis.hget(this.#keys.current, 'version');
      if (current === null) return { version: null, keys: [], cursor: null };
      version = current;
    }
    // Every page checks the registration: a version collected mid-listing would scan as empty.
    if ((await this.#redis.zscore(this.#keys.versions, version)) === null)
      throw new NotFoundError(`version ${version} of the serving store`);
    const base = `${this.#keys.lists}${version}:${list}:`;
    const pattern = `${escapeGlob(base)}*`;
    const keys: string[] = [];
    let cursor = position ?? '0';
    do {
      const [next, found] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', limit);
      for (const full of found) keys.push(full.slice(base.length));
      cursor = next;
    } while (cursor !== '0' && keys.length < limit);
    return { version, keys, cursor: cursor === '0' ? null : keyCursor(version, cursor) };
  }

  /** The JSON value under `key`, or `undefined` when absent. */
  async get(key: string): Promise<unknown> {
    const stored = await this.#redis.get(this.#keys.kv + checkKvKey(key));
    return stored === null ? undefined : JSON.parse(stored);
  }

  /** Stores `value` as JSON; `undefined` and other non-JSON values are refused. */
  async set(key: string, value: unknown): Promise<void> {
    const k = this.#keys.kv + checkKvKey(key);
    await this.#redis.set(k, encodeJson(value));
  }

  /** Removes `key`; absent keys are fine. */
  async delete(key: string): Promise<void> {
    await this.#redis.unlink(this.#keys.kv + checkKvKey(key));
  }

  /** Whether Redis answers PING within `pingTimeoutMs`; false once closed. */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    return redisAnswers(this.#redis, this.options.pingTimeoutMs);
  }

  /**
   * Deletes every key that starts with this store's prefix — all versions, the pointer and the
   * KV space, and the keys of any store whose prefix extends this one — for tests and
   * benchmarks. Not atomic: do not run it while another process publishes.
   */
  async clear(): Promise<void> {
    // An empty prefix would match the whole database, which this store does not own.
    if (this.options.prefix === '')
      throw new InvalidArgumentError('prefix', 'clear() needs a non-empty prefix');
    await unlinkMatching(
      this.#redis,
      `${escapeGlob(this.options.prefix)}*`,
      this.options.scanCount,
    );
  }

  /** Closes the connection after pending replies (QUIT), or drops it if that fails; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await quitRedis(this.#redis);
  }
}

/** Pipelines a writer keeps in flight at once. */
const PIPELINES_IN_FLIGHT = 4;

class RedisVersionWriter extends BaseVersionWriter {
  #previous: string | null = null;
  #inFlight: Promise<void>[] = [];

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: KeyLayout,
    private readonly options: Readonly<Required<Omit<RedisServingStoreOptions, 'redis'>>>,
    version: string,
    private readonly metaJson: string,
  ) {
    super(version, options.batchSize);
  }

  // Up to PIPELINES_IN_FLIGHT pipelines travel while the next batch is encoded, so the network
  // and Redis work overlap the CPU work instead of alternating with it.
  protected async writeBatch(list: string, rows: readonly EncodedRow[]): Promise<void> {
    const sent = this.#send(list, rows);
    sent.catch(() => undefined); // observed by flushWrites (or the shift below), not lost
    this.#inFlight.push(sent);
    if (this.#inFlight.length >= PIPELINES_IN_FLIGHT) await this.#inFlight.shift();
  }

  protected override async flushWrites(): Promise<void> {
    const pending = this.#inFlight;
    this.#inFlight = [];
    const results = await Promise.allSettled(pending);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #send(list: string, rows: readonly EncodedRow[]): Promise<void> {
    const base = `${this.keys.lists}${this.version}:${list}:`;
    // The registration check travels in the same pipeline: no extra round trip per batch.
    const pipeline = this.redis.pipeline().zscore(this.keys.versions, this.version);
    for (const [key, items] of rows) pipeline.set(base + key, items);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null);
    if (failed) throw failed[0];
    if (results[0]?.[1] === null) {
      // Collected as abandoned while we wrote: remove what this batch left behind.
      await this.redis.unlink(...rows.map(([key]) => base + key));
      throw new NotFoundError(`version ${this.version} (collected as abandoned before its commit)`);
    }
  }

  protected async switchIn(publishedAt: string): Promise<void> {
    const info = `{"version":${JSON.stringify(this.version)},"meta":${this.metaJson},"publishedAt":"${publishedAt}"}`;
    try {
      this.#previous = await this.redis.kibanCommit(
        this.keys.current,
        this.keys.versions,
        this.keys.published,
        this.version,
        info,
      );
    } catch (error) {
      if (String((error as Error).message).includes('KIBAN_NOT_FOUND')) {
        throw new NotFoundError(
          `version ${this.version} (collected as abandoned before its commit)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  protected async collect(): Promise<void> {
    const { held, infos, current } = await readHeld(this.redis, this.keys);
    const keep = new Set([this.version]);
    if (this.#previous !== null) keep.add(this.#previous);
    if (current !== null) keep.add(current);
    const entries = held.map(({ version, seq }) => ({
      version,
      seq,
      publishedAt: infos.get(version)?.publishedAt ?? null,
    }));
    for (const name of versionsToCollect(entries, keep, this.options.retainVersions)) {
      // A committed version is unmarked first (unless a rollback made it current meanwhile), so
      // no rollback can switch to it while its lists are deleted.
      if (infos.has(name)) {
        const retired = await this.redis.kibanRetire(this.keys.current, this.keys.published, name);
        if (retired === 0) continue;
      }
      await this.#remove(name);
    }
  }

  protected async discard(): Promise<void> {
    await this.#remove(this.version);
  }

  /** Deletes a version's lists, then unregisters it (so an interrupted removal is retried later). */
  async #remove(version: string): Promise<void> {
    await unlinkMatching(
      this.redis,
      `${escapeGlob(this.keys.lists)}${version}:*`,
      this.options.scanCount,
    );
    await this.redis
      .multi()
      .zrem(this.keys.versions, version)
      .hdel(this.keys.published, version)
      .exec();
  }
}

/**
 * One consistent read (MULTI) of the registered versions in begin order, the committed ones'
 * info (the current one's included, for a version committed before `published` existed) and the
 * current version's name.
 */
async function readHeld(
  redis: Redis,
  keys: KeyLayout,
): Promise<{
  held: { version: string; seq: number }[];
  infos: Map<string, VersionInfo>;
  current: string | null;
}> {
  const [[, flat], [, published], [, currentVersion], [, currentInfo]] = (await redis
    .multi()
    .zrange(keys.versions, '0', '-1', 'WITHSCORES')
    .hgetall(keys.published)
    .hget(keys.current, 'version')
    .hget(keys.current, 'info')
    .exec())! as [
    [Error | null, string[]],
    [Error | null, Record<string, string>],
    [Error | null, string | null],
    [Error | null, string | null],
  ];
  const held: { version: string; seq: number }[] = [];
  for (let i = 0; i < flat.length; i += 2)
    held.push({ version: flat[i], seq: Number(flat[i + 1]) });
  const infos = new Map<string, VersionInfo>();
  for (const [version, info] of Object.entries(published))
    infos.set(version, JSON.parse(info) as VersionInfo);
  if (currentVersion !== null && currentInfo !== null && !infos.has(currentVersion))
    infos.set(currentVersion, JSON.parse(currentInfo) as VersionInfo);
  return { held, infos, current: currentVersion };
}

/** Deletes every key matching a SCAN pattern, a page at a time (UNLINK frees memory off-thread). */
async function unlinkMatching(redis: Redis, pattern: string, count: number): Promise<void> {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    if (found.length > 0) await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
}

/** Escapes the glob characters SCAN MATCH understands, so a prefix is matched literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
