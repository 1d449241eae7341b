import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/threads.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import { lowerBound } from '../../core/lower-bound.js';
import { symmetricEigen } from '../../core/symmetric-eigen.js';
import type { CsrMatrix } from '../../data/csr-matrix.js';
import { shortRowLimit } from './als-kernel.js';

/** Rows handed out per grab of the shared work counter. */
const CHUNK_ROWS = 64;
/** Rows of the fixed side rotated per grab of the shared work counter. */
const ROTATE_CHUNK_ROWS = 1024;
/**
 * YᵀY is summed in this many fixed row ranges, whichever thread takes each, and the partial sums
 * are added in a fixed order: the result, and so the model, does not depend on the thread count.
 */
const GRAM_PARTS = 8;

/** The compiled SIMD kernel, or null when it has not been built (then the JS kernel is used). */
export function alsWasmModule(): WebAssembly.Module | null {
  return loadWasmModule('als-kernel');
}

interface Region {
  offset: number;
  bytes: number;
}

/**
 * Whether a side's sweep is driven by the other side's rows (solveStreamed): `auto` when the
 * other side has at least four times the rows and its factors lie beyond the caches, `always`
 * whenever it has more rows (tests), `never`.
 */
export type StreamChoice = 'auto' | 'always' | 'never';

/** Fixed-side factor bytes above which `auto` streams (beyond any cache this kernel sees). */
const STREAM_MIN_FIXED_BYTES = 16 * 2 ** 20;
/**
 * The most bytes of solved-side CG state (x, r, p, ap) for which `auto` streams: each streamed
 * interaction touches two of those rows at random, so they must stay near the cache. Measured
 * on 10M interactions of 1M users, one thread: the item sweep at 10k items took 1.4 s streamed
 * against 2.1 s row by row, at 100k items 5.1 s against 1.9 s.
 */
const STREAM_MAX_STATE_BYTES = 12 * 2 ** 20;

/**
 * A streamed side's extra state: each thread owns the solved rows ranges[t]..ranges[t + 1] and
 * finds its interactions in each fixed row through `splits` (fixed rows × (threads + 1)
 * positions); r, p, ap and rs are the CG vectors of every solved row.
 */
interface StreamLayout {
  ranges: number[];
  splits: Region;
  r: Region;
  p: Region;
  ap: Region;
  rs: Region;
}

/** One side's interactions (rows = that side) and its factor matrix. */
interface SideLayout {
  rows: number;
  indptr: Region;
  indices: Region;
  values: Region;
  factors: Region;
  /**
   * Rows with at most this many interactions take the Woodbury path (0: none do); only in the
   * rotated basis, where (YᵀY + λI)⁻¹ is diagonal.
   */
  shortLimit: number;
  /** Set when this side's sweeps stream the other side's rows (then no Woodbury path). */
  stream: StreamLayout | null;
  /**
   * Whether this side's sweeps first rotate both factor matrices into the eigenbasis of
   * YᵀY + λI, where it is diagonal: CG's f×f products become f multiplies.
   */
  rotate: boolean;
}

/** Byte offsets of everything the kernel reads and writes, in one shared linear memory. */
export interface AlsLayout {
  factors: number;
  threads: number;
  users: SideLayout;
  items: SideLayout;
  gram: Region;
  /** The rotation into YᵀY + λI's eigenbasis (f×f float32, rows = eigenvectors). */
  basis: Region;
  /** The eigenvalues Λ + λ, then their inverses (f floats each). */
  diagonals: Region;
  /** Per thread, (L² + 3L) doubles for the Woodbury path, L the larger short limit. */
  shortScratch: Region;
  /** GRAM_PARTS partial sums of YᵀY (f×f each), added up into `gram`. */
  partials: Region;
  scratch: Region;
  /** Int32 work counter (at offset), shared by all threads of a sweep. */
  counter: Region;
}

/** A message to a kernel thread: run one half-step over the rows of `side`. */
export interface SweepMessage {
  side: 'users' | 'items';
  alpha: number;
  cgSteps: number;
}

/**
 * Work for every kernel thread at once: `gram` sums this thread's share of the rows of
 * `factorsOf` into its partial YᵀY; `rotate` rotates chunks of them into the eigenbasis;
 * `solve` takes chunks of the rows of a sweep's side.
 */
export type KernelTask =
  | { op: 'gram'; factorsOf: 'users' | 'items' }
  | { op: 'rotate'; factorsOf: 'users' | 'items' }
  | ({ op: 'solve'; shortLimit: number } & SweepMessage);

/**
 * Implicit-ALS sweeps on the WebAssembly SIMD kernel. All arrays live in one shared
 * `WebAssembly.Memory`; worker threads and the main thread take chunks of rows from a shared
 * counter, so a sweep is as fast as the cores allow and nothing is copied between threads.
 */
export class AlsWasmEngine {
  private readonly instance: WebAssembly.Instance;
  private readonly workers: Worker[] = [];

  private constructor(
    private readonly memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    readonly layout: AlsLayout,
  ) {
    this.instance = new WebAssembly.Instance(module, { env: { memory } });
    for (let slot = 1; slot < layout.threads; slot++) {
      const url = new URL(
        `./als-wasm-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
        import.meta.url,
      );
      this.workers.push(startWorker(url, { workerData: { memory, module, layout, slot } }));
    }
  }

  /**
   * Lays out both orientations of the interactions and room for both factor matrices, and
   * decides per side how its rows are solved: streamed from the other side's rows (see
   * StreamChoice), or row by row with short rows on the Woodbury path (see shortRowLimit), in
   * the eigenbasis of YᵀY + λI when the side has over cgSteps times fewer rows than the other
   * side (rotating the other side then costs less than the f×f products it saves).
   * Returns null when the kernel is not built or `factors` is not a multiple of 4 (SIMD lanes).
   */
  static create(
    byUser: CsrMatrix,
    byItem: CsrMatrix,
    factors: number,
    threads: number,
    cgSteps: number,
    stream: StreamChoice = 'auto',
  ): AlsWasmEngine | null {
    const module = alsWasmModule();
    if (module === null || factors % 4 !== 0) return null;
    const plan = new WasmLayout();
    const region = (bytes: number): Region => ({ offset: plan.reserve(bytes), bytes });
    const splits: [Region, Int32Array][] = [];
    const side = (m: CsrMatrix, other: CsrMatrix): SideLayout => {
      let streamed: StreamLayout | null = null;
      if (streams(m, other, factors, stream)) {
        const ranges = balancedRanges(m.indptr, threads);
        const positions = splitPositions(other, ranges);
        const at = region(positions.byteLength);
        splits.push([at, positions]);
        const vectors = m.rows * factors * 4;
        streamed = {
          ranges,
          splits: at,
          r: region(vectors),
          p: region(vectors),
          ap: region(vectors),
          rs: region(m.rows * 4),
        };
      }
      const rotate = streamed === null && cgSteps * m.rows > other.rows;
      return {
        rows: m.rows,
        indptr: region(m.indptr.byteLength),
        indices: region(m.indices.byteLength),
        values: region(m.values.byteLength),
        factors: region(m.rows * factors * 4),
        shortLimit: rotate ? shortRowLimit(m.indptr, other.rows, factors, cgSteps, true) : 0,
        stream: streamed,
        rotate,
      };
    };
    const users = side(byUser, byItem);
    const items = side(byItem, byUser);
    const layout: AlsLayout = {
      factors,
      threads,
      users,
      items,
      gram: region(factors * factors * 4),
      basis: region(factors * factors * 4),
      diagonals: region(2 * factors * 4),
      shortScratch: region(threads * shortScratchBytes({ users, items })),
      partials: region(GRAM_PARTS * factors * factors * 4),
      scratch: region(threads * 4 * factors * 4),
      counter: region(16),
    };
    const pages = plan.pages;
    if (pages > 65536) return null; // beyond 4 GiB: let the JS kernel handle it
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const engine = new AlsWasmEngine(memory, module, layout);
    for (const [m, s] of [
      [byUser, layout.users],
      [byItem, layout.items],
    ] as const) {
      engine.i32(s.indptr).set(m.indptr);
      engine.i32(s.indices).set(m.indices);
      engine.f32(s.values).set(m.values);
    }
    for (const [at, positions] of splits) engine.i32(at).set(positions);
    return engine;
  }

  /** Factor matrix of one side, as a live view into the shared memory (row-major). */
  factorsOf(side: 'users' | 'items'): Float32Array {
    return this.f32(this.layout[side].factors);
  }

  /**
   * Solves every row of `msg.side` against the other side's factors; `reg` goes on YᵀY's
   * diagonal. A rotated side first turns both factor matrices into the eigenbasis of
   * YᵀY + λI = Q·(Λ + λ)·Qᵀ (scores X·Yᵀ do not change), which makes it diagonal.
   */
  async sweep(msg: SweepMessage, reg: number): Promise<void> {
    const f = this.layout.factors;
    const fixed = msg.side === 'users' ? 'items' : 'users';
    // YᵀY of the fixed side, summed in parts by all threads (upper triangles), then the parts
    // added in order in double precision and mirrored.
    await this.runOnAll({ op: 'gram', factorsOf: fixed });
    const partials = this.f32(this.layout.partials);
    const g = new Float64Array(f * f);
    for (let part = 0; part < GRAM_PARTS; part++) {
      const o = part * f * f;
      for (let a = 0; a < f; a++)
        for (let b = a; b < f; b++) g[a * f + b] += partials[o + a * f + b];
    }
    for (let a = 0; a < f; a++) {
      g[a * f + a] += reg;
      for (let b = a + 1; b < f; b++) g[b * f + a] = g[a * f + b];
    }
    const side = this.layout[msg.side];
    this.f32(this.layout.gram).set(g);
    let shortLimit = side.shortLimit;
    if (side.rotate) {
      const { values, vectors } = symmetricEigen(g, f);
      // Woodbury divides by the eigenvalues: with λ near 0 and a rank-deficient YᵀY (fewer
      // rows than factors, say) this sweep leaves every row to CG.
      if (Math.min(...values) <= 1e-6 * Math.max(...values)) shortLimit = 0;
      const basis = this.f32(this.layout.basis);
      for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) basis[a * f + b] = vectors[b * f + a];
      const diagonals = this.f32(this.layout.diagonals);
      for (let a = 0; a < f; a++) {
        const value = Math.max(values[a], 1e-12);
        diagonals[a] = value;
        diagonals[f + a] = 1 / value;
      }
      await this.runOnAll({ op: 'rotate', factorsOf: fixed });
    }
    await this.runOnAll({ op: 'solve', shortLimit, ...msg });
  }

  /** Sends `task` to every worker, does the main thread's share, and waits for all. */
  private async runOnAll(task: KernelTask): Promise<void> {
    Atomics.store(new Int32Array(this.memory.buffer, this.layout.counter.offset, 1), 0, 0);
    const done = this.workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const onError = (e: Error): void => reject(e);
          w.once('error', onError);
          w.once('message', () => {
            w.off('error', onError);
            resolve();
          });
          w.postMessage(task);
        }),
    );
    runShare(this.instance.exports as unknown as KernelExports, this.memory, this.layout, task, 0);
    await Promise.all(done);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private f32(r: Region): Float32Array {
    return new Float32Array(this.memory.buffer, r.offset, r.bytes / 4);
  }

  private i32(r: Region): Int32Array {
    return new Int32Array(this.memory.buffer, r.offset, r.bytes / 4);
  }
}

/** The functions the compiled kernel exports. */
export interface KernelExports {
  solveRows(
    f: number,
    alpha: number,
    cgSteps: number,
    shortLimit: number,
    indptr: number,
    indices: number,
    values: number,
    x: number,
    y: number,
    scale: number,
    gram: number,
    diagonal: number,
    basis: number,
    scratch: number,
    shortScratch: number,
    start: number,
    end: number,
  ): void;
  solveStreamed(
    f: number,
    alpha: number,
    cgSteps: number,
    fixedRows: number,
    splits: number,
    stride: number,
    t: number,
    indices: number,
    values: number,
    fixed: number,
    x: number,
    gram: number,
    r: number,
    p: number,
    ap: number,
    rs: number,
    lo: number,
    hi: number,
  ): void;
  rotateRows(
    f: number,
    y: number,
    basis: number,
    scratch: number,
    start: number,
    end: number,
  ): void;
  gramRows(f: number, y: number, start: number, end: number, out: number): void;
}

/** One thread's share of a task (see {@link KernelTask}); `slot` numbers the thread from 0. */
export function runShare(
  kernel: KernelExports,
  memory: WebAssembly.Memory,
  layout: AlsLayout,
  task: KernelTask,
  slot: number,
): void {
  const f = layout.factors;
  const counter = new Int32Array(memory.buffer, layout.counter.offset, 1);
  if (task.op === 'gram') {
    const side = layout[task.factorsOf];
    for (
      let part = Atomics.add(counter, 0, 1);
      part < GRAM_PARTS;
      part = Atomics.add(counter, 0, 1)
    ) {
      const partial = layout.partials.offset + part * f * f * 4;
      new Float32Array(memory.buffer, partial, f * f).fill(0);
      const start = Math.floor((side.rows * part) / GRAM_PARTS);
      const end = Math.floor((side.rows * (part + 1)) / GRAM_PARTS);
      kernel.gramRows(f, side.factors.offset, start, end, partial);
    }
    return;
  }
  if (task.op === 'rotate') {
    const side = layout[task.factorsOf];
    const scratch = layout.scratch.offset + slot * 4 * f * 4;
    takeChunks(counter, side.rows, ROTATE_CHUNK_ROWS, (start, end) =>
      kernel.rotateRows(f, side.factors.offset, layout.basis.offset, scratch, start, end),
    );
    return;
  }
  const side = layout[task.side];
  const other = task.side === 'users' ? layout.items : layout.users;
  if (side.stream !== null) {
    const { ranges, splits, r, p, ap, rs } = side.stream;
    kernel.solveStreamed(
      f,
      task.alpha,
      task.cgSteps,
      other.rows,
      splits.offset,
      ranges.length,
      slot,
      other.indices.offset,
      other.values.offset,
      other.factors.offset,
      side.factors.offset,
      layout.gram.offset,
      r.offset,
      p.offset,
      ap.offset,
      rs.offset,
      ranges[slot],
      ranges[slot + 1],
    );
    return;
  }
  const scratch = layout.scratch.offset + slot * 4 * f * 4;
  const shortScratch = layout.shortScratch.offset + slot * shortScratchBytes(layout);
  takeChunks(counter, side.rows, CHUNK_ROWS, (start, end) =>
    kernel.solveRows(
      f,
      task.alpha,
      task.cgSteps,
      task.shortLimit,
      side.indptr.offset,
      side.indices.offset,
      side.values.offset,
      side.factors.offset,
      other.factors.offset,
      layout.diagonals.offset + f * 4,
      side.rotate ? layout.diagonals.offset : layout.gram.offset,
      side.rotate ? 1 : 0,
      layout.basis.offset,
      scratch,
      shortScratch,
      start,
      end,
    ),
  );
}

/**
 * Runs `run` on chunks of `chunkRows` rows of 0..rows taken from the shared counter until none is
 * left: the threads of a task share the rows without any thread waiting on another.
 */
function takeChunks(
  counter: Int32Array,
  rows: number,
  chunkRows: number,
  run: (start: number, end: number) => void,
): void {
  for (;;) {
    const start = Atomics.add(counter, 0, 1) * chunkRows;
    if (start >= rows) return;
    run(start, Math.min(rows, start + chunkRows));
  }
}

/** Bytes of one thread's Woodbury scratch: L² + 3L doubles for the larger short limit L. */
function shortScratchBytes(layout: Pick<AlsLayout, 'users' | 'items'>): number {
  const limit = Math.max(layout.users.shortLimit, layout.items.shortLimit);
  return (limit * limit + 3 * limit) * 8;
}

/** Whether the rows of `solved` should be solved by streaming the rows of `fixed`. */
function streams(solved: CsrMatrix, fixed: CsrMatrix, f: number, choice: StreamChoice): boolean {
  const wanted =
    choice === 'always'
      ? fixed.rows > solved.rows
      : choice === 'auto' &&
        fixed.rows >= 4 * solved.rows &&
        fixed.rows * f * 4 >= STREAM_MIN_FIXED_BYTES &&
        solved.rows * f * 16 <= STREAM_MAX_STATE_BYTES;
  return wanted && columnsAscending(fixed);
}

/** True when every row's column indices ascend (what splitPositions' binary search needs). */
function columnsAscending(m: CsrMatrix): boolean {
  const { indptr, indices } = m;
  for (let row = 0; row < m.rows; row++)
    for (let e = indptr[row] + 1; e < indptr[row + 1]; e++)
      if (indices[e] <= indices[e - 1]) return false;
  return true;
}

/**
 * threads + 1 row boundaries splitting the rows of a CSR into contiguous ranges of about equal
 * interactions (each range's work in a streamed pass).
 */
function balancedRanges(indptr: Int32Array, threads: number): number[] {
  const rows = indptr.length - 1;
  const nnz = indptr[rows];
  const ranges = [0];
  for (let t = 1; t < threads; t++)
    ranges.push(Math.max(ranges[t - 1], Math.min(rows, lowerBound(indptr, (nnz * t) / threads))));
  ranges.push(rows);
  return ranges;
}

/**
 * For each row u of `fixed` and each boundary b of `ranges`, the position in u's interactions
 * of its first column ≥ ranges[b]: thread t's interactions of row u lie between boundaries t
 * and t + 1.
 */
function splitPositions(fixed: CsrMatrix, ranges: number[]): Int32Array {
  const stride = ranges.length;
  const out = new Int32Array(fixed.rows * stride);
  const { indptr, indices } = fixed;
  for (let u = 0; u < fixed.rows; u++) {
    let e = indptr[u];
    const end = indptr[u + 1];
    for (let b = 0; b < stride; b++) {
      while (e < end && indices[e] < ranges[b]) e++;
      out[u * stride + b] = b === stride - 1 ? end : e;
    }
  }
  return out;
}
