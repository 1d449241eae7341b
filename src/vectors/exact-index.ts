import type { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from '../core/errors.js';
import { defaultThreadCount, startWorker } from '../core/threads.js';
import { loadWasmModule, WASM_RESERVED_BYTES } from '../core/wasm.js';
import {
  BLOCK,
  type ScanOutput,
  type ScanTask,
  scanQueries,
  type VectorKernelExports,
} from './exact-scan.js';
import type { SearchThreadTask } from './exact-search-worker.js';
import type {
  VectorIndex,
  VectorMetric,
  VectorSearchOptions,
  VectorSearchResult,
} from './vector-index.js';
import { VECTOR_METRICS } from './vector-index.js';

/** What an exact index is made with. */
export interface ExactVectorIndexOptions {
  /** Dimensions of every vector, 1 to 65,536. */
  dim: number;
  metric: VectorMetric;
  /** Rows to allocate up front (it grows by doubling). @defaultValue 1024 */
  capacity?: number;
  /**
   * Whether to score with the WebAssembly SIMD kernel when it is built; false scores in plain
   * JavaScript on one thread, as happens when it is not (for comparison and tests).
   * @defaultValue true
   */
  simd?: boolean;
  /**
   * `int8`: also keep each row as int8 codes (a scale per row; 1.25× the memory) and scan those,
   * a quarter of the bytes, one query at a time; the best 3k + 16 rows per query are rescored from
   * the float rows. Answers are then approximate (a neighbour whose code error outweighs its lead
   * is missed; recall@10 ≥ 0.99 on clustered data). Needs the kernel: without it the float rows
   * are scanned. @defaultValue none
   */
  quantize?: 'int8';
  /**
   * Threads that answer an unfiltered batch of at least 8 queries per thread (the calling thread
   * and `threads - 1` search threads shared by every index of the process); each holds a scratch
   * of 16 bytes per row. Filtered searches run on the calling thread (a filter cannot cross
   * threads). @defaultValue one per core
   */
  threads?: number;
}

/** Header of a serialized index: magic, version, dim, metric, count (little-endian u32s). */
const MAGIC = 0x5845564b; // "KVEX" read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 20;
/** Set in the metric word of the header when rows are also kept as int8 codes. */
const QUANTIZE_INT8 = 0x100;
const MAX_KEY = 0xffffffff;
const PAGE = 65536;
const MAX_PAGES = 65536;
/** Fewest queries per thread worth handing to search threads. */
const MIN_QUERIES_PER_THREAD = 8;

/**
 * An exact nearest-neighbour index: every search scores every vector. The vectors live row-major
 * in one shared WebAssembly memory (rows padded to a multiple of 4 floats) and are scored by the
 * SIMD kernel (`vectors/wasm/vector-kernel`; four queries per pass over the rows in a batch), or
 * by plain JavaScript when it is not built. Large unfiltered batches are split over threads that
 * read the same memory. A bounded heap over typed arrays keeps the best `k + 8` rows per query,
 * which are rescored in float64 (so L2 distances are exact rather than `|x|² − 2x·q + |q|²` in
 * float32), closest first, ties by key. Removal moves the last row into the hole, so rows stay
 * dense. `add` and `remove` wait for a threaded search in flight.
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
  private readonly kernel: VectorKernelExports | null;
  /** Scanners: the calling thread (slot 0) and search threads (slots 1…), each with its scratch. */
  private readonly slots: number;
  private readonly mPtr: number;
  /** `int8` when rows are also kept as int8 codes (scanned instead of the floats). */
  readonly quantize: 'int8' | null;
  /** Bytes of int8 codes per row (dim rounded up to 16), or 0. */
  private readonly codeStride: number;
  /** Bytes of query buffers per scanner slot (float block, then int16 query). */
  private readonly slotBytes: number;
  private scalePtr = 0;
  private codePtr = 0;
  private scales!: Float32Array;
  private codes!: Int8Array;
  /** Per row: −|row|²/2, the kernel's bias for l2 (q·x − |x|²/2 orders rows as −|x − q|² does). */
  private biasPtr = 0;
  /** Per row: its key (u32). */
  private keyPtr = 0;
  /** Scores scratch of slot 0 (the others follow, BLOCK × capacity floats each). */
  private outPtr = 0;
  private capacity = 0;
  private count = 0;
  /** Views into the memory, remade whenever it grows. */
  private rows!: Float32Array;
  private bias!: Float32Array;
  private rowKey!: Uint32Array;
  private readonly rowOf = new Map<number, number>();
  /** An upper bound of the keys ever added: results use Int32Array keys while it is below 2^31. */
  private maxKey = 0;
  /** The threaded search in flight, which mutations (and other threaded searches) wait for. */
  private flight: Promise<unknown> | null = null;

  constructor(options: ExactVectorIndexOptions) {
    const {
      dim,
      metric,
      capacity = 1024,
      simd = true,
      threads = defaultThreadCount(),
      quantize,
    } = options;
    if (quantize !== undefined && quantize !== 'int8')
      throw new InvalidArgumentError(
        'quantize',
        `must be int8 or left out, got ${String(quantize)}`,
      );
    if (!Number.isInteger(dim) || dim < 1 || dim > 65536)
      throw new InvalidArgumentError('dim', `must be an integer from 1 to 65536, got ${dim}`);
    if (!VECTOR_METRICS.includes(metric))
      throw new InvalidArgumentError(
        'metric',
        `must be one of ${VECTOR_METRICS.join(', ')}, got ${String(metric)}`,
      );
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new InvalidArgumentError('capacity', `must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(threads) || threads < 1)
      throw new InvalidArgumentError('threads', `must be a positive integer, got ${threads}`);
    this.dim = dim;
    this.metric = metric;
    this.stride = Math.ceil(dim / 4) * 4;
    const module = simd ? loadWasmModule('vector-kernel') : null;
    this.slots = module === null ? 1 : threads;
    // Query buffers of every slot first (they never move), then the rows.
    this.quantize = quantize ?? null;
    this.codeStride = quantize === 'int8' ? Math.ceil(dim / 16) * 16 : 0;
    this.slotBytes = BLOCK * this.stride * 4 + this.codeStride * 2;
    this.mPtr = WASM_RESERVED_BYTES + this.slots * this.slotBytes;
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    this.kernel =
      module === null
        ? null
        : (new WebAssembly.Instance(module, { env: { memory: this.memory } })
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
    const code = view.getUint32(12, true);
    const metric = VECTOR_METRICS[code & 0xff];
    const quantize = code & QUANTIZE_INT8 ? 'int8' : undefined;
    const count = view.getUint32(16, true);
    if (metric === undefined) throw new InvalidArgumentError('bytes', 'unknown metric code');
    const expected = HEADER_BYTES + count * 4 + count * dim * 4;
    if (bytes.byteLength !== expected)
      throw new InvalidArgumentError(
        'bytes',
        `expected ${expected} bytes for ${count} × ${dim}, got ${bytes.byteLength}`,
      );
    const index = new ExactVectorIndex({ dim, metric, quantize, capacity: Math.max(1, count) });
    // Copy out to aligned buffers (the input may sit at any byte offset). Uint8Array's own slice
    // copies; a Node Buffer's `slice` would share the (pooled) memory instead.
    const body = Uint8Array.prototype.slice.call(bytes, HEADER_BYTES);
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
    while (this.flight !== null) await this.flight;
    this.insert(keys, vectors, this.metric === 'cosine');
  }

  async remove(keys: ArrayLike<number>): Promise<void> {
    checkKeys(keys);
    while (this.flight !== null) await this.flight;
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
        if (this.codeStride > 0) {
          const cs = this.codeStride;
          this.codes.copyWithin(row * cs, last * cs, last * cs + cs);
          this.scales[row] = this.scales[last];
        }
        this.rowOf.set(moved, row);
      }
      this.rows.fill(0, last * stride, last * stride + stride);
      this.rowOf.delete(key);
      this.count = last;
    }
  }

  async search(queries: Float32Array, options: VectorSearchOptions): Promise<VectorSearchResult> {
    const { dim } = this;
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
    const wideKeys = this.maxKey > 0x7fffffff;
    const output: ScanOutput = {
      keys: wideKeys ? new Float64Array(m * k) : new Int32Array(m * k),
      scores: new Float32Array(m * k),
      counts: new Uint32Array(m),
    };
    output.keys.fill(-1);
    output.scores.fill(Number.NaN);
    const threads =
      filter === undefined ? Math.min(this.slots, Math.floor(m / MIN_QUERIES_PER_THREAD)) : 1;
    if (threads <= 1 || this.count === 0) {
      scanQueries(this.kernel, this.memory.buffer, this.task(0, k), queries, filter, output);
      return { k, ...output };
    }
    while (this.flight !== null) await this.flight;
    const run = this.searchThreaded(queries, k, threads, wideKeys, output);
    this.flight = run;
    try {
      await run;
    } finally {
      this.flight = null;
    }
    return { k, ...output };
  }

  /** Splits the queries into `threads` shares (whole blocks), slot 0's answered here. */
  private async searchThreaded(
    queries: Float32Array,
    k: number,
    threads: number,
    wideKeys: boolean,
    output: ScanOutput,
  ): Promise<void> {
    const { dim } = this;
    const m = queries.length / dim;
    const share = Math.ceil(m / threads / BLOCK) * BLOCK;
    const pending: Promise<void>[] = [];
    for (let slot = 1; slot < threads; slot++) {
      const first = slot * share;
      const end = Math.min(m, first + share);
      if (first >= end) break;
      const message: SearchThreadTask = {
        memory: this.memory,
        task: this.task(slot, k),
        queries: queries.slice(first * dim, end * dim),
        wideKeys,
      };
      pending.push(
        searchThread(slot - 1, message).then((answer) => {
          output.keys.set(answer.keys, first * k);
          output.scores.set(answer.scores, first * k);
          output.counts.set(answer.counts, first);
        }),
      );
    }
    const end = Math.min(m, share);
    scanQueries(
      this.kernel,
      this.memory.buffer,
      this.task(0, k),
      queries.subarray(0, end * dim),
      undefined,
      {
        keys: output.keys.subarray(0, end * k),
        scores: output.scores.subarray(0, end * k),
        counts: output.counts.subarray(0, end),
      },
    );
    await Promise.all(pending);
  }

  /** The scan of scanner `slot` over the rows present now. */
  private task(slot: number, k: number): ScanTask {
    const { dim, stride, metric } = this;
    return {
      dim,
      stride,
      metric,
      n: this.count,
      mPtr: this.mPtr,
      biasPtr: this.biasPtr,
      keyPtr: this.keyPtr,
      qPtr: WASM_RESERVED_BYTES + slot * this.slotBytes,
      q16Ptr: WASM_RESERVED_BYTES + slot * this.slotBytes + BLOCK * stride * 4,
      codeStride: this.codeStride,
      codePtr: this.codePtr,
      scalePtr: this.scalePtr,
      outPtr: this.outPtr + slot * BLOCK * this.capacity * 4,
      k,
    };
  }

  serialize(): Uint8Array {
    const { count, dim, stride } = this;
    const bytes = new Uint8Array(HEADER_BYTES + count * 4 + count * dim * 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, VERSION, true);
    view.setUint32(8, dim, true);
    view.setUint32(
      12,
      VECTOR_METRICS.indexOf(this.metric) | (this.quantize === 'int8' ? QUANTIZE_INT8 : 0),
      true,
    );
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
      if (this.codeStride > 0) {
        // Codes in steps of the row's largest magnitude / 127 (padding stays zero).
        let max = 0;
        for (let a = 0; a < dim; a++) max = Math.max(max, Math.abs(rows[o + a]));
        const step = max / 127;
        const c = row * this.codeStride;
        this.scales[row] = step;
        for (let a = 0; a < dim; a++)
          this.codes[c + a] = max > 0 ? Math.round(rows[o + a] / step) : 0;
      }
    }
  }

  /**
   * Makes room for `capacity` rows: grows the memory, moves the per-row arrays up past the larger
   * matrix and remakes the views (rows keep their place).
   */
  private reserve(capacity: number): void {
    const { stride, count } = this;
    const biasPtr = this.mPtr + capacity * stride * 4;
    const keyPtr = biasPtr + capacity * 4;
    const scalePtr = keyPtr + capacity * 4;
    const codePtr = scalePtr + (this.codeStride > 0 ? capacity * 4 : 0);
    const outPtr = codePtr + capacity * this.codeStride;
    const bytes = outPtr + this.slots * BLOCK * capacity * 4;
    const pages = Math.ceil(bytes / PAGE);
    if (pages > MAX_PAGES)
      throw new InvalidArgumentError(
        'vectors',
        `${capacity} × ${this.dim} floats exceed the exact index's 4 GiB; use an HNSW index`,
      );
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    const buffer = this.memory.buffer;
    const words = new Uint32Array(buffer);
    // Every per-row array moves up; the highest is copied first, so no copy lands on a source
    // not yet copied (copyWithin copies overlapping ranges correctly).
    if (this.codeStride > 0 && this.codePtr !== 0) {
      const bytes8 = new Uint8Array(buffer);
      bytes8.copyWithin(codePtr, this.codePtr, this.codePtr + count * this.codeStride);
      words.copyWithin(scalePtr >> 2, this.scalePtr >> 2, (this.scalePtr >> 2) + count);
    }
    if (this.keyPtr !== 0)
      words.copyWithin(keyPtr >> 2, this.keyPtr >> 2, (this.keyPtr >> 2) + count);
    if (this.biasPtr !== 0)
      words.copyWithin(biasPtr >> 2, this.biasPtr >> 2, (this.biasPtr >> 2) + count);
    this.biasPtr = biasPtr;
    this.keyPtr = keyPtr;
    this.outPtr = outPtr;
    this.scalePtr = scalePtr;
    this.codePtr = codePtr;
    this.capacity = capacity;
    this.scales = new Float32Array(buffer, scalePtr, this.codeStride > 0 ? capacity : 0);
    this.codes = new Int8Array(buffer, codePtr, capacity * this.codeStride);
    this.rows = new Float32Array(buffer, this.mPtr, capacity * stride);
    this.bias = new Float32Array(buffer, biasPtr, capacity);
    this.rowKey = new Uint32Array(buffer, keyPtr, capacity);
    // Rows past the count may cover old per-row arrays: zero them, so padding stays zero.
    this.rows.fill(0, count * stride);
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

/** Search threads shared by every exact index of the process, started on first use. */
const pool: { worker: Worker; waiting: ((answer: ScanOutput | Error) => void)[] }[] = [];

/** Runs `message` on search thread `w` (started if needed); threads answer in order. */
function searchThread(w: number, message: SearchThreadTask): Promise<ScanOutput> {
  while (pool.length <= w) {
    const url = new URL(
      `./exact-search-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
      import.meta.url,
    );
    const worker = startWorker(url, { workerData: { module: loadWasmModule('vector-kernel') } });
    const entry = { worker, waiting: [] as ((answer: ScanOutput | Error) => void)[] };
    worker.on('message', (answer: ScanOutput) => {
      entry.waiting.shift()?.(answer);
      if (entry.waiting.length === 0) worker.unref();
    });
    worker.on('error', (error: Error) => {
      // A failed thread is dropped (a later search starts a new one); its callers get the error.
      pool.splice(pool.indexOf(entry), 1);
      for (const reply of entry.waiting.splice(0)) reply(error);
    });
    // An idle pool must not keep the process alive (a CLI or bench would never exit), a busy one
    // must (a pending answer is all that keeps a script awaiting it running): ref'd per search.
    // Unref'd after the listeners, since adding a 'message' listener refs the port again.
    worker.unref();
    pool.push(entry);
  }
  const entry = pool[w];
  return new Promise((resolve, reject) => {
    entry.waiting.push((answer) => (answer instanceof Error ? reject(answer) : resolve(answer)));
    entry.worker.ref();
    entry.worker.postMessage(message);
  });
}
