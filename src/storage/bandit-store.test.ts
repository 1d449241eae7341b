import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { describeBanditStore } from '../../test/contracts/bandit-store-contract.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from '../../test/fixtures/redis-available.js';
import { MemoryBanditStore } from './memory-bandit-store.js';
import { RedisBanditStore } from './redis-bandit-store.js';
import { SqliteBanditStore } from './sqlite-bandit-store.js';

describeBanditStore('memory', async () => {
  const store = new MemoryBanditStore();
  return { stores: [store, store], dispose: () => store.close() };
});

describeBanditStore('sqlite file, two connections', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-bandits-'));
  const path = join(dir, 'serving.db');
  const stores: [SqliteBanditStore, SqliteBanditStore] = [
    new SqliteBanditStore(path),
    new SqliteBanditStore(path),
  ];
  return {
    stores,
    async dispose() {
      await Promise.all(stores.map((s) => s.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// Redis: the real server. Unreachable is a failure in CI; elsewhere the suite is skipped, loudly.
const reachable = await redisAnswers(TEST_REDIS_URL);
if (mustRunRedis(reachable)) {
  it('reaches Redis at ' + TEST_REDIS_URL, () => {
    expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
  });

  describeBanditStore('redis', async () => {
    const prefix = `kiban-test-bandits-${randomUUID()}:`;
    const stores: [RedisBanditStore, RedisBanditStore] = [
      new RedisBanditStore(TEST_REDIS_URL, { prefix }),
      new RedisBanditStore(TEST_REDIS_URL, { prefix }),
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

  describe('RedisBanditStore keys', () => {
    it('keeps statistics as little-endian doubles under its prefix', async () => {
      const prefix = `kiban-test-bandits-${randomUUID()}:`;
      const store = new RedisBanditStore(TEST_REDIS_URL, { prefix });
      const raw = new Redis(TEST_REDIS_URL);
      try {
        await store.createBandit('home', '{"policy":"ucb1"}');
        await store.addStatistics('home', 2, new Map([['x', Float64Array.from([1, 0.5])]]));
        const bytes = await raw.hgetBuffer(`${prefix}bandit:home:stats`, 'x');
        expect(bytes?.readDoubleLE(8)).toBe(0.5);
        expect(await raw.hget(`${prefix}bandit:home`, 'version')).toBe('1');
        await store.putDecision('home', 'd1', '{}', 60_000);
        const ttl = await raw.pttl(`${prefix}bandit:home:d:d1`);
        expect(ttl).toBeGreaterThan(50_000);
      } finally {
        const keys = await raw.keys(`${prefix}*`);
        if (keys.length > 0) await raw.unlink(...keys);
        raw.disconnect();
        await store.close();
      }
    });
  });
} else {
  console.warn(
    `[bandit-store.test] Redis at ${TEST_REDIS_URL} is unreachable and CI is not set: skipping the Redis suite.`,
  );
}
