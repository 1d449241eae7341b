import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { Random } from '../../src/core/random.js';
import type {
  VectorIndex,
  VectorMetric,
  VectorSearchResult,
} from '../../src/vectors/vector-index.js';
import { VECTOR_METRICS } from '../../src/vectors/vector-index.js';

/** How the suite makes indexes of one implementation. */
export interface VectorIndexFactory {
  /** A new, empty index of `dim` dimensions under `metric`. */
  open(dim: number, metric: VectorMetric): Promise<VectorIndex>;
  /** Whether the index answers exactly (else recall@10 ≥ 0.95 on the clustered fixture). */
  exact: boolean;
  /** The implementation's inverse of `serialize`. */
  deserialize(bytes: Uint8Array): Promise<VectorIndex>;
}

/** A brute-force answer in float64: per query, keys and scores closest first. */
export interface ReferenceAnswer {
  keys: number[][];
  scores: number[][];
}

/**
 * The exact k nearest keys for each query, in float64, by scanning every vector (the suite's
 * ground truth; cosine normalises both sides).
 */
export function bruteForce(
  keys: ArrayLike<number>,
  vectors: Float32Array,
  queries: Float32Array,
  dim: number,
  metric: VectorMetric,
  k: number,
  filter?: (key: number) => boolean,
): ReferenceAnswer {
  const n = keys.length;
  const m = queries.length / dim;
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < dim; a++) s += vectors[i * dim + a] ** 2;
    norms[i] = Math.sqrt(s);
  }
  const out: ReferenceAnswer = { keys: [], scores: [] };
  const score = new Float64Array(n);
  for (let q = 0; q < m; q++) {
    let qn = 0;
    for (let a = 0; a < dim; a++) qn += queries[q * dim + a] ** 2;
    qn = Math.sqrt(qn);
    const order: number[] = [];
    for (let i = 0; i < n; i++) {
      if (filter !== undefined && !filter(keys[i])) continue;
      let s = 0;
      for (let a = 0; a < dim; a++) {
        const x = vectors[i * dim + a];
        const y = queries[q * dim + a];
        s += metric === 'l2' ? (x - y) ** 2 : x * y;
      }
      if (metric === 'cosine') s = norms[i] === 0 || qn === 0 ? 0 : s / (norms[i] * qn);
      score[i] = s;
      order.push(i);
    }
    order.sort((i, j) => (metric === 'l2' ? score[i] - score[j] : score[j] - score[i]));
    const top = order.slice(0, k);
    out.keys.push(top.map((i) => keys[i]));
    out.scores.push(top.map((i) => score[i]));
  }
  return out;
}

/**
 * A seeded Gaussian mixture: `clusters` centres drawn N(0, 1) per coordinate, points around them
 * with per-cluster spread in [0.1, 0.4), so neighbourhoods are meaningful (as embeddings are).
 */
export function clusteredFixture(
  n: number,
  dim: number,
  clusters: number,
  seed: number,
): Float32Array {
  const random = new Random(seed);
  const centres = random.fillGaussian(new Float32Array(clusters * dim), 1);
  const spread = Float32Array.from({ length: clusters }, () => 0.1 + 0.3 * random.next());
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = random.nextInt(clusters);
    for (let a = 0; a < dim; a++)
      out[i * dim + a] = centres[c * dim + a] + spread[c] * random.nextGaussian();
  }
  return out;
}

/** Query `q`'s answered keys (the first `counts[q]`), as numbers. */
function rowKeys(result: VectorSearchResult, q: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < result.counts[q]; i++) out.push(Number(result.keys[q * result.k + i]));
  return out;
}

function rowScores(result: VectorSearchResult, q: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < result.counts[q]; i++) out.push(result.scores[q * result.k + i]);
  return out;
}

/** Mean fraction of the reference's top `k` found in the answer's top `k`. */
function recall(result: VectorSearchResult, reference: ReferenceAnswer): number {
  let found = 0;
  let total = 0;
  reference.keys.forEach((truth, q) => {
    const got = new Set(rowKeys(result, q));
    for (const key of truth) if (got.has(key)) found++;
    total += truth.length;
  });
  return found / total;
}

/** Scores close to the float64 reference (float32 storage: relative 1e-4, absolute 1e-4). */
function expectScoresClose(got: number[], want: number[]): void {
  expect(got).toHaveLength(want.length);
  got.forEach((g, i) => {
    expect(Math.abs(g - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
  });
}

/** Checks the shape of a result: k, lengths, counts, and the -1 / NaN padding after counts[q]. */
function expectShape(result: VectorSearchResult, m: number, k: number): void {
  expect(result.k).toBe(k);
  expect(result.keys).toHaveLength(m * k);
  expect(result.scores).toHaveLength(m * k);
  expect(result.counts).toHaveLength(m);
  for (let q = 0; q < m; q++) {
    expect(result.counts[q]).toBeLessThanOrEqual(k);
    for (let i = result.counts[q]; i < k; i++) {
      expect(result.keys[q * k + i]).toBe(-1);
      expect(result.scores[q * k + i]).toBeNaN();
    }
  }
}

/** Awaits `fn` and expects an InvalidArgumentError naming `field` (sync throw or rejection). */
async function expectInvalid(fn: () => unknown, field: string): Promise<void> {
  let error: unknown = null;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).field).toBe(field);
}

/**
 * The hand-checkable fixture (dim 3, deliberately not a multiple of 4). For the query (1, 1, 0):
 * - ip: 11 → 7, 7 → 2.1, 5 → 1, 9 → 0, 2 → -1;
 * - cosine: 11 → 0.98995, 7 → 0.74154, 5 → 0.70711, 9 → 0, 2 → -0.70711;
 * - l2: 5 → 1, 7 → 1.81, 9 → 2.25, 2 → 5, 11 → 13.
 */
const SMALL_KEYS = [5, 7, 11, 2, 9];
const SMALL = Float32Array.from([1, 0, 0, 0.1, 2, 0, 3, 4, 0, -1, 0, 0, 0, 0, 0.5]);
const SMALL_QUERY = Float32Array.from([1, 1, 0]);
const SMALL_EXPECTED: Record<VectorMetric, { keys: number[]; scores: number[] }> = {
  ip: { keys: [11, 7, 5, 9, 2], scores: [7, 2.1, 1, 0, -1] },
  cosine: {
    keys: [11, 7, 5, 9, 2],
    scores: [
      7 / (Math.SQRT2 * 5),
      2.1 / (Math.SQRT2 * Math.sqrt(4.01)),
      Math.SQRT1_2,
      0,
      -Math.SQRT1_2,
    ],
  },
  l2: { keys: [5, 7, 9, 2, 11], scores: [1, 1.81, 2.25, 5, 13] },
};

/** The clustered fixture of the recall check: 5,000 × 32-d, 50 clusters, 200 held-out queries. */
const CLUSTER_N = 5000;
const CLUSTER_DIM = 32;
const CLUSTER_QUERIES = 200;

let clusterData: { keys: Uint32Array; vectors: Float32Array; queries: Float32Array } | null = null;
function clustered(): { keys: Uint32Array; vectors: Float32Array; queries: Float32Array } {
  if (clusterData === null) {
    const all = clusteredFixture(CLUSTER_N + CLUSTER_QUERIES, CLUSTER_DIM, 50, 18);
    // Keys are sparse (3 · row + 1) so an index cannot confuse rows with keys.
    const keys = Uint32Array.from({ length: CLUSTER_N }, (_, i) => 3 * i + 1);
    clusterData = {
      keys,
      vectors: all.subarray(0, CLUSTER_N * CLUSTER_DIM),
      queries: all.subarray(CLUSTER_N * CLUSTER_DIM),
    };
  }
  return clusterData;
}

/**
 * The conformance suite every {@link VectorIndex} runs: exact answers on a hand-checkable fixture
 * per metric; recall@10 on a seeded clustered fixture (exact indexes: every key, scores to float32
 * precision; approximate ones: ≥ 0.95); add replacing a key's vector; remove really removing;
 * filters honoured with -1 / NaN padding when fewer than k keys are eligible; serialize →
 * deserialize answering identically; and InvalidArgumentError naming the field for bad input.
 *
 * @example
 * describeVectorIndex('exact', {
 *   open: async (dim, metric) => new ExactVectorIndex({ dim, metric }),
 *   exact: true,
 *   deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
 * });
 */
export function describeVectorIndex(name: string, factory: VectorIndexFactory): void {
  describe(`VectorIndex contract: ${name}`, () => {
    const opened: VectorIndex[] = [];
    const open = async (dim: number, metric: VectorMetric): Promise<VectorIndex> => {
      const index = await factory.open(dim, metric);
      opened.push(index);
      return index;
    };
    const reopen = async (index: VectorIndex): Promise<VectorIndex> => {
      const copy = await factory.deserialize(index.serialize());
      opened.push(copy);
      return copy;
    };
    afterEach(() => {
      for (const index of opened.splice(0)) index.close();
    });

    const small = async (metric: VectorMetric): Promise<VectorIndex> => {
      const index = await open(3, metric);
      await index.add(SMALL_KEYS, SMALL);
      return index;
    };

    it('reports its dim, metric and size; an empty index answers nothing', async () => {
      const index = await open(3, 'l2');
      expect(index.dim).toBe(3);
      expect(index.metric).toBe('l2');
      expect(typeof index.kind).toBe('string');
      expect(index.size).toBe(0);
      const result = await index.search(Float32Array.from([1, 2, 3, 0, 0, 1]), { k: 4 });
      expectShape(result, 2, 4);
      expect([...result.counts]).toEqual([0, 0]);
      await index.add(SMALL_KEYS, SMALL);
      expect(index.size).toBe(5);
      expect(index.has(11)).toBe(true);
      expect(index.has(12)).toBe(false);
      expect(index.get(12)).toBeNull();
      expect([...index.get(11)!]).toEqual([3, 4, 0]);
    });

    for (const metric of VECTOR_METRICS) {
      it(`answers the hand-checked fixture exactly (${metric})`, async () => {
        const index = await small(metric);
        const expected = SMALL_EXPECTED[metric];
        for (const k of [1, 3, 5]) {
          const result = await index.search(SMALL_QUERY, { k });
          expectShape(result, 1, k);
          expect(result.counts[0]).toBe(k);
          expect(rowKeys(result, 0)).toEqual(expected.keys.slice(0, k));
          expectScoresClose(rowScores(result, 0), expected.scores.slice(0, k));
        }
        // k above the size: every key, then padding.
        const all = await index.search(SMALL_QUERY, { k: 8 });
        expectShape(all, 1, 8);
        expect(all.counts[0]).toBe(5);
        expect(rowKeys(all, 0)).toEqual(expected.keys);
      });
    }

    it('normalises cosine vectors on add (get returns the unit vector)', async () => {
      const index = await small('cosine');
      const v = index.get(11)!;
      expect(v[0]).toBeCloseTo(0.6, 6);
      expect(v[1]).toBeCloseTo(0.8, 6);
      expect(v[2]).toBe(0);
    });

    it('answers a batch of queries row by row, as each alone', async () => {
      const index = await small('ip');
      const queries = Float32Array.from([1, 1, 0, 0, 0, 1, -1, 0, 0]);
      const batch = await index.search(queries, { k: 2 });
      expectShape(batch, 3, 2);
      for (let q = 0; q < 3; q++) {
        const alone = await index.search(queries.subarray(q * 3, q * 3 + 3), { k: 2 });
        expect(rowKeys(batch, q)).toEqual(rowKeys(alone, 0));
        expect(rowScores(batch, q)).toEqual(rowScores(alone, 0));
      }
      expect(rowKeys(batch, 1)[0]).toBe(9);
      expect(rowKeys(batch, 2)[0]).toBe(2);
    });

    for (const metric of VECTOR_METRICS) {
      it(`finds the true 10 nearest on the clustered fixture (${metric}, ${
        factory.exact ? 'exactly' : 'recall@10 ≥ 0.95'
      })`, async () => {
        const { keys, vectors, queries } = clustered();
        const index = await open(CLUSTER_DIM, metric);
        // Added in two batches, so growth past the first allocation is exercised.
        const half = CLUSTER_N / 2;
        await index.add(keys.subarray(0, half), vectors.subarray(0, half * CLUSTER_DIM));
        await index.add(keys.subarray(half), vectors.subarray(half * CLUSTER_DIM));
        expect(index.size).toBe(CLUSTER_N);
        const reference = bruteForce(keys, vectors, queries, CLUSTER_DIM, metric, 10);
        const result = await index.search(queries, { k: 10 });
        expectShape(result, CLUSTER_QUERIES, 10);
        const r = recall(result, reference);
        if (factory.exact) {
          // Float32 storage may swap two neighbours at float64's 1e-7; nothing more.
          expect(r).toBeGreaterThanOrEqual(0.999);
          for (let q = 0; q < CLUSTER_QUERIES; q++) {
            expect(result.counts[q]).toBe(10);
            expectScoresClose(rowScores(result, q), reference.scores[q]);
          }
        } else {
          expect(r).toBeGreaterThanOrEqual(0.95);
        }
      });
    }

    it('replaces the vector of a key added again, keeping the size', async () => {
      const index = await small('l2');
      await index.add([9, 42], Float32Array.from([1, 1, 0.1, 50, 50, 50]));
      expect(index.size).toBe(6);
      expect([...index.get(9)!]).toEqual([1, 1, Math.fround(0.1)]);
      const result = await index.search(SMALL_QUERY, { k: 6 });
      expect(rowKeys(result, 0)).toEqual([9, 5, 7, 2, 11, 42]);
      expectScoresClose(rowScores(result, 0).slice(0, 1), [0.01]);
      // The same key twice in one call: the last vector wins.
      await index.add([3, 3], Float32Array.from([9, 9, 9, 1, 1, 0]));
      expect(index.size).toBe(7);
      expect([...index.get(3)!]).toEqual([1, 1, 0]);
    });

    it('never answers a removed key again; removing a missing key is no error', async () => {
      const index = await small('ip');
      await index.remove([11, 1000]);
      expect(index.size).toBe(4);
      expect(index.has(11)).toBe(false);
      expect(index.get(11)).toBeNull();
      const result = await index.search(SMALL_QUERY, { k: 5 });
      expect(result.counts[0]).toBe(4);
      expect(rowKeys(result, 0)).toEqual([7, 5, 9, 2]);
      await index.remove([7, 7]);
      expect(index.size).toBe(3);
      expect(rowKeys(await index.search(SMALL_QUERY, { k: 5 }), 0)).toEqual([5, 9, 2]);
      // Added back, it is answered again, with its new vector.
      await index.add([11], Float32Array.from([0, 0.5, 1]));
      expect(rowKeys(await index.search(SMALL_QUERY, { k: 5 }), 0)).toEqual([5, 11, 9, 2]);
      await index.remove([5, 11, 9, 2]);
      expect(index.size).toBe(0);
      expect((await index.search(SMALL_QUERY, { k: 3 })).counts[0]).toBe(0);
    });

    it('never answers removed keys on the clustered fixture', async () => {
      const { keys, vectors, queries } = clustered();
      const index = await open(CLUSTER_DIM, 'cosine');
      await index.add(keys, vectors);
      const removed = keys.filter((_, i) => i % 3 !== 0);
      await index.remove(removed);
      expect(index.size).toBe(CLUSTER_N - removed.length);
      const gone = new Set(removed);
      const result = await index.search(queries, { k: 10 });
      for (let q = 0; q < CLUSTER_QUERIES; q++) {
        expect(result.counts[q]).toBe(10);
        for (const key of rowKeys(result, q)) expect(gone.has(key)).toBe(false);
      }
      const kept = keys.filter((_, i) => i % 3 === 0);
      const keptVectors = new Float32Array(kept.length * CLUSTER_DIM);
      kept.forEach((_, j) =>
        keptVectors.set(
          vectors.subarray(3 * j * CLUSTER_DIM, (3 * j + 1) * CLUSTER_DIM),
          j * CLUSTER_DIM,
        ),
      );
      const reference = bruteForce(kept, keptVectors, queries, CLUSTER_DIM, 'cosine', 10);
      expect(recall(result, reference)).toBeGreaterThanOrEqual(factory.exact ? 0.999 : 0.95);
    });

    it('answers only keys passing the filter, padding when fewer than k are eligible', async () => {
      const index = await small('l2');
      const odd = (key: number): boolean => key % 2 === 1;
      const result = await index.search(SMALL_QUERY, { k: 5, filter: odd });
      expectShape(result, 1, 5);
      expect(result.counts[0]).toBe(4);
      expect(rowKeys(result, 0)).toEqual([5, 7, 9, 11]);
      const none = await index.search(SMALL_QUERY, { k: 2, filter: () => false });
      expectShape(none, 1, 2);
      expect(none.counts[0]).toBe(0);

      const { keys, vectors, queries } = clustered();
      const big = await open(CLUSTER_DIM, 'ip');
      await big.add(keys, vectors);
      const eligible = (key: number): boolean => key % 4 === 1;
      const filtered = await big.search(queries, { k: 10, filter: eligible });
      for (let q = 0; q < CLUSTER_QUERIES; q++)
        for (const key of rowKeys(filtered, q)) expect(eligible(key)).toBe(true);
      const reference = bruteForce(keys, vectors, queries, CLUSTER_DIM, 'ip', 10, eligible);
      expect(recall(filtered, reference)).toBeGreaterThanOrEqual(factory.exact ? 0.999 : 0.9);
      // A filter passing three keys: three answers, then padding.
      const three = new Set([1, 3001, 14998]);
      const few = await big.search(queries.subarray(0, 2 * CLUSTER_DIM), {
        k: 10,
        filter: (key) => three.has(key),
      });
      expectShape(few, 2, 10);
      for (let q = 0; q < 2; q++) {
        expect(few.counts[q]).toBe(3);
        expect(new Set(rowKeys(few, q))).toEqual(three);
      }
    });

    it('takes keys up to 2^32 - 1 and answers them as numbers', async () => {
      const index = await open(3, 'ip');
      const top = 2 ** 32 - 1;
      await index.add([top, 2 ** 31, 0], Float32Array.from([3, 0, 0, 2, 0, 0, 1, 0, 0]));
      expect(index.has(top)).toBe(true);
      const result = await index.search(Float32Array.from([1, 0, 0]), { k: 3 });
      expect(rowKeys(result, 0)).toEqual([top, 2 ** 31, 0]);
    });

    for (const metric of VECTOR_METRICS) {
      it(`serializes and deserializes to an index answering identically (${metric})`, async () => {
        const { keys, vectors, queries } = clustered();
        const index = await open(CLUSTER_DIM, metric);
        await index.add(keys.subarray(0, 2000), vectors.subarray(0, 2000 * CLUSTER_DIM));
        await index.remove(keys.subarray(0, 100));
        const copy = await reopen(index);
        expect(copy.kind).toBe(index.kind);
        expect(copy.dim).toBe(CLUSTER_DIM);
        expect(copy.metric).toBe(metric);
        expect(copy.size).toBe(1900);
        expect(copy.has(keys[0])).toBe(false);
        expect([...copy.get(keys[500])!]).toEqual([...index.get(keys[500])!]);
        const a = await index.search(queries, { k: 10 });
        const b = await copy.search(queries, { k: 10 });
        expect([...b.keys]).toEqual([...a.keys]);
        expect([...b.scores]).toEqual([...a.scores]);
        expect([...b.counts]).toEqual([...a.counts]);
        // The copy stays writable.
        await copy.add([7], queries.subarray(0, CLUSTER_DIM));
        const found = await copy.search(queries.subarray(0, CLUSTER_DIM), { k: 1 });
        if (metric !== 'ip') expect(rowKeys(found, 0)).toEqual([7]);
        expect(copy.size).toBe(1901);
        // An empty index round-trips too.
        const empty = await reopen(await open(5, metric));
        expect(empty.size).toBe(0);
        expect(empty.dim).toBe(5);
      });
    }

    it('refuses bad input with InvalidArgumentError naming the field, changing nothing', async () => {
      const index = await small('l2');
      // Vectors: length not keys × dim, NaN, infinity.
      await expectInvalid(() => index.add([1, 2], Float32Array.from([1, 2, 3, 4, 5])), 'vectors');
      await expectInvalid(() => index.add([1], Float32Array.from([1, 2, 3, 4])), 'vectors');
      await expectInvalid(
        () => index.add([1, 3], Float32Array.from([1, 2, 3, 4, NaN, 6])),
        'vectors',
      );
      await expectInvalid(() => index.add([1], Float32Array.from([1, Infinity, 3])), 'vectors');
      // Keys: negative, not an integer, 2^32 or above, NaN.
      for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
        await expectInvalid(() => index.add([1, bad], new Float32Array(6)), 'keys');
        await expectInvalid(() => index.remove([bad]), 'keys');
      }
      expect(index.size).toBe(5);
      expect(index.has(1)).toBe(false);
      expect(index.has(3)).toBe(false);
      // Queries: length not a multiple of dim, NaN, infinity.
      await expectInvalid(() => index.search(Float32Array.from([1, 1]), { k: 1 }), 'queries');
      await expectInvalid(() => index.search(Float32Array.from([1, 1, 0, 1]), { k: 1 }), 'queries');
      await expectInvalid(() => index.search(Float32Array.from([1, NaN, 0]), { k: 1 }), 'queries');
      await expectInvalid(
        () => index.search(Float32Array.from([1, -Infinity, 0]), { k: 1 }),
        'queries',
      );
      // k: below 1, not an integer, not a number.
      for (const k of [0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
        await expectInvalid(() => index.search(SMALL_QUERY, { k }), 'k');
      // The index still answers as before.
      expect(rowKeys(await index.search(SMALL_QUERY, { k: 5 }), 0)).toEqual(SMALL_EXPECTED.l2.keys);
    });

    it('refuses bytes that are not a serialized index', async () => {
      let error: unknown = null;
      try {
        await factory.deserialize(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
    });
  });
}
