import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFittedError } from '../../src/core/errors.js';
import { Interactions } from '../../src/data/interactions.js';
import type { IterationReport, Recommender } from '../../src/models/recommender.js';
import { builtinModels } from '../../src/models/builtin-models.js';

/**
 * Two taste groups. Group A (8 users) shares items 101–104, group B (4 users) shares 201–204,
 * so A's items are also the most popular. User 1 (group A) lacks 104 and user 50 (group B)
 * lacks 204: those withheld items are the known right answers. Item 300 is a singleton
 * liked by one user of each group.
 */
export function tasteGroupsFixture(): Interactions {
  const users: number[] = [];
  const items: number[] = [];
  const add = (u: number, i: number): void => {
    users.push(u);
    items.push(i);
  };
  for (let u = 1; u <= 8; u++)
    for (const i of [101, 102, 103, 104]) if (!(u === 1 && i === 104)) add(u, i);
  for (let u = 50; u <= 53; u++)
    for (const i of [201, 202, 203, 204]) if (!(u === 50 && i === 204)) add(u, i);
  add(8, 300);
  add(53, 300);
  return Interactions.fromColumns(Float64Array.from(users), Float64Array.from(items));
}

/** What a model promises beyond the contract, so the suite knows which answers to expect. */
export interface ContractTraits {
  /** Whether lists differ by user (every model but popularity). */
  personalized: boolean;
  /** Whether the model has item vectors (`itemVectors()`: ALS, BPR). @defaultValue false */
  itemVectors?: boolean;
}

/**
 * The conformance suite every {@link Recommender} runs: fitting, list shape and order, seen-item
 * exclusion, the withheld-item answers, similar items, save → load equality and argument errors.
 */
export function describeRecommender(
  name: string,
  create: (params?: Record<string, unknown>) => Recommender,
  traits: ContractTraits,
): void {
  describe(`Recommender contract: ${name}`, () => {
    const data = tasteGroupsFixture();
    const user = (id: number): number => data.users.indexOf(id);
    const item = (id: number): number => data.items.indexOf(id);
    const dirs: string[] = [];
    afterAll(async () => {
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    });

    const fitted = async (): Promise<Recommender> => {
      const model = create();
      await model.fit(data, { progress: false });
      return model;
    };

    it('refuses to recommend before it is fitted', () => {
      expect(() => create().recommend([0], { k: 3 })).toThrow(NotFittedError);
    });

    it('reports every iteration through the callback', async () => {
      const reports: IterationReport[] = [];
      const report = await create().fit(data, {
        progress: false,
        onIteration: (r) => reports.push(r),
      });
      expect(reports.length).toBe(report.iterations);
      expect(reports.map((r) => r.iteration)).toEqual(
        Array.from({ length: report.iterations }, (_, i) => i + 1),
      );
      for (const r of reports) expect(r.seconds).toBeGreaterThanOrEqual(0);
    });

    it('ranks the withheld item first for a user of the larger group', async () => {
      const model = await fitted();
      const lists = model.recommend([user(1)], { k: 3 });
      expect(data.items.idAt(lists.idsOf(0)[0])).toBe(104);
    });

    if (traits.personalized) {
      it('ranks the withheld item first for a user of the smaller group too', async () => {
        const model = await fitted();
        const lists = model.recommend([user(50)], { k: 3 });
        expect(data.items.idAt(lists.idsOf(0)[0])).toBe(204);
      });

      it('finds similar items within the same taste group', async () => {
        const model = await fitted();
        const lists = model.similarItems([item(101), item(201)], { k: 2 });
        for (const id of lists.idsOf(0)) expect([102, 103, 104]).toContain(data.items.idAt(id));
        for (const id of lists.idsOf(1)) expect([202, 203, 204]).toContain(data.items.idAt(id));
      });
    }

    it('never recommends seen items unless asked to, and orders lists best first', async () => {
      const model = await fitted();
      const all = Array.from({ length: data.users.size }, (_, u) => u);
      const lists = model.recommend(all, { k: 5 });
      for (let q = 0; q < all.length; q++) {
        const ids = lists.idsOf(q);
        const scores = lists.scoresOf(q);
        expect(ids.length).toBeLessThanOrEqual(5);
        expect(new Set(ids).size).toBe(ids.length);
        for (const i of ids) expect(data.userItems.has(all[q], i)).toBe(false);
        for (let r = 1; r < ids.length; r++) {
          expect(
            scores[r - 1] > scores[r] || (scores[r - 1] === scores[r] && ids[r - 1] < ids[r]),
          ).toBe(true);
        }
      }
      // With exclusion off, user 2's list may and (with 4 seen of 9 items and k = 9) must contain seen items.
      const withSeen = model.recommend([user(2)], { k: data.items.size, excludeSeen: false });
      expect(withSeen.idsOf(0).length).toBe(data.items.size);
    });

    it('never lists an item as similar to itself', async () => {
      const model = await fitted();
      const every = Array.from({ length: data.items.size }, (_, i) => i);
      const lists = model.similarItems(every, { k: 4 });
      for (let q = 0; q < every.length; q++) expect(lists.idsOf(q)).not.toContain(every[q]);
    });

    it('gives identical recommendations and similar items after save and load', async () => {
      const model = await fitted();
      const dir = await mkdtemp(join(tmpdir(), 'kiban-contract-'));
      dirs.push(dir);
      await model.save(join(dir, 'model'));
      const loaded = await builtinModels().load(join(dir, 'model'));
      expect(loaded.kind).toBe(model.kind);
      expect(loaded.params).toEqual(model.params);
      const users = Array.from({ length: data.users.size }, (_, u) => u);
      const a = model.recommend(users, { k: 4 });
      const b = loaded.recommend(users, { k: 4 });
      expect(b.ids).toEqual(a.ids);
      expect(b.scores).toEqual(a.scores);
      const items = Array.from({ length: data.items.size }, (_, i) => i);
      expect(loaded.similarItems(items, { k: 3 }).ids).toEqual(
        model.similarItems(items, { k: 3 }).ids,
      );
      expect(loaded.data.items.toJSON()).toEqual(data.items.toJSON());
    });

    it(
      traits.itemVectors
        ? 'has item vectors: n_items × dim finite numbers, the same after save and load'
        : 'has no item vectors',
      async () => {
        const model = await fitted();
        const vectors = model.itemVectors?.() ?? null;
        if (!traits.itemVectors) {
          expect(vectors).toBeNull();
          return;
        }
        expect(vectors).not.toBeNull();
        const { dim, vectors: values } = vectors!;
        expect(Number.isInteger(dim) && dim > 0).toBe(true);
        expect(values).toBeInstanceOf(Float32Array);
        expect(values.length).toBe(data.items.size * dim);
        expect(values.every(Number.isFinite)).toBe(true);
        expect(values.some((v) => v !== 0)).toBe(true);
        const dir = await mkdtemp(join(tmpdir(), 'kiban-contract-'));
        dirs.push(dir);
        await model.save(join(dir, 'model'));
        const loaded = await builtinModels().load(join(dir, 'model'));
        expect(loaded.itemVectors?.()).toEqual({ dim, vectors: values });
      },
    );

    it('refuses bad arguments with the field named', async () => {
      const model = await fitted();
      expect(() => model.recommend([0], { k: 0 })).toThrow(/^k: /);
      expect(() => model.recommend([0], { k: 1.5 })).toThrow(InvalidArgumentError);
      expect(() => model.recommend([data.users.size], { k: 3 })).toThrow(/^users: /);
      expect(() => model.similarItems([-1], { k: 3 })).toThrow(/^items: /);
      expect(() => create({ noSuchParameter: 1 })).toThrow(InvalidArgumentError);
    });
  });
}
