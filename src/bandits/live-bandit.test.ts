import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { FeedbackCommit } from '../storage/bandit-store.js';
import { MemoryBanditStore } from '../storage/memory-bandit-store.js';
import { LiveBandit } from './live-bandit.js';

const definition = JSON.stringify({
  policy: 'ucb1',
  dim: 0,
  params: { alpha: 1 },
  createdAt: '2026-11-25T00:00:00.000Z',
  generation: 'g1',
});

/** Rejects if `promise` has not settled within `ms` (a lost batch would hang forever). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms),
    ),
  ]);
}

describe('LiveBandit', () => {
  it('sends an increment queued in the same turn as the previous batch settles (no lost batch)', async () => {
    // As when one Redis reply chunk settles a batch and a feedback's claim together: the claim's
    // continuation runs right after the flush loop found nothing pending.
    const store = new MemoryBanditStore();
    await store.createBandit('b', definition);
    const live = await LiveBandit.load(store, 'b');
    const settle: ((version: number) => void)[] = [];
    store.commitFeedback = () =>
      new Promise<FeedbackCommit>((resolve) =>
        settle.push((version) => resolve({ status: 'stored', version })),
      );
    const one = new Map([['x', Float64Array.from([1, 1])]]);
    const first = live.add(one);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settle).toHaveLength(1);
    let claimed!: () => void;
    const second = new Promise<void>((resolve) => (claimed = resolve)).then(() => live.add(one));
    settle[0](1);
    claimed();
    expect(await first).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settle).toHaveLength(2); // the second increment went out in a batch of its own
    settle[1](2);
    expect(await within(second, 1000)).toBe(2);
  });

  it('sends an increment queued right after the previous one settled', async () => {
    const store = new MemoryBanditStore();
    await store.createBandit('b', definition);
    const live = await LiveBandit.load(store, 'b');
    const one = new Map([['x', Float64Array.from([1, 1])]]);
    for (let k = 1; k <= 50; k++) expect(await within(live.add(one), 1000)).toBe(k);
    expect((await store.readStatistics('b', 2))?.arms.get('x')).toEqual(
      Float64Array.from([50, 50]),
    );
  });

  it('merges concurrent increments into one batch and settles every request with its version', async () => {
    const store = new MemoryBanditStore();
    await store.createBandit('b', definition);
    const live = await LiveBandit.load(store, 'b');
    const versions = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        live.add(new Map([[`arm${k % 4}`, Float64Array.from([1, k])]])),
      ),
    );
    expect(new Set(versions)).toEqual(new Set([1]));
    const totals = (await store.readStatistics('b', 2))?.arms;
    expect([...(totals?.values() ?? [])].reduce((s, v) => s + v[0], 0)).toBe(20);
    await live.drain();
  });

  it('fails only the refused requests of a batch and stores the rest, each decision once', async () => {
    const store = new MemoryBanditStore();
    await store.createBandit('b', definition);
    for (const id of ['d1', 'd2', 'd3']) await store.putDecision('b', id, '{}', 60_000);
    // d2 is fed back through another process first.
    await store.commitFeedback('b', 2, new Map([['x', Float64Array.from([1, 1])]]), ['d2']);
    const live = await LiveBandit.load(store, 'b');
    const one = new Map([['x', Float64Array.from([1, 1])]]);
    const outcomes = await Promise.allSettled([
      live.add(one, 'd1'),
      live.add(one, 'd2'),
      live.add(one, 'gone'),
      live.add(one, 'd3'),
      live.add(one, 'd3'),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
    ]);
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? o.reason : null));
    expect(reasons[1]).toBeInstanceOf(ConflictError);
    expect(reasons[2]).toBeInstanceOf(NotFoundError);
    expect(reasons[4]).toBeInstanceOf(ConflictError); // the same decision twice in this process
    expect((await store.readStatistics('b', 2))?.arms.get('x')).toEqual(Float64Array.from([3, 3]));
    for (const id of ['d1', 'd2', 'd3'])
      expect((await store.getDecision('b', id)).status).toBe('duplicate');
  });

  it('rebuilds its policy from the store when the version moved', async () => {
    const store = new MemoryBanditStore();
    await store.createBandit('b', definition);
    const live = await LiveBandit.load(store, 'b');
    expect(live.version).toBe(0);
    await store.addStatistics('b', 2, new Map([['x', Float64Array.from([3, 3])]]));
    live.noteVersion(1);
    expect(live.stale).toBe(true);
    await live.refresh();
    expect(live.version).toBe(1);
    expect(live.policy.snapshot().arms.x).toEqual({ n: 3, rewardSum: 3 });
  });
});
