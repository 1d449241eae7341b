import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POLICY_KINDS } from './create-policy.js';
import { DecisionLogWriter } from './decision-log.js';
import { NotFoundError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { MemoryBanditStore } from '../storage/memory-bandit-store.js';
import { BanditService } from './bandit-service.js';

describe('BanditService', () => {
  it('answers a decision before its record is stored, and feedback elsewhere waits for a late record once', async () => {
    const store = new MemoryBanditStore();
    // The deciding process's record reaches the shared store 10 ms late (as across processes).
    const late: Promise<void>[] = [];
    const slow = new Proxy(store, {
      get(target, key) {
        if (key === 'putDecision') {
          return (...args: Parameters<MemoryBanditStore['putDecision']>) => {
            const put = new Promise<void>((resolve) => setTimeout(resolve, 10)).then(() =>
              target.putDecision(...args),
            );
            late.push(put);
            return put;
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const deciding = new BanditService(slow);
    const other = new BanditService(store);
    await deciding.define('b', { policy: 'ucb1' });
    const decided = await deciding.decide('b', { candidates: ['x', 'y'] });
    expect(late).toHaveLength(1);
    expect((await store.getDecision('b', decided.decisionId)).status).toBe('unknown'); // not there yet
    const fed = await other.feedback('b', { decisionId: decided.decisionId, rewards: [1] });
    expect(fed.arms).toEqual(decided.arms);
    expect((await store.readStatistics('b', 2))?.arms.get(decided.arms[0])).toEqual(
      Float64Array.from([1, 1]),
    );
    // A decision that never arrives is a 404 after that one wait.
    const t0 = performance.now();
    await expect(
      other.feedback('b', { decisionId: 'never-made', rewards: [1] }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(20); // a 25 ms timer may fire up to a tick early by this clock
    await Promise.all([deciding.close(), other.close()]);
  });

  it('reports decision records that fail to store, without failing the decision', async () => {
    const store = new MemoryBanditStore();
    const errors: unknown[] = [];
    const service = new BanditService(store, { onError: (error) => errors.push(error) });
    await service.define('b', { policy: 'egreedy' });
    store.putDecision = () => Promise.reject(new Error('store down'));
    for (let k = 0; k < 5; k++)
      expect((await service.decide('b', { candidates: ['x', 'y'] })).arms).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    // The first failure at once; the rest are counted for the next report (at most every 10 s).
    expect(errors.map((e) => String((e as Error).message))).toEqual([
      expect.stringMatching(/1 decision record\(s\) not stored.*store down/),
    ]);
    await service.close();
  });

  it('logs a poll that fails through its logger, naming the bandit, when no onError is given', async () => {
    const store = new MemoryBanditStore();
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    const service = new BanditService(store, { logger, pollMs: 5 });
    await service.define('b', { policy: 'egreedy' });
    await service.decide('b', { candidates: ['x', 'y'] });
    store.getBandit = () => Promise.reject(new Error('store down'));
    service.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await service.close();
    const entry = JSON.parse(lines[0]) as {
      level: number;
      bandit: string;
      msg: string;
      err: { message: string };
    };
    expect(entry).toMatchObject({
      level: 50,
      bandit: 'b',
      msg: 'bandits: store down',
      err: { message: 'store down' },
    });
  });

  it('logs the marginal per-slot probabilities of multi-slot decisions for every policy, Thompson sampling too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-bandit-marginals-'));
    const log = await DecisionLogWriter.open(join(dir, 'log.jsonl'));
    const service = new BanditService(new MemoryBanditStore(), { log });
    // Thompson marginals are Monte Carlo estimates; each draw's term lies in [0, 1], so with
    // 20,000 draws an estimate's standard error is at most 0.0036 and 0.02 is over five of them.
    const draws = 20_000;
    const thompson = (policy: string) => policy === 'bts' || policy === 'lints';
    for (const policy of POLICY_KINDS) {
      const dim = policy === 'linucb' || policy === 'lints' ? 2 : 0;
      await service.define(policy, {
        policy,
        dim,
        ...(thompson(policy) ? { params: { draws } } : {}),
      });
      await service.decide(policy, {
        context: dim > 0 ? [1, 0.5] : undefined,
        candidates: ['a', 'b', 'c', 'd'],
        slots: 3,
      });
      await service.decide(policy, {
        context: dim > 0 ? [1, 0.5] : undefined,
        candidates: ['a', 'b'],
        slots: 1,
      });
    }
    await service.close();
    await log.close();
    const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const policy of POLICY_KINDS) {
      const [three, one] = lines.filter((l) => l.bandit === policy);
      expect(three.marginals).toHaveLength(3);
      for (const m of three.marginals) expect(m > 0 && m <= 1).toBe(true);
      // Nothing chosen yet: every arm is equally likely at every slot.
      for (const m of three.marginals) {
        if (thompson(policy)) expect(Math.abs(m - 0.25)).toBeLessThan(0.02);
        else expect(m).toBeCloseTo(0.25, 12);
      }
      expect(one.marginals).toBeUndefined();
    }
    await rm(dir, { recursive: true, force: true });
  });
});
