import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../core/errors.js';
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
            const put = new Promise<void>((resolve) => setTimeout(resolve, 10)).then(() => target.putDecision(...args));
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
    expect((await store.readStatistics('b', 2))?.arms.get(decided.arms[0])).toEqual(Float64Array.from([1, 1]));
    // A decision that never arrives is a 404 after that one wait.
    const t0 = performance.now();
    await expect(other.feedback('b', { decisionId: 'never-made', rewards: [1] })).rejects.toBeInstanceOf(NotFoundError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    await Promise.all([deciding.close(), other.close()]);
  });

  it('reports decision records that fail to store, without failing the decision', async () => {
    const store = new MemoryBanditStore();
    const errors: unknown[] = [];
    const service = new BanditService(store, { onError: (error) => errors.push(error) });
    await service.define('b', { policy: 'egreedy' });
    store.putDecision = () => Promise.reject(new Error('store down'));
    for (let k = 0; k < 5; k++) expect((await service.decide('b', { candidates: ['x', 'y'] })).arms).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    // The first failure at once; the rest are counted for the next report (at most every 10 s).
    expect(errors.map((e) => String((e as Error).message))).toEqual([expect.stringMatching(/1 decision record\(s\) not stored.*store down/)]);
    await service.close();
  });
});
