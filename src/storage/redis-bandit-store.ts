import { Redis, type RedisOptions } from 'ioredis';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { quitRedis, redisAnswers } from './redis-ping.js';
import {
  checkBanditName,
  checkDecisionId,
  checkDecisionIds,
  checkIncrements,
  checkTtl,
  type BanditStatistics,
  type BanditStore,
  type DecisionLookup,
  type FeedbackCommit,
  type StoredBandit,
} from './bandit-store.js';

/** Options of {@link RedisBanditStore}. */
export interface RedisBanditStoreOptions {
  /** Prepended to every key (the serving store's prefix, so one URL names both). @defaultValue `'kiban:'` */
  prefix?: string;
  /** How long {@link RedisBanditStore.ping} waits for PONG, in ms. @defaultValue 1000 */
  pingTimeoutMs?: number;
  /**
   * Whether commands issued in one event-loop turn share one round trip (ioredis auto-pipelining):
   * worth it with many requests in flight, a cost per command with few. @defaultValue false
   */
  autoPipelining?: boolean;
  /** Passed to the ioredis client after kiban's own settings; not `keyPrefix`. */
  redis?: RedisOptions;
}

/** Defaults of {@link RedisBanditStoreOptions} (`redis` excepted). */
export const REDIS_BANDIT_STORE_DEFAULTS: Readonly<
  Required<Omit<RedisBanditStoreOptions, 'redis'>>
> = Object.freeze({
  prefix: 'kiban:',
  pingTimeoutMs: 1000,
  autoPipelining: false,
});

/** Doubles per struct.unpack call in Lua: well inside Lua's C stack limit (8,000 values). */
const LUA_CHUNK = 128;

const SCRIPTS = {
  /** KEYS: bandit, names. ARGV: definition, name. `{1, def}` when created, `{0, existing def}` otherwise. */
  kibanBanditCreate: {
    numberOfKeys: 2,
    lua: `
local def = redis.call('HGET', KEYS[1], 'def')
if def then return {0, def} end
redis.call('HSET', KEYS[1], 'def', ARGV[1], 'version', 0)
redis.call('SADD', KEYS[2], ARGV[2])
return {1, ARGV[1]}`,
  },
  /** KEYS: bandit, statistics, names. ARGV: name. 1 when the bandit existed. */
  kibanBanditDelete: {
    numberOfKeys: 3,
    lua: `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return existed`,
  },
  /**
   * KEYS: bandit, statistics, then the decisions fed back. ARGV: width, then arm and
   * little-endian doubles per arm. Checks every width and decision first, so a clash or a
   * refused decision changes nothing (`{0, k, why, …}`: the k-th decision, 0-based, is unknown
   * (why 0) or fed back already (1)). Else marks the decisions fed back, adds every increment
   * to the arm's packed totals and returns `{1, version}` (incremented when there were any).
   */
  kibanFeedbackCommit: {
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('KIBAN_NOT_FOUND') end
local width = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local len = redis.call('HSTRLEN', KEYS[2], ARGV[i])
  if len ~= 0 and len ~= width * 8 then return redis.error_reply('KIBAN_WIDTH ' .. (len / 8)) end
end
local refused = {0}
for k = 3, #KEYS do
  if redis.call('HEXISTS', KEYS[k], 'r') == 0 then
    refused[#refused + 1] = k - 3
    refused[#refused + 1] = 0
  elseif redis.call('HEXISTS', KEYS[k], 'c') == 1 then
    refused[#refused + 1] = k - 3
    refused[#refused + 1] = 1
  end
end
if #refused > 1 then return refused end
for k = 3, #KEYS do redis.call('HSET', KEYS[k], 'c', '1') end
if #ARGV < 2 then return {1, tonumber(redis.call('HGET', KEYS[1], 'version') or '0')} end
for i = 2, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[2], ARGV[i])
  if not current then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  else
    local increment = ARGV[i + 1]
    local parts = {}
    local done = 0
    while done < width do
      local n = math.min(${LUA_CHUNK}, width - done)
      local format = '<' .. string.rep('d', n)
      local a = {struct.unpack(format, current, done * 8 + 1)}
      local b = {struct.unpack(format, increment, done * 8 + 1)}
      for j = 1, n do a[j] = a[j] + b[j] end
      parts[#parts + 1] = struct.pack(format, unpack(a, 1, n))
      done = done + n
    end
    redis.call('HSET', KEYS[2], ARGV[i], table.concat(parts))
  end
end
return {1, redis.call('HINCRBY', KEYS[1], 'version', 1)}`,
  },
  /** KEYS: decision. ARGV: record, ttl ms. */
  kibanDecisionPut: {
    numberOfKeys: 1,
    lua: `
redis.call('HSET', KEYS[1], 'r', ARGV[1])
redis.call('HDEL', KEYS[1], 'c')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  },
  /** KEYS: decision. `{0}` unknown, `{1}` fed back already, `{2, record}` open. */
  kibanDecisionGet: {
    numberOfKeys: 1,
    lua: `
local r = redis.call('HGET', KEYS[1], 'r')
if not r then return {0} end
if redis.call('HEXISTS', KEYS[1], 'c') == 1 then return {1} end
return {2, r}`,
  },
} as const;

interface ScriptedRedis extends Redis {
  kibanBanditCreate(
    bandit: string,
    names: string,
    definition: string,
    name: string,
  ): Promise<[number, string]>;
  kibanBanditDelete(
    bandit: string,
    statistics: string,
    names: string,
    name: string,
  ): Promise<number>;
  kibanFeedbackCommit(numberOfKeys: number, ...keysAndArgs: (string | Buffer)[]): Promise<number[]>;
  kibanDecisionPut(decision: string, record: string, ttlMs: number): Promise<number>;
  kibanDecisionGet(decision: string): Promise<[number, string?]>;
}

/**
 * A {@link BanditStore} on Redis (production), shared by every server process. Keys, under the
 * prefix: `bandits` (set of names); `bandit:{name}` (hash: `def`, `version`);
 * `bandit:{name}:stats` (hash: arm → its totals as little-endian doubles);
 * `bandit:{name}:d:{id}` (hash: `r` the record, `c` set once fed back; expires after its TTL).
 *
 * Every change is one Lua script, which Redis runs atomically: adding statistics reads, adds and
 * writes each arm's totals and increments the version in one step, so concurrent feedback from
 * any number of processes commutes and none is lost; the same script marks the batch's decisions
 * fed back only if none was, so of several concurrent commits of one decision exactly one counts.
 * Reads of all statistics and the
 * version go in one MULTI, so they belong together. Needs standalone Redis (or one shard).
 *
 * @example
 * const store = new RedisBanditStore('redis://127.0.0.1:6379', { prefix: 'shop:' });
 * await store.createBandit('home', JSON.stringify({ policy: 'linucb', dim: 20 }));
 */
export class RedisBanditStore implements BanditStore {
  /** The options in force (defaults applied), frozen. */
  readonly options: Readonly<Required<Omit<RedisBanditStoreOptions, 'redis'>>>;
  readonly #redis: ScriptedRedis;
  #closed = false;

  /** Connects (lazily, in the background) to the Redis at `url`, e.g. `redis://127.0.0.1:6379/0`. */
  constructor(url: string, options: RedisBanditStoreOptions = {}) {
    const { redis: clientOptions, ...rest } = options;
    this.options = Object.freeze({
      ...REDIS_BANDIT_STORE_DEFAULTS,
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    });
    if (typeof this.options.prefix !== 'string')
      throw new InvalidArgumentError('prefix', 'must be a string');
    if (clientOptions?.keyPrefix)
      throw new InvalidArgumentError('redis.keyPrefix', 'is not supported; use the prefix option');
    const client = new Redis(url, {
      maxRetriesPerRequest: 3,
      enableAutoPipelining: this.options.autoPipelining,
      ...clientOptions,
    });
    // Failures surface through the calls and ping(); without a listener ioredis prints every retry.
    client.on('error', () => undefined);
    for (const [name, definition] of Object.entries(SCRIPTS))
      client.defineCommand(name, definition);
    this.#redis = client as ScriptedRedis;
  }

  async createBandit(
    name: string,
    definition: string,
  ): Promise<{ created: boolean; definition: string }> {
    checkBanditName(name);
    const [created, current] = await this.#redis.kibanBanditCreate(
      this.#bandit(name),
      this.#names(),
      definition,
      name,
    );
    return { created: created === 1, definition: current };
  }

  async getBandit(name: string): Promise<StoredBandit | null> {
    const [definition, version] = await this.#redis.hmget(
      this.#bandit(checkBanditName(name)),
      'def',
      'version',
    );
    return definition === null ? null : { definition, version: Number(version ?? 0) };
  }

  async listBandits(): Promise<string[]> {
    return (await this.#redis.smembers(this.#names())).sort();
  }

  async deleteBandit(name: string): Promise<boolean> {
    checkBanditName(name);
    return (
      (await this.#redis.kibanBanditDelete(
        this.#bandit(name),
        this.#statistics(name),
        this.#names(),
        name,
      )) === 1
    );
  }

  async addStatistics(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
  ): Promise<number> {
    const commit = await this.commitFeedback(name, width, increments, []);
    return (commit as { version: number }).version;
  }

  async commitFeedback(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
    decisionIds: readonly string[],
  ): Promise<FeedbackCommit> {
    checkBanditName(name);
    checkIncrements(width, increments);
    checkDecisionIds(decisionIds);
    const keys = [
      this.#bandit(name),
      this.#statistics(name),
      ...decisionIds.map((id) => this.#decision(name, id)),
    ];
    const args: (string | Buffer)[] = [String(width)];
    for (const [arm, v] of increments) args.push(arm, encodeDoubles(v));
    let reply: number[];
    try {
      reply = await this.#redis.kibanFeedbackCommit(keys.length, ...keys, ...args);
    } catch (error) {
      const message = String((error as Error).message);
      if (message.includes('KIBAN_NOT_FOUND'))
        throw new NotFoundError(`bandit "${name}"`, { cause: error });
      const clash = /KIBAN_WIDTH (\d+)/.exec(message);
      if (clash)
        throw new InvalidArgumentError(
          'width',
          `is ${width}, the stored statistics of "${name}" have ${clash[1]}`,
          { cause: error },
        );
      throw error;
    }
    if (reply[0] === 1) return { status: 'stored', version: Number(reply[1]) };
    const refused = new Map<string, 'unknown' | 'duplicate'>();
    for (let k = 1; k < reply.length; k += 2)
      refused.set(decisionIds[reply[k]], reply[k + 1] === 0 ? 'unknown' : 'duplicate');
    return { status: 'refused', refused };
  }

  async readStatistics(name: string, width: number): Promise<BanditStatistics | null> {
    checkBanditName(name);
    const results = await this.#redis
      .multi()
      .hget(this.#bandit(name), 'version')
      .hgetallBuffer(this.#statistics(name))
      .exec();
    if (results === null) throw new Error('Redis aborted the statistics read');
    const failed = results.find(([error]) => error !== null);
    if (failed) throw failed[0];
    const version = results[0][1] as string | null;
    if (version === null) return null;
    const arms = new Map<string, Float64Array>();
    for (const [arm, bytes] of Object.entries(results[1][1] as Record<string, Buffer>)) {
      if (bytes.length !== width * 8)
        throw new InvalidArgumentError(
          'width',
          `is ${width}, the stored statistics of "${name}" have ${bytes.length / 8}`,
        );
      arms.set(arm, decodeDoubles(bytes, width));
    }
    return { version: Number(version), arms };
  }

  async putDecision(name: string, id: string, record: string, ttlMs: number): Promise<void> {
    checkTtl(ttlMs);
    // Written at once on the one connection, so later commands of this store run after it.
    // (ioredis sends a script's source with its first use on a connection, so it never bounces
    // with NOSCRIPT there; only a SCRIPT FLUSH on a live connection could make it re-send later.)
    await this.#redis.kibanDecisionPut(this.#decision(name, id), record, ttlMs);
  }

  async getDecision(name: string, id: string): Promise<DecisionLookup> {
    const [status, record] = await this.#redis.kibanDecisionGet(this.#decision(name, id));
    if (status === 0) return { status: 'unknown' };
    if (status === 1) return { status: 'duplicate' };
    return { status: 'open', record: record as string };
  }

  /** Whether Redis answers PING within `pingTimeoutMs`; false once closed. */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    return redisAnswers(this.#redis, this.options.pingTimeoutMs);
  }

  /** Closes the connection after pending replies (QUIT), or drops it if that fails; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await quitRedis(this.#redis);
  }

  #names(): string {
    return `${this.options.prefix}bandits`;
  }

  #bandit(name: string): string {
    return `${this.options.prefix}bandit:${name}`;
  }

  #statistics(name: string): string {
    return `${this.options.prefix}bandit:${name}:stats`;
  }

  #decision(name: string, id: string): string {
    return `${this.options.prefix}bandit:${checkBanditName(name)}:d:${checkDecisionId(id)}`;
  }
}

/** Little-endian doubles, the layout the Lua scripts read with `struct`. */
function encodeDoubles(v: Float64Array): Buffer {
  const out = Buffer.allocUnsafe(v.length * 8);
  for (let j = 0; j < v.length; j++) out.writeDoubleLE(v[j], j * 8);
  return out;
}

function decodeDoubles(bytes: Buffer, width: number): Float64Array {
  const out = new Float64Array(width);
  for (let j = 0; j < width; j++) out[j] = bytes.readDoubleLE(j * 8);
  return out;
}
