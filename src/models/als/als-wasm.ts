import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../core/threads.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import type { CsrMatrix } from '../../data/csr-matrix.js';

/** Rows handed out per grab of the shared work counter. */
const CHUNK_ROWS = 64;

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
      const url = new URL(`./als-wasm-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
      this.workers.push(startWorker(url, { workerData: { memory, module, layout, slot } }));
    }
  }

  /**
   * Lays out both orientations of the interactions and room for both factor matrices. Returns
   * null when the kernel is not built or `factors` is not a multiple of 4 (SIMD lanes).
   */
  static create(byUser: CsrMatrix, byItem: CsrMatrix, factors: number, threads: number): AlsWasmEngine | null {
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
      scratch: region(threads * 4 * factors * 4),
      counter: region(16),
    };
    const pages = plan.pages;
    if (pages > 65536) return null; // beyond 4 GiB: let the JS kernel handle it
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const engine = new AlsWasmEngine(memory, module, layout);
    for (const [m, s] of [[byUser, layout.users], [byItem, layout.items]] as const) {
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
    const other = msg.side === 'users' ? this.layout.items : this.layout.users;
    const f = this.layout.factors;
    const gram = this.f32(this.layout.gram);
    gram.fill(0);
    const exports = this.instance.exports as unknown as KernelExports;
    exports.gramRows(f, other.factors.offset, 0, other.rows, this.layout.gram.offset);
    for (let a = 0; a < f; a++) gram[a * f + a] += reg;
    const counter = new Int32Array(this.memory.buffer, this.layout.counter.offset, 1);
    Atomics.store(counter, 0, 0);
    const done = this.workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const onError = (e: Error): void => reject(e);
          w.once('error', onError);
          w.once('message', () => {
            w.off('error', onError);
            resolve();
          });
          w.postMessage(msg);
        }),
    );
    runSweep(exports, this.memory, this.layout, msg, 0);
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
  solveCg(f: number, alpha: number, cgSteps: number, indptr: number, indices: number, values: number, x: number, y: number, gram: number, scratch: number, start: number, end: number): void;
  gramRows(f: number, y: number, start: number, end: number, out: number): void;
}

/** One thread's share of a sweep: grab chunks of rows until none are left. */
export function runSweep(kernel: KernelExports, memory: WebAssembly.Memory, layout: AlsLayout, msg: SweepMessage, slot: number): void {
  const f = layout.factors;
  const side = layout[msg.side];
  const other = msg.side === 'users' ? layout.items : layout.users;
  const counter = new Int32Array(memory.buffer, layout.counter.offset, 1);
  const scratch = layout.scratch.offset + slot * 4 * f * 4;
  for (;;) {
    const start = Atomics.add(counter, 0, 1) * CHUNK_ROWS;
    if (start >= side.rows) return;
    const end = Math.min(side.rows, start + CHUNK_ROWS);
    kernel.solveCg(f, msg.alpha, msg.cgSteps, side.indptr.offset, side.indices.offset, side.values.offset, side.factors.offset, other.factors.offset, layout.gram.offset, scratch, start, end);
  }
}
