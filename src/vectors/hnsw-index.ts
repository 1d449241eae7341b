import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Index as UsearchIndex } from 'usearch';
import { InvalidArgumentError } from '../core/errors.js';
import { defaultThreadCount } from '../core/threads.js';
import type {
  VectorIndex,
  VectorMetric,
  VectorSearchOptions,
  VectorSearchResult,
} from './vector-index.js';

/** How an {@link HnswVectorIndex} builds and searches its graph. */
export interface HnswOptions {
  /** Links per node (HNSW's M). @defaultValue 16 */
  connectivity?: number;
  /** Candidate list size while inserting (efConstruction). @defaultValue 200 */
  expansionAdd?: number;
  /** Candidate list size while searching (ef), when a search names none. @defaultValue 64 */
  expansionSearch?: number;
  /** Threads for batches of adds and queries. @defaultValue one per core */
  threads?: number;
}

type Usearch = typeof import('usearch');

const MAGIC = 'KBHNSW01';
const HEADER_BYTES = 48;
const METRIC_CODES: Record<VectorMetric, number> = { cosine: 0, ip: 1, l2: 2 };
const METRICS_BY_CODE: VectorMetric[] = ['cosine', 'ip', 'l2'];
/** Keys below this sit in a dense `Int32Array` key → slot table; larger ones in a Map. */
const DENSE_KEY_LIMIT = 1 << 24;
/** Below this many queries a batch is searched on one thread (thread start-up would dominate). */
const PARALLEL_QUERIES = 16;

let usearchModule: Usearch | null = null;

/**
 * usearch, loaded on first use. Through `require` on purpose: its ESM entry looks for its binary
 * from the caller's package root and stops at kiban's own `build/`; the CommonJS entry finds its
 * `prebuilds/` from its own directory.
 */
function loadUsearch(): Usearch {
  usearchModule ??= createRequire(import.meta.url)('usearch') as Usearch;
  return usearchModule;
}

function positiveInt(field: string, value: number, max = 2 ** 31 - 1): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new InvalidArgumentError(field, `must be an integer from 1 to ${max}, got ${value}`);
  return value;
}

function checkKeys(keys: ArrayLike<number>): void {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (!Number.isInteger(key) || key < 0 || key > 0xffffffff)
      throw new InvalidArgumentError(
        'keys',
        `keys[${i}] is ${key}: keys are integers from 0 to 2^32 - 1`,
      );
  }
}

/** Throws naming `field` unless every value is finite (`x - x` is NaN for NaN and ±infinity). */
function checkFinite(field: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0)
      throw new InvalidArgumentError(field, `${field}[${i}] is ${x}: values must be finite`);
  }
}

/** Scales each `dim`-row of `rows` to unit length in place (zero rows stay zero). */
function normaliseRows(rows: Float32Array, dim: number): void {
  for (let off = 0; off < rows.length; off += dim) {
    let s = 0;
    for (let a = 0; a < dim; a++) s += rows[off + a] * rows[off + a];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let a = 0; a < dim; a++) rows[off + a] *= inv;
  }
}

/**
 * Approximate nearest-neighbour search by HNSW graphs, on usearch (native, SIMD, its own
 * threads). `cosine` stores unit vectors and searches them by inner product; scores follow the
 * seam: similarity for `cosine` and `ip` (usearch's `1 − dot` distance turned back), squared
 * distance for `l2`.
 *
 * - `ef` per search: the graph is built with a search breadth of 1 and every search asks usearch
 *   for `max(k, ef)` neighbours, of which the first `k` are kept; this is HNSW's `ef` exactly.
 * - `filter`: usearch 2.25's Node binding has no filtered search, so the index over-fetches
 *   (`max(k, ef)`, then ×4 per round for the queries still short of `k`) and, when that would
 *   reach half the index, scans the stored vectors of the keys passing the filter exactly. A
 *   filter too selective for any search breadth to fill `k` therefore costs an exact scan; one
 *   that the widened search fills is answered at that search's recall.
 * - `get` and `serialize` use a copy of the vectors kept beside the graph (the binding cannot read
 *   vectors back), so memory is about twice the raw vectors plus the graph.
 * - Searches and adds run in the calling thread's native code (on usearch's own threads for
 *   batches): a batch blocks the event loop until it is done.
 *
 * @example
 * const index = await HnswVectorIndex.create(64, 'cosine', { connectivity: 16 });
 * await index.add([0, 1, 2], vectors); // 3 × 64 floats
 * const { keys, scores } = await index.search(query, { k: 10, ef: 128 });
 * const copy = await HnswVectorIndex.deserialize(index.serialize());
 */
export class HnswVectorIndex implements VectorIndex {
  readonly kind = 'hnsw';
  readonly dim: number;
  readonly metric: VectorMetric;
  readonly connectivity: number;
  readonly expansionAdd: number;
  readonly expansionSearch: number;
  readonly threads: number;

  private native: UsearchIndex | null;
  /** Stored vectors, one `dim`-row per slot (normalised for cosine). */
  private store: Float32Array;
  /** The key in each slot, -1 for a free slot. */
  private slotKeys: Float64Array;
  /** Slots in use or freed: the high-water mark of `store`. */
  private slotsUsed = 0;
  private readonly freeSlots: number[] = [];
  /** Key → slot + 1 (0: absent) for keys below {@link DENSE_KEY_LIMIT}. */
  private denseSlots = new Int32Array(0);
  private readonly sparseSlots = new Map<number, number>();
  private count = 0;
  /** Whether a key at or above 2^31 was ever added (results then need Float64Array keys). */
  private wideKeys = false;

  private constructor(
    usearch: Usearch,
    dim: number,
    metric: VectorMetric,
    connectivity: number,
    expansionAdd: number,
    expansionSearch: number,
    threads: number,
  ) {
    this.dim = dim;
    this.metric = metric;
    this.connectivity = connectivity;
    this.expansionAdd = expansionAdd;
    this.expansionSearch = expansionSearch;
    this.threads = threads;
    this.native = new usearch.Index({
      dimensions: dim,
      metric: metric === 'l2' ? usearch.MetricKind.L2sq : usearch.MetricKind.IP,
      quantization: usearch.ScalarKind.F32,
      connectivity,
      expansion_add: expansionAdd,
      // The breadth is set per search through the number of neighbours asked (see the class).
      expansion_search: 1,
      multi: false,
    });
    this.store = new Float32Array(0);
    this.slotKeys = new Float64Array(0);
  }

  /**
   * An empty index of `dim`-dimensional vectors under `metric`. Loads usearch's native module on
   * first use, so processes that never build an HNSW index never load it.
   */
  static async create(
    dim: number,
    metric: VectorMetric,
    options: HnswOptions = {},
  ): Promise<HnswVectorIndex> {
    positiveInt('dim', dim, 1 << 16);
    if (!(metric in METRIC_CODES))
      throw new InvalidArgumentError('metric', `must be cosine, ip or l2, got ${String(metric)}`);
    const connectivity = positiveInt('connectivity', options.connectivity ?? 16, 1024);
    if (connectivity < 2)
      throw new InvalidArgumentError('connectivity', `must be at least 2, got ${connectivity}`);
    const expansionAdd = positiveInt('expansionAdd', options.expansionAdd ?? 200, 1 << 20);
    const expansionSearch = positiveInt('expansionSearch', options.expansionSearch ?? 64, 1 << 20);
    const threads = positiveInt('threads', options.threads ?? defaultThreadCount(), 1024);
    return new HnswVectorIndex(
      loadUsearch(),
      dim,
      metric,
      connectivity,
      expansionAdd,
      expansionSearch,
      threads,
    );
  }

  /**
   * The index `serialize` wrote, with its graph as saved (no rebuild). `threads` may be set
   * anew; the rest comes from the bytes.
   */
  static async deserialize(
    bytes: Uint8Array,
    options: Pick<HnswOptions, 'threads'> = {},
  ): Promise<HnswVectorIndex> {
    const notIndex = (why: string): InvalidArgumentError =>
      new InvalidArgumentError('bytes', `not a serialized HNSW index: ${why}`);
    if (bytes.byteLength < HEADER_BYTES) throw notIndex(`${bytes.byteLength} bytes`);
    if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw notIndex('bad magic');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dim = view.getUint32(8, true);
    const metric = METRICS_BY_CODE[view.getUint32(12, true)];
    const connectivity = view.getUint32(16, true);
    const expansionAdd = view.getUint32(20, true);
    const expansionSearch = view.getUint32(24, true);
    const count = view.getUint32(28, true);
    const graphBytes = view.getFloat64(32, true);
    const keysEnd = HEADER_BYTES + count * 8;
    const vectorsEnd = keysEnd + count * dim * 4;
    if (metric === undefined || dim === 0 || vectorsEnd + graphBytes !== bytes.byteLength)
      throw notIndex('inconsistent header');
    const index = await HnswVectorIndex.create(dim, metric, {
      connectivity,
      expansionAdd,
      expansionSearch,
      threads: options.threads,
    });
    // Copies: the input need not be aligned for typed-array views.
    const keys = new Float64Array(bytes.slice(HEADER_BYTES, keysEnd).buffer);
    const vectors = new Float32Array(bytes.slice(keysEnd, vectorsEnd).buffer);
    index.ensureCapacity(count);
    for (let i = 0; i < count; i++) index.placeNew(keys[i], vectors, i);
    if (count > 0) {
      const dir = mkdtempSync(join(tmpdir(), 'kiban-hnsw-'));
      try {
        const file = join(dir, 'index.usearch');
        writeFileSync(file, bytes.subarray(vectorsEnd));
        index.live().load(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      if (index.live().size() !== count) throw notIndex('graph and keys disagree');
    }
    return index;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.slotOf(key) >= 0;
  }

  get(key: number): Float32Array | null {
    const slot = this.slotOf(key);
    if (slot < 0) return null;
    return this.store.slice(slot * this.dim, (slot + 1) * this.dim);
  }

  async add(keys: ArrayLike<number>, vectors: Float32Array): Promise<void> {
    const native = this.live();
    const { dim } = this;
    const n = keys.length;
    if (vectors.length !== n * dim)
      throw new InvalidArgumentError(
        'vectors',
        `has ${vectors.length} values, expected ${n} keys × ${dim} dimensions`,
      );
    checkKeys(keys);
    checkFinite('vectors', vectors);
    if (n === 0) return;

    // The same key twice in one call: the last row wins.
    let rows: number[] | null = null;
    if (n > 1) {
      const sorted = Float64Array.from(keys).sort();
      let duplicated = false;
      for (let i = 1; i < n && !duplicated; i++) duplicated = sorted[i] === sorted[i - 1];
      if (duplicated) {
        const seen = new Set<number>();
        rows = [];
        for (let i = n - 1; i >= 0; i--) {
          if (seen.has(keys[i])) continue;
          seen.add(keys[i]);
          rows.push(i);
        }
        rows.reverse();
      }
    }
    const m = rows === null ? n : rows.length;
    const rowOf = (j: number): number => (rows === null ? j : rows[j]);

    const batch = new Float32Array(m * dim);
    const batchKeys = new BigUint64Array(m);
    const replaced: bigint[] = [];
    for (let j = 0; j < m; j++) {
      const i = rowOf(j);
      batch.set(vectors.subarray(i * dim, (i + 1) * dim), j * dim);
      batchKeys[j] = BigInt(keys[i]);
      if (this.has(keys[i])) replaced.push(batchKeys[j]);
    }
    if (this.metric === 'cosine') normaliseRows(batch, dim);
    if (replaced.length > 0) {
      native.remove(BigUint64Array.from(replaced));
      for (let j = 0; j < m; j++) this.release(keys[rowOf(j)]);
    }
    this.ensureCapacity(this.count + m);
    for (let j = 0; j < m; j++) this.placeNew(keys[rowOf(j)], batch, j);
    native.add(batchKeys, batch, m < PARALLEL_QUERIES ? 1 : this.threads);
  }

  async remove(keys: ArrayLike<number>): Promise<void> {
    const native = this.live();
    checkKeys(keys);
    const present: bigint[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (!this.has(keys[i])) continue;
      present.push(BigInt(keys[i]));
      this.release(keys[i]);
    }
    if (present.length > 0) native.remove(BigUint64Array.from(present));
  }

  async search(queries: Float32Array, options: VectorSearchOptions): Promise<VectorSearchResult> {
    const native = this.live();
    const { dim } = this;
    if (queries.length % dim !== 0)
      throw new InvalidArgumentError(
        'queries',
        `has ${queries.length} values, not a multiple of ${dim} dimensions`,
      );
    checkFinite('queries', queries);
    const k = positiveInt('k', options.k);
    const ef = options.ef === undefined ? this.expansionSearch : positiveInt('ef', options.ef);
    const { filter } = options;
    if (filter !== undefined && typeof filter !== 'function')
      throw new InvalidArgumentError('filter', 'must be a function of the key');

    const m = queries.length / dim;
    const result: VectorSearchResult = {
      k,
      keys: this.wideKeys ? new Float64Array(m * k).fill(-1) : new Int32Array(m * k).fill(-1),
      scores: new Float32Array(m * k).fill(Number.NaN),
      counts: new Uint32Array(m),
    };
    if (m === 0 || this.count === 0) return result;
    let q32 = queries;
    if (this.metric === 'cosine') {
      q32 = queries.slice();
      normaliseRows(q32, dim);
    }

    let pending: number[] | null = null; // queries still short of k (null: all, first round)
    let wanted = Math.min(Math.max(k, ef), this.count);
    for (;;) {
      const batch = pending === null ? q32 : this.gather(q32, pending);
      const rows = pending === null ? m : pending.length;
      const found = native.search(batch, wanted, rows < PARALLEL_QUERIES ? 1 : this.threads);
      // One query comes back as Matches (trimmed to its count), several as BatchMatches.
      const counts = (found as { counts?: BigUint64Array }).counts;
      const short: number[] = [];
      for (let r = 0; r < rows; r++) {
        const q = pending === null ? r : pending[r];
        const got = counts === undefined ? found.keys.length : Number(counts[r]);
        const filled = this.take(result, q, found.keys, found.distances, r * wanted, got, filter);
        if (filled < k && got === wanted && wanted < this.count) short.push(q);
      }
      if (short.length === 0) return result;
      wanted = Math.min(wanted * 4, this.count);
      if (wanted * 2 > this.count) {
        for (const q of short) this.scan(result, q, q32, filter);
        return result;
      }
      pending = short;
    }
  }

  serialize(): Uint8Array {
    const native = this.live();
    const { dim, count } = this;
    let graph: Uint8Array = new Uint8Array(0);
    if (count > 0) {
      const dir = mkdtempSync(join(tmpdir(), 'kiban-hnsw-'));
      try {
        const file = join(dir, 'index.usearch');
        native.save(file);
        graph = readFileSync(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const keysEnd = HEADER_BYTES + count * 8;
    const vectorsEnd = keysEnd + count * dim * 4;
    const out = new Uint8Array(vectorsEnd + graph.byteLength);
    out.set(new TextEncoder().encode(MAGIC), 0);
    const view = new DataView(out.buffer);
    view.setUint32(8, dim, true);
    view.setUint32(12, METRIC_CODES[this.metric], true);
    view.setUint32(16, this.connectivity, true);
    view.setUint32(20, this.expansionAdd, true);
    view.setUint32(24, this.expansionSearch, true);
    view.setUint32(28, count, true);
    view.setFloat64(32, graph.byteLength, true);
    const keys = new Float64Array(out.buffer, HEADER_BYTES, count);
    const vectors = new Float32Array(out.buffer, keysEnd, count * dim);
    let j = 0;
    for (let slot = 0; slot < this.slotsUsed; slot++) {
      if (this.slotKeys[slot] < 0) continue;
      keys[j] = this.slotKeys[slot];
      vectors.set(this.store.subarray(slot * dim, (slot + 1) * dim), j * dim);
      j++;
    }
    out.set(graph, vectorsEnd);
    return out;
  }

  /** Drops the graph and the stored vectors (usearch frees its memory when collected). */
  close(): void {
    this.native = null;
    this.store = new Float32Array(0);
    this.slotKeys = new Float64Array(0);
    this.denseSlots = new Int32Array(0);
    this.sparseSlots.clear();
    this.freeSlots.length = 0;
    this.slotsUsed = 0;
    this.count = 0;
  }

  private live(): UsearchIndex {
    if (this.native === null) throw new Error('HnswVectorIndex: used after close()');
    return this.native;
  }

  private slotOf(key: number): number {
    if (key < this.denseSlots.length) return this.denseSlots[key] - 1;
    return this.sparseSlots.get(key) ?? -1;
  }

  private setSlot(key: number, slot: number): void {
    if (key < DENSE_KEY_LIMIT) {
      if (key >= this.denseSlots.length) {
        let size = Math.max(1024, this.denseSlots.length * 2);
        while (size <= key) size *= 2;
        const grown = new Int32Array(Math.min(size, DENSE_KEY_LIMIT));
        grown.set(this.denseSlots);
        this.denseSlots = grown;
      }
      this.denseSlots[key] = slot + 1;
    } else if (slot < 0) this.sparseSlots.delete(key);
    else this.sparseSlots.set(key, slot);
  }

  /** Frees `key`'s slot if it has one. */
  private release(key: number): void {
    const slot = this.slotOf(key);
    if (slot < 0) return;
    this.slotKeys[slot] = -1;
    this.freeSlots.push(slot);
    this.setSlot(key, -1);
    this.count--;
  }

  private ensureCapacity(slots: number): void {
    const needed = Math.max(slots, this.slotsUsed);
    if (needed <= this.slotKeys.length) return;
    const capacity = Math.max(needed, this.slotKeys.length * 2, 64);
    const store = new Float32Array(capacity * this.dim);
    store.set(this.store.subarray(0, this.slotsUsed * this.dim));
    const slotKeys = new Float64Array(capacity).fill(-1);
    slotKeys.set(this.slotKeys.subarray(0, this.slotsUsed));
    this.store = store;
    this.slotKeys = slotKeys;
  }

  /** Stores row `row` of `rows` for a key that has no slot (capacity already ensured). */
  private placeNew(key: number, rows: Float32Array, row: number): void {
    const slot = this.freeSlots.pop() ?? this.slotsUsed++;
    this.store.set(rows.subarray(row * this.dim, (row + 1) * this.dim), slot * this.dim);
    this.slotKeys[slot] = key;
    this.setSlot(key, slot);
    if (key >= 2 ** 31) this.wideKeys = true;
    this.count++;
  }

  private gather(queries: Float32Array, which: number[]): Float32Array {
    const { dim } = this;
    const out = new Float32Array(which.length * dim);
    which.forEach((q, r) => out.set(queries.subarray(q * dim, (q + 1) * dim), r * dim));
    return out;
  }

  /**
   * Writes query `q`'s answer from usearch's `got` neighbours at `from`, skipping keys the filter
   * refuses; returns how many were written.
   */
  private take(
    result: VectorSearchResult,
    q: number,
    keys: BigUint64Array,
    distances: Float32Array,
    from: number,
    got: number,
    filter: ((key: number) => boolean) | undefined,
  ): number {
    const { k } = result;
    const similarity = this.metric !== 'l2';
    let filled = 0;
    for (let i = 0; i < got && filled < k; i++) {
      const key = Number(keys[from + i]);
      if (filter !== undefined && !filter(key)) continue;
      result.keys[q * k + filled] = key;
      result.scores[q * k + filled] = similarity ? 1 - distances[from + i] : distances[from + i];
      filled++;
    }
    result.counts[q] = filled;
    result.keys.fill(-1, q * k + filled, (q + 1) * k);
    result.scores.fill(Number.NaN, q * k + filled, (q + 1) * k);
    return filled;
  }

  /** Answers query `q` exactly from the stored vectors of the keys passing `filter`. */
  private scan(
    result: VectorSearchResult,
    q: number,
    queries: Float32Array,
    filter: ((key: number) => boolean) | undefined,
  ): void {
    const { dim, store, slotKeys } = this;
    const { k } = result;
    const l2 = this.metric === 'l2';
    const bestKeys = new Float64Array(k);
    const bestScores = new Float64Array(k);
    let filled = 0;
    const qo = q * dim;
    const better = (x: number, y: number): boolean => (l2 ? x < y : x > y);
    for (let slot = 0; slot < this.slotsUsed; slot++) {
      const key = slotKeys[slot];
      if (key < 0 || (filter !== undefined && !filter(key))) continue;
      const so = slot * dim;
      let s = 0;
      if (l2)
        for (let a = 0; a < dim; a++) {
          const d = store[so + a] - queries[qo + a];
          s += d * d;
        }
      else for (let a = 0; a < dim; a++) s += store[so + a] * queries[qo + a];
      if (filled === k && !better(s, bestScores[k - 1])) continue;
      let i = filled < k ? filled++ : k - 1;
      while (i > 0 && better(s, bestScores[i - 1])) {
        bestScores[i] = bestScores[i - 1];
        bestKeys[i] = bestKeys[i - 1];
        i--;
      }
      bestScores[i] = s;
      bestKeys[i] = key;
    }
    for (let i = 0; i < filled; i++) {
      result.keys[q * k + i] = bestKeys[i];
      result.scores[q * k + i] = bestScores[i];
    }
    result.counts[q] = filled;
    result.keys.fill(-1, q * k + filled, (q + 1) * k);
    result.scores.fill(Number.NaN, q * k + filled, (q + 1) * k);
  }
}
