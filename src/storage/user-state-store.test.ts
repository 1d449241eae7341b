import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { describeUserStateStore } from '../../test/contracts/user-state-store-contract.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from '../../test/fixtures/redis-available.js';
import { MemoryUserStateStore } from './memory-user-state-store.js';
import { RedisUserStateStore } from './redis-user-state-store.js';
import { SqliteUserStateStore } from './sqlite-user-state-store.js';

describeUserStateStore('memory', async () => {
  const store = new MemoryUserStateStore({ seenCap: 3 });
  return { stores: [store, store], dispose: () => store.close() };
});

describeUserStateStore('sqlite file, two connections', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-user-state-'));
  const path = join(dir, 'serving.user-state.db');
  const stores: [SqliteUserStateStore, SqliteUserStateStore] = [
    new SqliteUserStateStore(path, { seenCap: 3 }),
    new SqliteUserStateStore(path, { seenCap: 3 }),
  ];
  return {
    stores,
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const reachable = await redisAnswers(TEST_REDIS_URL);
if (mustRunRedis(reachable)) {
  it(`reaches Redis at ${TEST_REDIS_URL}`, () => {
    expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
  });

  describeUserStateStore('redis', async () => {
    const prefix = `kiban-test-user-state-${randomUUID()}:`;
    const stores: [RedisUserStateStore, RedisUserStateStore] = [
      new RedisUserStateStore(TEST_REDIS_URL, { prefix, seenCap: 3 }),
      new RedisUserStateStore(TEST_REDIS_URL, { prefix, seenCap: 3 }),
    ];
    return {
      stores,
      async dispose() {
        await Promise.all(stores.map((s) => s.close()));
        const raw = new Redis(TEST_REDIS_URL);
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.unlink(...keys);
        raw.disconnect();
      },
    };
  });

  describe('RedisUserStateStore keys', () => {
    it('keeps hidden items as a SET per user under the prefix', async () => {
      const prefix = `kiban-test-user-state-${randomUUID()}:`;
      const store = new RedisUserStateStore(TEST_REDIS_URL, { prefix });
      const raw = new Redis(TEST_REDIS_URL);
      try {
        await store.hide('u1', 'i1');
        await store.markSeen('u1', ['i2']);
        expect(await raw.smembers(`${prefix}user-state:hidden:u1`)).toEqual(['i1']);
        expect(await raw.zrange(`${prefix}user-state:seen:u1`, '0', '-1')).toEqual(['i2']);
      } finally {
        await store.close();
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.unlink(...keys);
        raw.disconnect();
      }
    });
  });
}

describe('user state store options', () => {
  it('refuses a seenCap that is not an integer ≥ 1', () => {
    expect(() => new MemoryUserStateStore({ seenCap: 0 })).toThrow('seenCap');
  });
});
