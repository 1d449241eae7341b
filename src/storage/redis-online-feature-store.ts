import { Redis, type RedisOptions } from 'ioredis';
import { InvalidArgumentError } from '../core/errors.js';
import {
  checkMark,
  checkView,
  checkWrite,
  markJson,
  packRow,
  schemaId,
  unpackRow,
  withNames,
} from './online-feature-codec.js';
import type {
  EntityKey,
  MaterializedMark,
  OnlineFeatureStore,
  OnlineWrite,
  StoredOnlineRow,
} from '../features/online-store.js';
import { quitRedis } from './redis-ping.js';

/** Options of {@link RedisOnlineFeatureStore}. */
export interface RedisOnlineStoreOptions {
  /** Prepended to every key, so several stores (or test runs) can share one Redis. @defaultValue `'kiban:'` */
  prefix?: string;
  /** Rows per write script call (at most {@link MAX_REDIS_BATCH}); a call's batches are pipelined. @defaultValue 1000 */
  batchSize?: number;
  /** Passed to the ioredis client (retry strategy, TLS…), after kiban's own settings; not `keyPrefix`. */
  redis?: RedisOptions;
}

/** Defaults of {@link RedisOnlineStoreOptions} (`redis` excepted). */
export const REDIS_ONLINE_STORE_DEFAULTS: Readonly<
  Required<Omit<RedisOnlineStoreOptions, 'redis'>>
> = Object.freeze({ prefix: 'kiban:', batchSize: 1000 });

/**
 * KEYS: rows hash, schema hash. ARGV: schema id, names JSON, then one string holding the rows,
 * each a 4-byte big-endian length and the entity key, then a 4-byte length and the record (one
 * argument per batch: building and parsing thousands of arguments cost more than the writes).
 * Reads the stored records of the batch with one HMGET, keeps each row that supersedes the
 * record before it (see `OnlineFeatureStore.write`: a new key; else a different record whose
 * times, read out of both msgpack records, are newer, or equal with other values), in order, and
 * writes the kept ones with one HSET. Returns how many rows it kept. Atomic: Redis runs the script
 * as one step.
 */
const WRITE_LUA = `
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
local rows = ARGV[3]
local n = #rows
local pos = 1
local fields, records = {}, {}
local field, record
while pos <= n do
  field, record, pos = struct.unpack('>I4c0I4c0', rows, pos)
  fields[#fields + 1] = field
  records[#records + 1] = record
end
if #fields == 0 then return 0 end
local olds = redis.call('HMGET', KEYS[1], unpack(fields))
local current, order = {}, {}
local stored = 0
for i = 1, #fields do
  local f = fields[i]
  local rec = records[i]
  local was = current[f]
  if was == nil then was = olds[i] end
  local put
  if not was then put = true
  elseif was == rec then put = false
  else
    local a = cmsgpack.unpack(rec)
    local b = cmsgpack.unpack(was)
    if a[1] ~= b[1] then put = a[1] > b[1]
    elseif a[2] ~= b[2] then put = a[2] > b[2]
    else put = true end
  end
  if put then
    if current[f] == nil then order[#order + 1] = f end
    current[f] = rec
    stored = stored + 1
  end
end
if #order > 0 then
  local args = {}
  for i = 1, #order do
    args[2 * i - 1] = order[i]
    args[2 * i] = current[order[i]]
  end
  redis.call('HSET', KEYS[1], unpack(args))
end
return stored`;

/** Most rows per script call: its HSET takes two Lua stack slots per row (Redis' Lua has 8000). */
export const MAX_REDIS_BATCH = 3000;

interface ScriptedRedis extends Redis {
  kibanFeatureWrite(
    rowsKey: string,
    schemaKey: string,
    ...args: (string | Buffer)[]
  ): Promise<number>;
}

/**
 * An {@link OnlineFeatureStore} on Redis (production). Each view is one hash
 * `{prefix}fv:{view}` whose fields are entity keys and values the packed records (see
 * `online-feature-codec.ts`), so reading any number of entities of a view is one `HMGET` (one round
 * trip); the name lists are in `{prefix}fs:{view}` (schema id → JSON, read once per process and
 * id), the materialisation marks in the hash `{prefix}fm`. Writes run a Lua script per batch
 * (the rows in one argument, one HMGET and one HSET) that compares each row with the stored
 * record inside Redis (newest-wins without WATCH).
 * A view lives on one node: a Redis Cluster would hold each view on one shard.
 *
 * @example
 * ```ts
 * const store = new RedisOnlineFeatureStore('redis://127.0.0.1:6379', { prefix: 'shop:' });
 * await store.read('user_stats', ['u1', 'u2']);
 * ```
 */
export class RedisOnlineFeatureStore implements OnlineFeatureStore {
  /** The options in force (defaults applied), frozen. */
  readonly options: Readonly<Required<Omit<RedisOnlineStoreOptions, 'redis'>>>;
  readonly #redis: ScriptedRedis;
  readonly #names = new Map<string, readonly string[]>();
  #closed = false;

  constructor(url: string, options: RedisOnlineStoreOptions = {}) {
    const { redis: clientOptions, ...rest } = options;
    this.options = Object.freeze({
      prefix: rest.prefix ?? REDIS_ONLINE_STORE_DEFAULTS.prefix,
      batchSize: rest.batchSize ?? REDIS_ONLINE_STORE_DEFAULTS.batchSize,
    });
    if (typeof this.options.prefix !== 'string')
      throw new InvalidArgumentError('prefix', 'must be a string');
    if (
      !Number.isSafeInteger(this.options.batchSize) ||
      this.options.batchSize < 1 ||
      this.options.batchSize > MAX_REDIS_BATCH
    )
      throw new InvalidArgumentError(
        'batchSize',
        `must be an integer from 1 to ${MAX_REDIS_BATCH}, got ${this.options.batchSize}`,
      );
    if (clientOptions?.keyPrefix !== undefined)
      throw new InvalidArgumentError('redis.keyPrefix', 'use prefix instead');
    const client = new Redis(url, { maxRetriesPerRequest: 3, ...clientOptions });
    // Connection errors surface through the failing calls; without a listener ioredis would
    // also print every failed reconnect attempt.
    client.on('error', () => undefined);
    client.defineCommand('kibanFeatureWrite', { numberOfKeys: 2, lua: WRITE_LUA });
    this.#redis = client as ScriptedRedis;
  }

  async write(
    view: string,
    features: readonly string[],
    rows: readonly OnlineWrite[],
  ): Promise<number> {
    checkWrite(view, features);
    const schema = schemaId(features);
    const names = JSON.stringify(features);
    const packed = rows.map((row, i) => packRow(row, schema, features.length, i));
    const { batchSize } = this.options;
    const calls: Promise<number>[] = [];
    for (let from = 0; from < rows.length; from += batchSize) {
      const to = Math.min(rows.length, from + batchSize);
      const keys: Buffer[] = [];
      let size = 0;
      for (let i = from; i < to; i++) {
        const key = Buffer.from(rows[i]!.key, 'utf8');
        keys.push(key);
        size += 8 + key.length + packed[i]!.length;
      }
      const batch = Buffer.allocUnsafe(size);
      let at = 0;
      for (let i = from; i < to; i++) {
        const key = keys[i - from]!;
        const record = packed[i]!;
        at = batch.writeUInt32BE(key.length, at);
        at += key.copy(batch, at);
        at = batch.writeUInt32BE(record.length, at);
        at += record.copy(batch, at);
      }
      // Sent without waiting for the previous reply: ioredis pipelines them on the connection,
      // and Redis runs them in order, so a later row of the call is applied after an earlier one.
      calls.push(
        this.#redis.kibanFeatureWrite(
          this.#rowsKey(view),
          this.#schemaKey(view),
          schema,
          names,
          batch,
        ),
      );
    }
    const stored = await Promise.all(calls);
    return stored.reduce((a, b) => a + b, 0);
  }

  async read(view: string, keys: readonly EntityKey[]): Promise<(StoredOnlineRow | null)[]> {
    checkView(view);
    if (keys.length === 0) return [];
    const records = await this.#redis.hmgetBuffer(this.#rowsKey(view), ...keys);
    const rows = records.map((bytes) => (bytes === null ? null : unpackRow(bytes)));
    const unknown = [
      ...new Set(
        rows.flatMap((row) =>
          row !== null && !this.#names.has(`${view}\u0000${row.schema}`) ? [row.schema] : [],
        ),
      ),
    ];
    if (unknown.length > 0) {
      const lists = await this.#redis.hmget(this.#schemaKey(view), ...unknown);
      for (const [i, json] of lists.entries())
        if (json !== null)
          this.#names.set(`${view}\u0000${unknown[i]}`, Object.freeze(JSON.parse(json)));
    }
    return rows.map((row) => {
      if (row === null) return null;
      const names = this.#names.get(`${view}\u0000${row.schema}`);
      // A record whose names were removed meanwhile (clearView racing the read) reads as absent.
      return names === undefined ? null : withNames(row, names);
    });
  }

  async clearView(view: string): Promise<void> {
    checkView(view);
    await this.#redis
      .multi()
      .unlink(this.#rowsKey(view), this.#schemaKey(view))
      .hdel(this.#marksKey(), view)
      .exec();
  }

  async getMaterialized(view: string): Promise<MaterializedMark | null> {
    checkView(view);
    const json = await this.#redis.hget(this.#marksKey(), view);
    return json === null ? null : (JSON.parse(json) as MaterializedMark);
  }

  async setMaterialized(view: string, mark: MaterializedMark): Promise<void> {
    checkView(view);
    checkMark(mark);
    await this.#redis.hset(this.#marksKey(), view, markJson(mark));
  }

  async listMaterialized(): Promise<Map<string, MaterializedMark>> {
    const all = await this.#redis.hgetall(this.#marksKey());
    return new Map(
      Object.keys(all)
        .sort()
        .map((view) => [view, JSON.parse(all[view]!) as MaterializedMark]),
    );
  }

  async sampleKeys(view: string, limit: number): Promise<EntityKey[]> {
    checkView(view);
    const keys = new Set<EntityKey>();
    if (limit < 1) return [];
    // HSCAN returns each field at least once over a full pass; stop as soon as enough are seen
    // (a few round trips for a large hash, one for a small one, which Redis answers whole).
    let cursor = '0';
    do {
      const [next, pairs] = await this.#redis.hscanBuffer(
        this.#rowsKey(view),
        cursor,
        'COUNT',
        Math.max(limit, 10),
      );
      cursor = String(next);
      for (let i = 0; i < pairs.length && keys.size < limit; i += 2)
        keys.add(pairs[i]!.toString('utf8'));
    } while (cursor !== '0' && keys.size < limit);
    return [...keys];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await quitRedis(this.#redis);
  }

  #rowsKey(view: string): string {
    return `${this.options.prefix}fv:${view}`;
  }

  #schemaKey(view: string): string {
    return `${this.options.prefix}fs:${view}`;
  }

  #marksKey(): string {
    return `${this.options.prefix}fm`;
  }
}
