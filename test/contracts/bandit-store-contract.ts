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
 * TTL, feedback counted exactly once and all-or-nothing per batch, and argument errors. `create` must return a new, empty space.
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
      expect(await a.createBandit('home', '{"policy":"ucb1"}')).toEqual({
        created: true,
        definition: '{"policy":"ucb1"}',
      });
      expect(await b.createBandit('home', '{"policy":"bts"}')).toEqual({
        created: false,
        definition: '{"policy":"ucb1"}',
      });
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
      expect(
        await a.addStatistics(
          'home',
          3,
          new Map([
            ['x', vector(1, 0.1, -2.5)],
            ['y', vector(1, 1, 1e-300)],
          ]),
        ),
      ).toBe(1);
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
        adds.push(
          (k % 2 === 0 ? a : b).addStatistics(
            'home',
            width,
            new Map([
              [`arm${k % 3}`, increment],
              ['all', increment],
            ]),
          ),
        );
      }
      const versions = await Promise.all(adds);
      expect(new Set(versions).size).toBe(200);
      const read = await a.readStatistics('home', width);
      expect(read?.version).toBe(200);
      expect(read?.arms.get('all')?.[0]).toBe(200);
      expect(read?.arms.get('all')?.[1]).toBe((199 * 200) / 2);
      expect(read?.arms.get('all')?.[width - 1]).toBe(200);
      expect(
        (read?.arms.get('arm0')?.[0] ?? 0) +
          (read?.arms.get('arm1')?.[0] ?? 0) +
          (read?.arms.get('arm2')?.[0] ?? 0),
      ).toBe(200);
    });

    it('refuses statistics for a missing bandit, of another width, or malformed', async () => {
      const [a] = await open();
      await expect(
        a.addStatistics('nope', 2, new Map([['x', vector(1, 1)]])),
      ).rejects.toBeInstanceOf(NotFoundError);
      await expect(a.addStatistics('nope', 2, new Map())).rejects.toBeInstanceOf(NotFoundError);
      await a.createBandit('home', '{}');
      await a.addStatistics('home', 2, new Map([['x', vector(1, 1)]]));
      await expect(
        a.addStatistics(
          'home',
          3,
          new Map([
            ['y', vector(1, 1, 1)],
            ['x', vector(1, 1, 1)],
          ]),
        ),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      // The clash changed nothing, not even the arm that had no totals yet.
      expect((await a.readStatistics('home', 2))?.arms.has('y')).toBe(false);
      await expect(a.readStatistics('home', 3)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.addStatistics('home', 2, new Map([['x', vector(1)]]))).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(
        a.addStatistics('home', 2, new Map([['x', vector(1, Number.NaN)]])),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.createBandit('bad name', '{}')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(a.getBandit('')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('counts feedback on a decision exactly once, from either handle', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      await a.putDecision('home', 'd1', '{"arms":["x"]}', 60_000);
      expect(await b.getDecision('home', 'unknown')).toEqual({ status: 'unknown' });
      expect(await b.getDecision('other', 'd1')).toEqual({ status: 'unknown' });
      expect(await b.getDecision('home', 'd1')).toEqual({
        status: 'open',
        record: '{"arms":["x"]}',
      });
      const increment = new Map([['x', vector(1, 1)]]);
      const commits = await Promise.all(
        [a, b, a, b].map((s) => s.commitFeedback('home', 2, increment, ['d1'])),
      );
      expect(commits.filter((c) => c.status === 'stored')).toEqual([
        { status: 'stored', version: 1 },
      ]);
      expect(commits.filter((c) => c.status === 'refused')).toEqual(
        Array.from({ length: 3 }, () => ({
          status: 'refused',
          refused: new Map([['d1', 'duplicate']]),
        })),
      );
      expect(await a.readStatistics('home', 2)).toEqual({
        version: 1,
        arms: new Map([['x', vector(1, 1)]]),
      });
      expect(await a.getDecision('home', 'd1')).toEqual({ status: 'duplicate' });
      await expect(a.putDecision('home', 'bad id!', '{}', 1000)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(a.putDecision('home', 'd2', '{}', 0)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(a.getDecision('home', 'bad id!')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('orders a decision write not waited for before later calls on the same handle', async () => {
      const [a] = await open();
      await a.createBandit('home', '{}');
      const ids = Array.from({ length: 50 }, (_, k) => `d${k}`);
      const writes = ids.map((id) => a.putDecision('home', id, `{"k":"${id}"}`, 60_000));
      const lookups = await Promise.all(ids.map((id) => a.getDecision('home', id)));
      expect(lookups).toEqual(ids.map((id) => ({ status: 'open', record: `{"k":"${id}"}` })));
      await Promise.all(writes);
      expect(await a.commitFeedback('home', 1, new Map([['x', vector(1)]]), ids)).toEqual({
        status: 'stored',
        version: 1,
      });
    });

    it('changes nothing when any decision of a batch cannot take feedback', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      for (const id of ['d1', 'd2', 'd3']) await a.putDecision('home', id, '{}', 60_000);
      const increment = new Map([['x', vector(2, 1)]]);
      expect(await b.commitFeedback('home', 2, increment, ['d3'])).toEqual({
        status: 'stored',
        version: 1,
      });
      expect(await a.commitFeedback('home', 2, increment, ['d1', 'ghost', 'd2', 'd3'])).toEqual({
        status: 'refused',
        refused: new Map<string, string>([
          ['ghost', 'unknown'],
          ['d3', 'duplicate'],
        ]),
      });
      expect(await b.readStatistics('home', 2)).toEqual({
        version: 1,
        arms: new Map([['x', vector(2, 1)]]),
      });
      expect(await b.getDecision('home', 'd1')).toEqual({ status: 'open', record: '{}' });
      // The caller drops the refused ones and sends the rest again.
      expect(await a.commitFeedback('home', 2, increment, ['d1', 'd2'])).toEqual({
        status: 'stored',
        version: 2,
      });
      expect((await b.readStatistics('home', 2))?.arms.get('x')).toEqual(vector(4, 2));
      await expect(a.commitFeedback('home', 2, increment, ['d4', 'd4'])).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(a.commitFeedback('nope', 2, increment, ['d1'])).rejects.toBeInstanceOf(
        NotFoundError,
      );
      expect(await b.getDecision('home', 'd1')).toEqual({ status: 'duplicate' });
    });

    it('forgets a decision after its TTL', async () => {
      const [a, b] = await open();
      await a.createBandit('home', '{}');
      await a.putDecision('home', 'short', '{}', 80);
      await a.putDecision('home', 'long', '{}', 60_000);
      await sleep(200);
      expect(await b.getDecision('home', 'short')).toEqual({ status: 'unknown' });
      expect(await b.commitFeedback('home', 2, new Map(), ['short'])).toEqual({
        status: 'refused',
        refused: new Map([['short', 'unknown']]),
      });
      expect((await b.getDecision('home', 'long')).status).toBe('open');
    });

    it('answers ping', async () => {
      const [a] = await open();
      expect(await a.ping()).toBe(true);
    });
  });
}
