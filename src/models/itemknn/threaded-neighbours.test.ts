import { describe, expect, it } from 'vitest';
import { CsrMatrix } from '../../data/csr-matrix.js';
import { Interactions } from '../../data/interactions.js';
import { ItemKnnRecommender } from './itemknn-recommender.js';
import { MIN_WORK_FOR_THREADS, cosineNeighbours } from './threaded-neighbours.js';
import { splitByWork } from './cosine-neighbours.js';

/** A user × item matrix of `users` users with `perUser` distinct items each, skewed to low ids. */
function matrix(users: number, items: number, perUser: number, seed: number): CsrMatrix {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const indptr = new Int32Array(users + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < users; u++) {
    const row = new Set<number>();
    while (row.size < perUser) row.add(Math.floor(items * rand() ** 2));
    for (const i of [...row].sort((a, b) => a - b)) {
      indices.push(i);
      values.push(1 + Math.floor(rand() * 5));
    }
    indptr[u + 1] = indices.length;
  }
  return new CsrMatrix(users, items, indptr, Int32Array.from(indices), Float32Array.from(values));
}

describe('item-kNN neighbours on threads', () => {
  it('splits items into ranges of equal work', () => {
    const work = Float64Array.from([10, 0, 0, 5, 5, 10, 10]);
    // 10 + 0 + 0 + 5 + 5 = 20 of 40: the first range ends after item 4.
    expect(splitByWork(work, 2)).toEqual([0, 5, 7]);
    expect(splitByWork(work, 1)).toEqual([0, 7]);
    expect(splitByWork(Float64Array.from([1]), 4)).toEqual([0, 1]);
  });

  it('gives the same neighbours on 2 threads as on 1, once the work is worth threads', async () => {
    const x = matrix(2500, 3000, 180, 7);
    const xt = x.transpose();
    let work = 0;
    for (let u = 0; u < x.rows; u++) work += (x.indptr[u + 1] - x.indptr[u]) ** 2;
    expect(work).toBeGreaterThan(MIN_WORK_FOR_THREADS);
    const one = await cosineNeighbours(x, xt, 50, 1);
    const two = await cosineNeighbours(x, xt, 50, 2);
    expect(two.indptr).toEqual(one.indptr);
    expect(two.indices).toEqual(one.indices);
    expect(two.values).toEqual(one.values);
    expect(one.nnz).toBeGreaterThan(3000 * 40);
  });

  it('lowers K to fit maxNeighbourMiB', async () => {
    const log = { users: [] as number[], items: [] as number[] };
    for (let u = 0; u < 200; u++)
      for (let i = 0; i < 40; i++) {
        log.users.push(u);
        log.items.push((u * 7 + i * 13) % 400);
      }
    const data = Interactions.fromColumns(
      log.users.map(String),
      log.items.map(String),
      null,
      'binary',
    );
    // 400 items × 8 bytes × K ≤ 0.05 MiB → K ≤ 16.
    const model = new ItemKnnRecommender({ neighbours: 100, maxNeighbourMiB: 0.05, threads: 1 });
    await model.fit(data, { progress: false });
    const similar = model.similarItems([0, 1, 2], { k: 100 });
    // Every item co-occurs with dozens of others, so only the cap keeps lists this short.
    for (let q = 0; q < 3; q++) {
      expect(similar.lengths[q]).toBeLessThanOrEqual(16);
      expect(similar.lengths[q]).toBeGreaterThan(8);
    }
  });
});
