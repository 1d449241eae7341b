import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import type { BanditStore } from '../../src/storage/bandit-store.js';

/** Two handles onto one empty store (the same object where the backend is one process), and how to dispose of them. */
export interface BanditStoreSpace {
  stores: [BanditStore, BanditStore];
  dispose(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function vector(...values: number[]): Float64Array {
  return Float64Array.from(values);
}

/**
 * The conformance suite every {@link BanditStore} runs: definitions, exact and atomic addition of
 * statistics (concurrent adds from two handles lose nothing), consistent reads, decisions with
 * TTL and exactly-once claims, and argument errors. `create` must return a new, empty space.
 */
export function describeBanditStore(name: string, create: () => Promise<BanditStoreSpace>): void {
  describe(`BanditStore contract: ${name}`, () => {
    let space: BanditStoreSpace | null = null;
    const open = async (): Promise<[BanditStore, BanditStore]> => {
      space = await create();
      return space.stores;
    };
    afterEach(async () => {
      await space?.dispose();
      space = null;
    });

    it('creates a bandit once, keeping the first definition', async () => {
      const [a, b] = await open();
      expect(await a.getBandit('home')).toBeNull();
      expect(await a.createBandit('home', '{"policy":"ucb1"}')).toEqual({ created: true, definition: '{"policy":"ucb1"}' });
      expect(await b.createBandit('home', '{"policy":"bts"}')).toEqual({ created: false, definition: '{"policy":"ucb1"}' });
      expect(await b.getBandit('home')).toEqual({ definition: '{"policy":"ucb1"}', version: 0 });
      await a.createBandit('about', '{}');
      expect(await b.listBandits()).toEqual(['about', 'home']);
    });

    it('deletes a bandit with its statistics', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      await a.addStatistics('home', 2, new Map([['x', vector(1, 1)]]));
      expect(await b.deleteBandit('home')).toBe(true);
      expect(await b.deleteBandit('home')).toBe(false);
      expect(await a.getBandit('home')).toBeNull();
      expect(await a.readStatistics('home', 2)).toBeNull();
      expect(await a.listBandits()).toEqual([]);
      await a.createBandit('home', '{"again":true}');
      expect(await a.readStatistics('home', 2)).toEqual({ version: 0, arms: new Map() });
    });

    it('adds statistics exactly and counts versions', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      expect(await a.addStatistics('home', 3, new Map([['x', vector(1, 0.1, -2.5)], ['y', vector(1, 1, 1e-300)]]))).toBe(1);
      expect(await b.addStatistics('home', 3, new Map([['x', vector(1, 0.2, 0.5)]]))).toBe(2);
      expect(await b.addStatistics('home', 3, new Map())).toBe(2);
      const read = await b.readStatistics('home', 3);
      expect(read?.version).toBe(2);
      expect(read?.arms.get('x')).toEqual(vector(2, 0.1 + 0.2, -2));
      expect(read?.arms.get('y')).toEqual(vector(1, 1, 1e-300));
      expect((await a.getBandit('home'))?.version).toBe(2);
    });

    it('loses no update when two handles add concurrently', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      const width = 50;
      const adds: Promise<number>[] = [];
      for (let k = 0; k < 200; k++) {
        const increment = new Float64Array(width).fill(1);
        increment[1] = k;
        adds.push((k % 2 === 0 ? a : b).addStatistics('home', width, new Map([[`arm${k % 3}`, increment], ['all', increment]])));
      }
      const versions = await Promise.all(adds);
      expect(new Set(versions).size).toBe(200);
      const read = await a.readStatistics('home', width);
      expect(read?.version).toBe(200);
      expect(read?.arms.get('all')?.[0]).toBe(200);
      expect(read?.arms.get('all')?.[1]).toBe((199 * 200) / 2);
      expect(read?.arms.get('all')?.[width - 1]).toBe(200);
      expect((read?.arms.get('arm0')?.[0] ?? 0) + (read?.arms.get('arm1')?.[0] ?? 0) + (read?.arms.get('arm2')?.[0] ?? 0)).toBe(200);
    });

    it('refuses statistics for a missing bandit, of another width, or malformed', async () => {
      const [a] = await open();
      await expect(a.addStatistics('nope', 2, new Map([['x', vector(1, 1)]]))).rejects.toBeInstanceOf(NotFoundError);
      await expect(a.addStatistics('nope', 2, new Map())).rejects.toBeInstanceOf(NotFoundError);
      await a.createBandit('home', '{}');
      await a.addStatistics('home', 2, new Map([['x', vector(1, 1)]]));
      await expect(a.addStatistics('home', 3, new Map([['y', vector(1, 1, 1)], ['x', vector(1, 1, 1)]]))).rejects.toBeInstanceOf(InvalidArgumentError);
      // The clash changed nothing, not even the arm that had no totals yet.
      expect((await a.readStatistics('home', 2))?.arms.has('y')).toBe(false);
      await expect(a.readStatistics('home', 3)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.addStatistics('home', 2, new Map([['x', vector(1)]]))).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.addStatistics('home', 2, new Map([['x', vector(1, Number.NaN)]]))).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.createBandit('bad name', '{}')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.getBandit('')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('claims a decision exactly once, from either handle', async () => {
      const [a, b] = await open();
      await a.putDecision('home', 'd1', '{"arms":["x"]}', 60_000);
      expect(await b.claimDecision('home', 'unknown')).toEqual({ status: 'unknown' });
      expect(await b.claimDecision('other', 'd1')).toEqual({ status: 'unknown' });
      const claims = await Promise.all([a.claimDecision('home', 'd1'), b.claimDecision('home', 'd1'), a.claimDecision('home', 'd1'), b.claimDecision('home', 'd1')]);
      expect(claims.filter((c) => c.status === 'claimed')).toEqual([{ status: 'claimed', record: '{"arms":["x"]}' }]);
      expect(claims.filter((c) => c.status === 'duplicate')).toHaveLength(3);
      await b.releaseDecision('home', 'd1');
      expect(await a.claimDecision('home', 'd1')).toEqual({ status: 'claimed', record: '{"arms":["x"]}' });
      await expect(a.putDecision('home', 'bad id!', '{}', 1000)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.putDecision('home', 'd2', '{}', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('forgets a decision after its TTL', async () => {
      const [a, b] = await open();
      await a.putDecision('home', 'short', '{}', 80);
      await a.putDecision('home', 'long', '{}', 60_000);
      await sleep(200);
      expect(await b.claimDecision('home', 'short')).toEqual({ status: 'unknown' });
      expect((await b.claimDecision('home', 'long')).status).toBe('claimed');
    });

    it('answers ping', async () => {
      const [a] = await open();
      expect(await a.ping()).toBe(true);
    });
  });
}
