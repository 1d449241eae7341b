import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/threads.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import type { CsrMatrix } from '../../data/csr-matrix.js';

/** Rows handed out per grab of the shared work counter. */
const CHUNK_ROWS = 64;
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

/** Byte offsets of everything the kernel reads and writes, in one shared linear memory. */
export interface AlsLayout {
  factors: number;
  threads: number;
  users: { rows: number; indptr: Region; indices: Region; values: Region; factors: Region };
  items: { rows: number; indptr: Region; indices: Region; values: Region; factors: Region };
  gram: Region;
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
 * `factorsOf` into its partial YᵀY; `solve` takes chunks of the rows of a sweep's side.
 */
export type KernelTask =
  | { op: 'gram'; factorsOf: 'users' | 'items' }
  | ({ op: 'solve' } & SweepMessage);

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
   * Lays out both orientations of the interactions and room for both factor matrices. Returns
   * null when the kernel is not built or `factors` is not a multiple of 4 (SIMD lanes).
   */
  static create(
    byUser: CsrMatrix,
    byItem: CsrMatrix,
    factors: number,
    threads: number,
  ): AlsWasmEngine | null {
    const module = alsWasmModule();
    if (module === null || factors % 4 !== 0) return null;
    const plan = new WasmLayout();
    const region = (bytes: number): Region => ({ offset: plan.reserve(bytes), bytes });
    const side = (m: CsrMatrix) => ({
      rows: m.rows,
      indptr: region(m.indptr.byteLength),
      indices: region(m.indices.byteLength),
      values: region(m.values.byteLength),
      factors: region(m.rows * factors * 4),
    });
    const layout: AlsLayout = {
      factors,
      threads,
      users: side(byUser),
      items: side(byItem),
      gram: region(factors * factors * 4),
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
    return engine;
  }

  /** Factor matrix of one side, as a live view into the shared memory (row-major). */
  factorsOf(side: 'users' | 'items'): Float32Array {
    return this.f32(this.layout[side].factors);
  }

  /** Solves every row of `msg.side` against the other side's factors; `reg` goes on YᵀY's diagonal. */
  async sweep(msg: SweepMessage, reg: number): Promise<void> {
    const f = this.layout.factors;
    // YᵀY of the fixed side, summed in parts by all threads, then the parts added in order.
    await this.runOnAll({ op: 'gram', factorsOf: msg.side === 'users' ? 'items' : 'users' });
    const gram = this.f32(this.layout.gram);
    const partials = this.f32(this.layout.partials);
    gram.fill(0);
    for (let part = 0; part < GRAM_PARTS; part++) {
      for (let e = 0; e < f * f; e++) gram[e] += partials[part * f * f + e];
    }
    for (let a = 0; a < f; a++) gram[a * f + a] += reg;
    await this.runOnAll({ op: 'solve', ...msg });
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
  solveCg(
    f: number,
    alpha: number,
    cgSteps: number,
    indptr: number,
    indices: number,
    values: number,
    x: number,
    y: number,
    gram: number,
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
  const side = layout[task.side];
  const other = task.side === 'users' ? layout.items : layout.users;
  const scratch = layout.scratch.offset + slot * 4 * f * 4;
  for (;;) {
    const start = Atomics.add(counter, 0, 1) * CHUNK_ROWS;
    if (start >= side.rows) return;
    const end = Math.min(side.rows, start + CHUNK_ROWS);
    kernel.solveCg(
      f,
      task.alpha,
      task.cgSteps,
      side.indptr.offset,
      side.indices.offset,
      side.values.offset,
      side.factors.offset,
      other.factors.offset,
      layout.gram.offset,
      scratch,
      start,
      end,
    );
  }
}
