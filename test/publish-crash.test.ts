import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServingStore } from '../src/storage/redis-serving-store.js';
import type { ServingStore } from '../src/storage/serving-store.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';

/** Starts the publish-forever fixture and kills it with SIGKILL once it is writing. */
async function killMidPublish(url: string, version: string, prefix = ''): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/publish-forever.ts', url, version, prefix],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('writing')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  // Let it write a few more batches, then kill it without warning.
  await new Promise((r) => setTimeout(r, 150));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function publish(store: ServingStore, version: string): Promise<void> {
  const writer = await store.beginVersion(version, {});
  await writer.putLists(
    'user',
    Array.from({ length: 50 }, (_, u) => [String(u), [{ id: version, score: 1 }]] as const),
  );
  await writer.commit();
}

const redisUrl = 'redis://127.0.0.1:6379';
const cases: [
  string,
  () => Promise<{
    url: string;
    prefix?: string;
    open: () => ServingStore;
    cleanup: () => Promise<void>;
  }>,
][] = [
  [
    'SQLite',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kiban-crash-'));
      const path = join(dir, 'serving.db');
      return {
        url: `sqlite:${path}`,
        open: () => new SqliteServingStore(path),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'Redis',
    async () => {
      const prefix = `kiban-test-crash-${process.pid}:`;
      return {
        url: redisUrl,
        prefix,
        open: () => new RedisServingStore(redisUrl, { prefix }),
        async cleanup() {
          const store = new RedisServingStore(redisUrl, { prefix });
          await store.clear();
          await store.close();
        },
      };
    },
  ],
];

for (const [name, setup] of cases) {
  describe(`a publish killed half-way (${name})`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    beforeAll(async () => {
      env = await setup();
    });
    afterAll(async () => {
      await env.cleanup();
    });

    it('leaves the previous version serving, and the next publish succeeds', async () => {
      const before = env.open();
      await publish(before, 'v1');
      await before.close();

      await killMidPublish(env.url, 'v2', env.prefix);

      const after = env.open();
      expect((await after.currentVersion())?.version).toBe('v1');
      for (const user of ['0', '49'])
        expect(await after.getList('user', user)).toEqual([{ id: 'v1', score: 1 }]);
      expect(await after.getList('user', '400')).toBeNull();
      await publish(after, 'v3');
      expect((await after.currentVersion())?.version).toBe('v3');
      expect(await after.getList('user', '0')).toEqual([{ id: 'v3', score: 1 }]);
      await after.close();
    }, 30_000);
  });
}
