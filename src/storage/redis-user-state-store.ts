import { Redis, type RedisOptions } from 'ioredis';
import { InvalidArgumentError } from '../core/errors.js';
import { quitRedis } from './redis-ping.js';
import {
  checkSeenCap,
  checkStateId,
  seenOrder,
  type UserExclusions,
  type UserStateStore,
  type UserStateStoreOptions,
} from './user-state-store.js';

/** Options of {@link RedisUserStateStore}. */
export interface RedisUserStateStoreOptions extends UserStateStoreOptions {
  /** Key prefix: the service's serving store prefix (`?prefix=` of its URL). @defaultValue `kiban:` */
  prefix?: string;
  /** Passed to ioredis (`keyPrefix` is refused: use `prefix`). */
  redis?: RedisOptions;
}

/**
 * Adds `ARGV[2..]` to the sorted set `KEYS[1]` as its newest members (scores above its current
 * top, in order), then keeps only the newest `ARGV[1]`: atomic, one round trip.
 */
const MARK_SEEN = `
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local base = 0
if top[2] then base = tonumber(top[2]) end
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], base + i - 1, ARGV[i])
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[1]) - 1)
return 0
`;

type ScriptedRedis = Redis & {
  kibanMarkSeen(key: string, cap: number, ...items: string[]): Promise<number>;
};

/**
 * A {@link UserStateStore} on Redis, under the service's serving prefix: a SET of hidden items per
 * user at `{prefix}user-state:hidden:{user}`, and a sorted set of seen items per user at
 * `{prefix}user-state:seen:{user}` (scores ascending with recency, trimmed to `seenCap` by a
 * script). {@link RedisUserStateStore.exclusions} reads both in one pipelined round trip.
 */
export class RedisUserStateStore implements UserStateStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #cap: number;

  /** Connects (lazily) to the Redis at `url`. */
  constructor(url: string, options: RedisUserStateStoreOptions = {}) {
    this.#cap = checkSeenCap(options);
    const prefix = options.prefix ?? 'kiban:';
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix', 'must be a string');
    if (options.redis?.keyPrefix)
      throw new InvalidArgumentError('redis.keyPrefix', 'is not supported; use the prefix option');
    this.#prefix = `${prefix}user-state:`;
    const client = new Redis(url, { maxRetriesPerRequest: 3, ...options.redis });
    client.on('error', () => undefined);
    client.defineCommand('kibanMarkSeen', { numberOfKeys: 1, lua: MARK_SEEN });
    this.#redis = client as ScriptedRedis;
  }

  #hiddenKey(user: string): string {
    return `${this.#prefix}hidden:${user}`;
  }

  #seenKey(user: string): string {
    return `${this.#prefix}seen:${user}`;
  }

  async hide(user: string, item: string): Promise<void> {
    checkStateId('item', item);
    await this.#redis.sadd(this.#hiddenKey(checkStateId('user', user)), item);
  }

  async unhide(user: string, item: string): Promise<void> {
    checkStateId('item', item);
    await this.#redis.srem(this.#hiddenKey(checkStateId('user', user)), item);
  }

  async hidden(user: string): Promise<ReadonlySet<string>> {
    return new Set(await this.#redis.smembers(this.#hiddenKey(user)));
  }

  async markSeen(user: string, items: readonly string[]): Promise<void> {
    checkStateId('user', user);
    const ordered = seenOrder(items);
    if (ordered.length === 0) return;
    await this.#redis.kibanMarkSeen(this.#seenKey(user), this.#cap, ...ordered);
  }

  async seen(user: string): Promise<string[]> {
    return this.#redis.zrevrange(this.#seenKey(user), 0, -1);
  }

  async exclusions(user: string): Promise<UserExclusions> {
    const replies = await this.#redis
      .pipeline()
      .smembers(this.#hiddenKey(user))
      .zrevrange(this.#seenKey(user), 0, -1)
      .exec();
    if (replies === null) throw new Error('redis: the pipeline of exclusions was aborted');
    const [[hiddenError, hidden], [seenError, seen]] = replies as [
      [Error | null, string[]],
      [Error | null, string[]],
    ];
    if (hiddenError !== null) throw hiddenError;
    if (seenError !== null) throw seenError;
    return { hidden: new Set(hidden), seen };
  }

  async close(): Promise<void> {
    await quitRedis(this.#redis);
  }
}
