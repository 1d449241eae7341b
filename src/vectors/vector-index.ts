/**
 * The VectorIndex seam: nearest-neighbour search over dense float32 vectors, behind which sit an
 * exact index (SIMD dot products over one `Float32Array`) and an approximate one (HNSW, usearch).
 * Keys are dense non-negative integers (below 2^32); external string ids are mapped to them at the
 * boundary (`data/` id maps), as everywhere else in kiban.
 */

/**
 * How closeness is measured:
 * - `cosine`: cosine similarity (vectors are normalised on add and queries on search), higher is closer;
 * - `ip`: inner product, higher is closer;
 * - `l2`: squared Euclidean distance, lower is closer.
 */
export type VectorMetric = 'cosine' | 'ip' | 'l2';

/** The metrics every implementation supports. */
export const VECTOR_METRICS: readonly VectorMetric[] = Object.freeze(['cosine', 'ip', 'l2']);

/** What a search is asked. */
export interface VectorSearchOptions {
  /** Neighbours per query, at least 1. */
  k: number;
  /** HNSW's search breadth (ignored by exact indexes). @defaultValue the index's own */
  ef?: number;
  /** Only keys for which this returns true are answered (category, exclusion lists, …). */
  filter?: (key: number) => boolean;
}

/**
 * The answer to `m` queries, row-major `m × k`: query `q`'s neighbours are at `q * k … q * k + k`,
 * closest first. A query with fewer than `k` eligible neighbours has `counts[q] < k`; the rest
 * of its row holds key `-1` and score `NaN`.
 */
export interface VectorSearchResult {
  k: number;
  keys: Int32Array | Float64Array;
  /** Similarity (`cosine`, `ip`) or squared distance (`l2`), per the index's metric. */
  scores: Float32Array;
  counts: Uint32Array;
}

/**
 * A nearest-neighbour index. Contract (checked by `test/contracts/vector-index-contract.ts` for
 * every implementation):
 * - `add` of a key already present replaces its vector; vectors are `n × dim` row-major with no
 *   NaN or infinity (else `InvalidArgumentError` naming `vectors`, before any change);
 * - `remove` of a missing key is not an error; a removed key is never answered again;
 * - `search` returns, per query, the `k` closest keys passing `filter` (exact indexes exactly;
 *   approximate ones with recall@10 ≥ 0.95 on the contract's clustered fixture), closest first;
 * - `serialize` → the implementation's `deserialize` gives an index answering identically.
 */
export interface VectorIndex {
  readonly kind: string;
  readonly dim: number;
  readonly metric: VectorMetric;
  /** Keys present. */
  readonly size: number;
  /** May use several threads (HNSW construction); resolves once the keys are searchable. */
  add(keys: ArrayLike<number>, vectors: Float32Array): Promise<void>;
  remove(keys: ArrayLike<number>): Promise<void>;
  /** Whether `key` is present. */
  has(key: number): boolean;
  /** A copy of `key`'s stored vector (normalised for `cosine`), or null. */
  get(key: number): Float32Array | null;
  /** Batches may be spread over threads; a single query should answer well under a millisecond. */
  search(queries: Float32Array, options: VectorSearchOptions): Promise<VectorSearchResult>;
  /** The whole index as bytes (for the ArtifactStore). */
  serialize(): Uint8Array;
  /** Releases native memory; the index is not used afterwards. */
  close(): void;
}
