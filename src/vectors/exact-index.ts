import { InvalidArgumentError } from '../core/errors.js';
import { loadWasmModule, WASM_RESERVED_BYTES } from '../core/wasm.js';
import type {
  VectorIndex,
  VectorMetric,
  VectorSearchOptions,
  VectorSearchResult,
} from './vector-index.js';
import { VECTOR_METRICS } from './vector-index.js';

interface DenseKernelExports {
  dotRows(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
}

interface VectorKernelExports {
  dotRows4(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
}

/** Per-search buffers of the selection: the heap (scores, rows) and the float64 rescores. */
interface Scratch {
  heapScore: Float32Array;
  heapRow: Int32Array;
  exact: Float64Array;
}

/** Queries scored per pass over the rows by the batch kernel. */
const BLOCK = 4;

/** What an exact index is made with. */
export interface ExactVectorIndexOptions {
  /** Dimensions of every vector, 1 to 65,536. */
  dim: number;
  metric: VectorMetric;
  /** Rows to allocate up front (it grows by doubling). @defaultValue 1024 */
  capacity?: number;
  /**
   * Whether to score with the WebAssembly SIMD kernels when they are built; false scores in plain
   * JavaScript, as happens when they are not (for comparison and tests). @defaultValue true
   */
  simd?: boolean;
}

/** Header of a serialized index: magic, version, dim, metric, count (little-endian u32s). */
const MAGIC = 0x5845564b; // "KVEX" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 20;
/** Candidates kept beyond k before the exact float64 rescoring, so float32 rounding never drops a neighbour. */
const RESCORE_EXTRA = 8;
const MAX_KEY = 0xffffffff;
const PAGE = 65536;
const MAX_PAGES = 65536;

/**
 * An exact nearest-neighbour index: every search scores every vector. The vectors live row-major
 * in one WebAssembly memory (rows padded to a multiple of 4 floats) and are scored by the SIMD
 * dense kernel (`models/wasm/dense-kernel`), or by plain JavaScript when it is not built. A
 * bounded heap over typed arrays keeps the best `k + 8` rows per query, which are then rescored
 * in float64 (so L2 distances are exact rather than `|x|² − 2x·q + |q|²` in float32), closest
 * first, ties by key. Removal moves the last row into the hole, so rows stay dense.
 *
 * @example
 * const index = new ExactVectorIndex({ dim: 64, metric: 'cosine' });
 * await index.add(Uint32Array.of(0, 1, 2), vectors); // 3 × 64 floats, row-major
 * const { keys, scores, counts } = await index.search(query, { k: 10 });
 */
export class ExactVectorIndex implements VectorIndex {
  readonly kind = 'exact';
  readonly dim: number;
  readonly metric: VectorMetric;
  /** Floats per stored row: `dim` rounded up to a multiple of 4 (zero padded). */
  private readonly stride: number;
  private readonly memory: WebAssembly.Memory;
  private readonly kernel: DenseKernelExports | null;
  private readonly kernel4: VectorKernelExports | null;
  private readonly qPtr: number;
  private readonly mPtr: number;
  private outPtr = 0;
  /** For l2, −|row|²/2 per row, the kernel's bias: q·x − |x|²/2 orders rows as −|x − q|² does. */
  private biasPtr = 0;
  private capacity = 0;
  private count = 0;
  /** Views into the memory, remade whenever it grows. */
  private rows!: Float32Array;
  private out!: Float32Array;
  private query!: Float32Array;
  private bias!: Float32Array;
  /** Key of each row. */
  private rowKey = new Uint32Array(0);
  private readonly rowOf = new Map<number, number>();
  /** An upper bound of the keys ever added: results use Int32Array keys while it is below 2^31. */
  private maxKey = 0;

  constructor(options: ExactVectorIndexOptions) {
    const { dim, metric, capacity = 1024, simd = true } = options;
    if (!Number.isInteger(dim) || dim < 1 || dim > 65536)
      throw new InvalidArgumentError('dim', `must be an integer from 1 to 65536, got ${dim}`);
    if (!VECTOR_METRICS.includes(metric))
      throw new InvalidArgumentError(
        'metric',
        `must be one of ${VECTOR_METRICS.join(', ')}, got ${String(metric)}`,
      );
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new InvalidArgumentError('capacity', `must be a positive integer, got ${capacity}`);
    this.dim = dim;
    this.metric = metric;
    this.stride = Math.ceil(dim / 4) * 4;
    this.qPtr = WASM_RESERVED_BYTES;
    this.mPtr = this.qPtr + BLOCK * this.stride * 4;
    this.memory = new WebAssembly.Memory({ initial: 1 });
    const module = simd ? loadWasmModule('dense-kernel') : null;
    this.kernel =
      module === null
        ? null
        : (new WebAssembly.Instance(module, { env: { memory: this.memory } })
            .exports as unknown as DenseKernelExports);
    const batch = this.kernel === null ? null : loadWasmModule('vector-kernel');
    this.kernel4 =
      batch === null
        ? null
        : (new WebAssembly.Instance(batch, { env: { memory: this.memory } })
            .exports as unknown as VectorKernelExports);
    this.reserve(capacity);
  }

  /**
   * The index serialized by {@link ExactVectorIndex.serialize}, rows in the same order (so it
   * answers identically). Throws InvalidArgumentError naming `bytes` when they are not one.
   */
  static deserialize(bytes: Uint8Array): ExactVectorIndex {
    if (bytes.byteLength < HEADER_BYTES)
      throw new InvalidArgumentError(
        'bytes',
        `too short for an exact index (${bytes.byteLength} bytes)`,
      );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== MAGIC)
      throw new InvalidArgumentError('bytes', 'not an exact vector index');
    const version = view.getUint32(4, true);
    if (version !== VERSION)
      throw new InvalidArgumentError(
        'bytes',
        `exact index version ${version} is not supported (${VERSION} is)`,
      );
    const dim = view.getUint32(8, true);
    const metric = VECTOR_METRICS[view.getUint32(12, true)];
    const count = view.getUint32(16, true);
    if (metric === undefined) throw new InvalidArgumentError('bytes', 'unknown metric code');
    const expected = HEADER_BYTES + count * 4 + count * dim * 4;
    if (bytes.byteLength !== expected)
      throw new InvalidArgumentError(
        'bytes',
        `expected ${expected} bytes for ${count} × ${dim}, got ${bytes.byteLength}`,
      );
    const index = new ExactVectorIndex({ dim, metric, capacity: Math.max(1, count) });
    // Copy out to aligned buffers (the input may sit at any byte offset).
    const body = bytes.slice(HEADER_BYTES);
    const keys = new Uint32Array(body.buffer, 0, count);
    const vectors = new Float32Array(body.buffer, count * 4, count * dim);
    index.insert(keys, vectors, false);
    return index;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.rowOf.has(key);
  }

  get(key: number): Float32Array | null {
    const row = this.rowOf.get(key);
    if (row === undefined) return null;
    const at = row * this.stride;
    return this.rows.slice(at, at + this.dim);
  }

  async add(keys: ArrayLike<number>, vectors: Float32Array): Promise<void> {
    checkKeys(keys);
    const { dim } = this;
    if (vectors.length !== keys.length * dim)
      throw new InvalidArgumentError(
        'vectors',
        `expected ${keys.length} × ${dim} = ${keys.length * dim} floats, got ${vectors.length}`,
      );
    for (let i = 0; i < vectors.length; i++) {
      if (!Number.isFinite(vectors[i]))
        throw new InvalidArgumentError(
          'vectors',
          `row ${Math.floor(i / dim)} holds ${vectors[i]} at ${i % dim}; vectors must be finite`,
        );
    }
    this.insert(keys, vectors, this.metric === 'cosine');
  }

  async remove(keys: ArrayLike<number>): Promise<void> {
    checkKeys(keys);
    const { stride } = this;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const row = this.rowOf.get(key);
      if (row === undefined) continue;
      const last = this.count - 1;
      if (row !== last) {
        this.rows.copyWithin(row * stride, last * stride, last * stride + stride);
        const moved = this.rowKey[last];
        this.rowKey[row] = moved;
        this.bias[row] = this.bias[last];
        this.rowOf.set(moved, row);
      }
      this.rows.fill(0, last * stride, last * stride + stride);
      this.rowOf.delete(key);
      this.count = last;
    }
  }

  async search(queries: Float32Array, options: VectorSearchOptions): Promise<VectorSearchResult> {
    const { dim, stride, metric } = this;
    const { k, filter } = options;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1)
      throw new InvalidArgumentError('k', `must be an integer of at least 1, got ${k}`);
    if (queries.length % dim !== 0)
      throw new InvalidArgumentError(
        'queries',
        `length ${queries.length} is not a multiple of dim ${dim}`,
      );
    for (let i = 0; i < queries.length; i++) {
      if (!Number.isFinite(queries[i]))
        throw new InvalidArgumentError(
          'queries',
          `query ${Math.floor(i / dim)} holds ${queries[i]} at ${i % dim}; queries must be finite`,
        );
    }
    const m = queries.length / dim;
    const keysOut = this.maxKey > 0x7fffffff ? new Float64Array(m * k) : new Int32Array(m * k);
    const scoresOut = new Float32Array(m * k);
    const counts = new Uint32Array(m);
    keysOut.fill(-1);
    scoresOut.fill(Number.NaN);
    const n = this.count;
    if (n === 0) return { k, keys: keysOut, scores: scoresOut, counts };
    const cap = Math.min(k + RESCORE_EXTRA, n);
    const scratch: Scratch = {
      heapScore: new Float32Array(cap),
      heapRow: new Int32Array(cap),
      exact: new Float64Array(cap),
    };
    const scales = new Float64Array(BLOCK);
    // Four queries per pass over the rows when the batch kernel is built, else one at a time.
    const block = this.kernel4 !== null ? BLOCK : 1;
    for (let first = 0; first < m; first += block) {
      const group = Math.min(block, m - first);
      // The queries, normalised for cosine, into the kernel's buffer (padding and unused slots zero).
      this.query.fill(0);
      for (let j = 0; j < group; j++) {
        const qo = (first + j) * dim;
        let qn = 0;
        for (let a = 0; a < dim; a++) qn += queries[qo + a] * queries[qo + a];
        const scale = metric === 'cosine' && qn > 0 ? 1 / Math.sqrt(qn) : 1;
        scales[j] = scale;
        for (let a = 0; a < dim; a++) this.query[j * stride + a] = queries[qo + a] * scale;
      }
      if (group === 1) this.scoreAll(n);
      else
        this.kernel4!.dotRows4(
          stride,
          this.mPtr,
          n,
          this.qPtr,
          metric === 'l2' ? this.biasPtr : 0,
          this.outPtr,
        );
      for (let j = 0; j < group; j++) {
        const q = first + j;
        const size = this.select(n, j * n, cap, filter, scratch);
        const answered = this.rescore(queries, q * dim, scales[j], size, scratch, k);
        for (let i = 0; i < answered; i++) {
          keysOut[q * k + i] = this.rowKey[scratch.heapRow[i]];
          scoresOut[q * k + i] = scratch.exact[i];
        }
        counts[q] = answered;
      }
    }
    return { k, keys: keysOut, scores: scoresOut, counts };
  }

  /**
   * Keeps the best `cap` rows passing `filter` by `out[at + r]` ("higher is closer") in a bounded
   * min-heap; a row enters only above the threshold (the heap's worst once full), and only then is
   * the filter asked. Returns how many rows the heap holds.
   */
  private select(
    n: number,
    at: number,
    cap: number,
    filter: ((key: number) => boolean) | undefined,
    scratch: Scratch,
  ): number {
    const { heapScore, heapRow } = scratch;
    const { rowKey, out } = this;
    // Bounded min-heap of the best `cap` rows by a "higher is closer" score; a row enters only
    // above the threshold (the heap's worst once full), and only then is the filter asked.
    let size = 0;
    let threshold = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < n; r++) {
      const s = out[at + r];
      if (s <= threshold) continue;
      if (filter !== undefined && !filter(rowKey[r])) continue;
      if (size < cap) {
        // Sift up.
        let i = size++;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (heapScore[parent] <= s) break;
          heapScore[i] = heapScore[parent];
          heapRow[i] = heapRow[parent];
          i = parent;
        }
        heapScore[i] = s;
        heapRow[i] = r;
      } else {
        // Replace the root and sift down.
        let i = 0;
        for (;;) {
          const left = 2 * i + 1;
          if (left >= size) break;
          const right = left + 1;
          const child = right < size && heapScore[right] < heapScore[left] ? right : left;
          if (heapScore[child] >= s) break;
          heapScore[i] = heapScore[child];
          heapRow[i] = heapRow[child];
          i = child;
        }
        heapScore[i] = s;
        heapRow[i] = r;
      }
      if (size === cap) threshold = heapScore[0];
    }
    return size;
  }

  /**
   * Rescores the `size` selected rows against the query at `qo` in float64 and sorts them
   * closest first (ties by key) into `scratch`; returns how many of them to answer (≤ k).
   */
  private rescore(
    queries: Float32Array,
    qo: number,
    scale: number,
    size: number,
    scratch: Scratch,
    k: number,
  ): number {
    const { heapRow, exact } = scratch;
    const { rowKey, rows, dim, stride } = this;
    const l2 = this.metric === 'l2';
    // Rescore the survivors in float64 and sort them closest first (ties by key).
    for (let j = 0; j < size; j++) {
      const o = heapRow[j] * stride;
      let s = 0;
      if (l2) {
        for (let a = 0; a < dim; a++) {
          const d = rows[o + a] - queries[qo + a];
          s += d * d;
        }
        exact[j] = s;
      } else {
        for (let a = 0; a < dim; a++) s += rows[o + a] * queries[qo + a];
        exact[j] = s * scale;
      }
    }
    for (let j = 1; j < size; j++) {
      const s = exact[j];
      const r = heapRow[j];
      const key = rowKey[r];
      let i = j - 1;
      while (i >= 0) {
        const t = exact[i];
        const before = l2
          ? t < s || (t === s && rowKey[heapRow[i]] < key)
          : t > s || (t === s && rowKey[heapRow[i]] < key);
        if (before) break;
        exact[i + 1] = t;
        heapRow[i + 1] = heapRow[i];
        i--;
      }
      exact[i + 1] = s;
      heapRow[i + 1] = r;
    }
    return Math.min(size, k);
  }

  serialize(): Uint8Array {
    const { count, dim, stride } = this;
    const bytes = new Uint8Array(HEADER_BYTES + count * 4 + count * dim * 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, VERSION, true);
    view.setUint32(8, dim, true);
    view.setUint32(12, VECTOR_METRICS.indexOf(this.metric), true);
    view.setUint32(16, count, true);
    new Uint32Array(bytes.buffer, HEADER_BYTES, count).set(this.rowKey.subarray(0, count));
    const vectors = new Float32Array(bytes.buffer, HEADER_BYTES + count * 4, count * dim);
    if (stride === dim) vectors.set(this.rows.subarray(0, count * dim));
    else
      for (let r = 0; r < count; r++)
        vectors.set(this.rows.subarray(r * stride, r * stride + dim), r * dim);
    return bytes;
  }

  close(): void {
    this.rowOf.clear();
    this.count = 0;
  }

  /** Adds or replaces rows from checked input; `normalise` for cosine. */
  private insert(keys: ArrayLike<number>, vectors: Float32Array, normalise: boolean): void {
    const { dim, stride } = this;
    if (this.count + keys.length > this.capacity)
      this.reserve(Math.max(this.count + keys.length, this.capacity * 2));
    const rows = this.rows;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      let row = this.rowOf.get(key);
      if (row === undefined) {
        row = this.count++;
        this.rowOf.set(key, row);
        this.rowKey[row] = key;
        if (key > this.maxKey) this.maxKey = key;
      }
      const src = i * dim;
      let n2 = 0;
      for (let a = 0; a < dim; a++) n2 += vectors[src + a] * vectors[src + a];
      const scale = normalise && n2 > 0 ? 1 / Math.sqrt(n2) : 1;
      const o = row * stride;
      n2 = 0;
      for (let a = 0; a < dim; a++) {
        const x = Math.fround(vectors[src + a] * scale);
        rows[o + a] = x;
        n2 += x * x;
      }
      this.bias[row] = -0.5 * n2;
    }
  }

  /** out[r] = query · row r (l2: − |row r|²/2) for r < n. */
  private scoreAll(n: number): void {
    const l2 = this.metric === 'l2';
    if (this.kernel !== null) {
      this.kernel.dotRows(this.stride, this.mPtr, n, this.qPtr, l2 ? this.biasPtr : 0, this.outPtr);
      return;
    }
    const { rows, out, query, stride, bias } = this;
    for (let r = 0; r < n; r++) {
      const o = r * stride;
      let s = l2 ? bias[r] : 0;
      for (let a = 0; a < stride; a++) s += query[a] * rows[o + a];
      out[r] = s;
    }
  }

  /** Makes room for `capacity` rows: grows the memory and remakes the views (rows keep their place). */
  private reserve(capacity: number): void {
    const biasPtr = this.mPtr + capacity * this.stride * 4;
    const outPtr = biasPtr + capacity * 4;
    const bytes = outPtr + BLOCK * capacity * 4;
    const pages = Math.ceil(bytes / PAGE);
    if (pages > MAX_PAGES)
      throw new InvalidArgumentError(
        'vectors',
        `${capacity} × ${this.dim} floats exceed the exact index's 4 GiB; use an HNSW index`,
      );
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    const buffer = this.memory.buffer;
    // The bias moves up past the larger matrix (copyWithin copies overlapping ranges correctly).
    if (this.biasPtr !== 0)
      new Float32Array(buffer).copyWithin(
        biasPtr >> 2,
        this.biasPtr >> 2,
        (this.biasPtr >> 2) + this.count,
      );
    this.biasPtr = biasPtr;
    this.bias = new Float32Array(buffer, biasPtr, capacity);
    this.capacity = capacity;
    this.outPtr = outPtr;
    this.rows = new Float32Array(buffer, this.mPtr, capacity * this.stride);
    this.out = new Float32Array(buffer, outPtr, BLOCK * capacity);
    this.query = new Float32Array(buffer, this.qPtr, BLOCK * this.stride);
    // Rows past the count may cover the old scores region: zero them, so padding stays zero.
    this.rows.fill(0, this.count * this.stride);
    const rowKey = new Uint32Array(capacity);
    rowKey.set(this.rowKey.subarray(0, this.count));
    this.rowKey = rowKey;
  }
}

/** Keys must be integers in [0, 2^32). */
function checkKeys(keys: ArrayLike<number>): void {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (!Number.isInteger(key) || key < 0 || key > MAX_KEY)
      throw new InvalidArgumentError(
        'keys',
        `key ${i} is ${key}; keys must be integers from 0 to 2^32 - 1`,
      );
  }
}
