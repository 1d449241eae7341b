import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBanditStore } from '../src/app/open-bandit-store.js';
import { ConflictError } from '../src/core/errors.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import type { BanditStore } from '../src/storage/bandit-store.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from './fixtures/redis-available.js';

const runRedis = mustRunRedis(await redisAnswers(TEST_REDIS_URL));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-bandit-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Starts the crash fixture on `url`, sends it one feedback and waits for it to die of SIGKILL at
 * `mode`; returns whether the client got an answer (it must not).
 */
async function feedbackToDyingProcess(
  url: string,
  mode: 'before-commit' | 'after-commit',
  bandit: string,
  decisionId: string,
  rewards: number[],
): Promise<boolean> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/bandit-crash-server.ts', url, mode],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then((signal) =>
      reject(new Error(`the crash server exited (${signal}) before serving: ${stderr}`)),
    );
  });
  const answered = await fetch(`${base}/v1/bandits/${bandit}/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ decisionId, rewards }),
  }).then(
    () => true,
    () => false,
  );
  expect(await exited).toBe('SIGKILL');
  return answered;
}

const STORES: [string, () => string, () => Promise<void>][] = [
  ['SQLite', () => `sqlite:${join(dir, 'bandits.db')}`, async () => undefined],
];
if (runRedis) {
  const prefix = `kiban-test-bandit-crash-${randomUUID()}:`;
  STORES.push([
    'Redis',
    () => `${TEST_REDIS_URL}?prefix=${prefix}`,
    async () => {
      const raw = new Redis(TEST_REDIS_URL);
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.unlink(...keys);
      raw.disconnect();
    },
  ]);
}

describe.each(STORES)(
  'bandit feedback from a process killed with SIGKILL (%s store)',
  (_label, storeUrl, clear) => {
    let store: BanditStore;
    let survivor: BanditService;

    beforeAll(async () => {
      store = await openBanditStore(storeUrl());
      survivor = new BanditService(store);
      await survivor.define('crash', { policy: 'linucb', dim: 2 });
    });
    afterAll(async () => {
      await survivor?.close();
      await store?.close();
      await clear();
    });

    /** The feedback count and reward sum over every arm of the shared statistics. */
    async function counted(): Promise<{ n: number; rewardSum: number }> {
      const { arms } = await survivor.summary('crash');
      return {
        n: arms.reduce((s, a) => s + a.n, 0),
        rewardSum: arms.reduce((s, a) => s + a.rewardSum, 0),
      };
    }

    it('counts the retry exactly once when the process dies after reading the decision and before its batch is stored', async () => {
      const before = await counted();
      const decided = await survivor.decide('crash', {
        context: [1, 0.5],
        candidates: ['a', 'b', 'c'],
        slots: 2,
      });
      expect(
        await feedbackToDyingProcess(
          storeUrl(),
          'before-commit',
          'crash',
          decided.decisionId,
          [1, 0],
        ),
      ).toBe(false);
      // Nothing was counted, and the decision is still open: the client's retry elsewhere counts.
      expect(await counted()).toEqual(before);
      const retried = await survivor.feedback('crash', {
        decisionId: decided.decisionId,
        rewards: [1, 0],
      });
      expect(retried.arms).toEqual(decided.arms);
      expect(await counted()).toEqual({ n: before.n + 2, rewardSum: before.rewardSum + 1 });
      // A second retry is refused and counts nothing more.
      await expect(
        survivor.feedback('crash', { decisionId: decided.decisionId, rewards: [1, 0] }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await counted()).toEqual({ n: before.n + 2, rewardSum: before.rewardSum + 1 });
    }, 60_000);

    it('refuses the retry (409) when the process died after storing its batch, so it is counted once', async () => {
      const before = await counted();
      const decided = await survivor.decide('crash', {
        context: [0, 1],
        candidates: ['a', 'b', 'c'],
        slots: 1,
      });
      expect(
        await feedbackToDyingProcess(storeUrl(), 'after-commit', 'crash', decided.decisionId, [1]),
      ).toBe(false);
      expect(await counted()).toEqual({ n: before.n + 1, rewardSum: before.rewardSum + 1 });
      await expect(
        survivor.feedback('crash', { decisionId: decided.decisionId, rewards: [1] }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await counted()).toEqual({ n: before.n + 1, rewardSum: before.rewardSum + 1 });
    }, 60_000);
  },
);
