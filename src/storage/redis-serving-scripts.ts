import type { Redis } from 'ioredis';

/**
 * The Lua scripts of {@link RedisServingStore}. Redis runs a script atomically, so each one sees
 * and changes the pointer and the data in one step; ioredis sends them by EVALSHA (loading them on
 * the first NOSCRIPT), so each is one round trip.
 *
 * The list keys a script builds from the pointer are not declared in KEYS, which standalone Redis
 * allows; a Redis Cluster would need every key under one hash tag.
 */
const SCRIPTS = {
  /** KEYS: current. ARGV: `{prefix}v:`, `:{list}:{key}`. The list of the current version, or nil. */
  kibanGetList: {
    numberOfKeys: 1,
    readOnly: true,
    lua: `
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return false end
return redis.call('GET', ARGV[1] .. version .. ARGV[2])`,
  },
  /** KEYS: versions, seq. ARGV: version. Registers the version; its begin order, or 0 if held. */
  kibanBegin: {
    numberOfKeys: 2,
    readOnly: false,
    lua: `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
return seq`,
  },
  /**
   * KEYS: current, versions, published. ARGV: version, info JSON. Switches the pointer to a
   * registered version and records it as committed (its info in `published`; a replaced version
   * committed before `published` existed gets its info there too); returns the version it
   * replaced (nil if none), or an error if it was collected.
   */
  kibanCommit: {
    numberOfKeys: 3,
    readOnly: false,
    lua: `
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return redis.error_reply('KIBAN_NOT_FOUND version ' .. ARGV[1] .. ' is no longer registered')
end
local previous = redis.call('HGET', KEYS[1], 'version')
if previous then redis.call('HSETNX', KEYS[3], previous, redis.call('HGET', KEYS[1], 'info')) end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'info', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return previous`,
  },
  /**
   * KEYS: current, versions, published. ARGV: version. Switches the pointer back to a registered,
   * committed version; returns the version it replaced (nil if none), or an error if the version
   * is not held committed.
   */
  kibanRollback: {
    numberOfKeys: 3,
    readOnly: false,
    lua: `
local info = redis.call('HGET', KEYS[3], ARGV[1])
if not info then
  local current = redis.call('HGET', KEYS[1], 'version')
  if current == ARGV[1] then return current end
  return redis.error_reply('KIBAN_NOT_FOUND version ' .. ARGV[1] .. ' is not held committed')
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return redis.error_reply('KIBAN_NOT_FOUND version ' .. ARGV[1] .. ' is no longer registered')
end
local previous = redis.call('HGET', KEYS[1], 'version')
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'info', info)
return previous`,
  },
  /**
   * KEYS: current, published. ARGV: version. Unmarks a committed version before its removal, so
   * no rollback can switch to it meanwhile; 0 (and nothing changed) when it is current.
   */
  kibanRetire: {
    numberOfKeys: 2,
    readOnly: false,
    lua: `
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`,
  },
} as const;

/** A client with the scripts of this module defined on it. */
export interface ScriptedRedis extends Redis {
  /** ioredis defines a `…Buffer` twin of every script; lists are binary, so readers use this one. */
  kibanGetListBuffer(
    current: string,
    listPrefix: string,
    listSuffix: string,
  ): Promise<Buffer | null>;
  kibanBegin(versions: string, seq: string, version: string): Promise<number>;
  kibanCommit(
    current: string,
    versions: string,
    published: string,
    version: string,
    info: string,
  ): Promise<string | null>;
  kibanRollback(
    current: string,
    versions: string,
    published: string,
    version: string,
  ): Promise<string | null>;
  kibanRetire(current: string, published: string, version: string): Promise<number>;
}

/** Defines the scripts on `redis` (idempotent per client) and returns it typed accordingly. */
export function defineServingScripts(redis: Redis): ScriptedRedis {
  for (const [name, definition] of Object.entries(SCRIPTS)) redis.defineCommand(name, definition);
  return redis as ScriptedRedis;
}
