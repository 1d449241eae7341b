import type { Worker } from 'node:worker_threads';
import type { Random } from '../../core/random.js';
import { startWorker } from '../../core/threads.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import { lowerBound } from '../../core/lower-bound.js';
import type { BprEpoch, BprSampling, BprState } from './bpr-kernel.js';

/** The kernel's one entry point. */
export interface BprKernelExports {
  bprEpoch(
    f: number,
    nItems: number,
    indptr: number,
    indices: number,
    rowOf: number,
    x: number,
    y: number,
    bias: number,
    samples: number,
    drawFrom: number,
    drawCount: number,
    lr: number,
    reg: number,
    biasReg: number,
    byUser: number,
    negatives: number,
    rejectPositives: number,
    state: number,
    trained: number,
  ): number;
}

/** Byte offsets of the kernel's arrays; `rng` and `trained` hold one slot per thread. */
export type BprOffsets = Record<
  'indptr' | 'indices' | 'rowOf' | 'users' | 'items' | 'bias' | 'rng' | 'trained',
  number
>;

/**
 * The users a thread draws from: users `from .. from + count − 1` when sampling by user, stored
 * entries `from .. from + count − 1` (whole rows of users) when sampling by interaction.
 */
export interface BprDrawRange {
  from: number;
  count: number;
  /** Triples the thread draws from its range in one epoch. */
  samples: number;
}

/** What a Hogwild thread is asked to run: its share of an epoch's samples. */
export interface BprShare extends BprDrawRange {
  epoch: BprEpoch;
  slot: number;
}

/**
 * Splits an epoch of `samples` triples between `threads` threads so that no user belongs to two
 * of them: thread t owns a contiguous range of users, of equal size when sampling by user and of
 * equal interactions when sampling by interaction (equal work either way), and draws a share of
 * the triples proportional to its range. Each thread draws uniformly within its range, so the
 * draws of all threads together follow the single-thread distribution, while no user row is
 * ever written by two threads at once; only item rows can collide. One thread gets the whole range.
 */
export function bprDrawRanges(
  indptr: Int32Array,
  nUsers: number,
  sampling: BprSampling,
  samples: number,
  threads: number,
): BprDrawRange[] {
  const nnz = indptr[nUsers];
  const byUser = sampling === 'user';
  const total = byUser ? nUsers : nnz;
  // Range start of thread t, in users (by user) or entries at a row boundary (by interaction).
  const startOf = (t: number): number => {
    if (t === 0) return 0;
    if (t === threads) return total;
    if (byUser) return Math.round((t * nUsers) / threads);
    return indptr[Math.min(nUsers, lowerBound(indptr, Math.round((t * nnz) / threads)))];
  };
  const ranges: BprDrawRange[] = [];
  for (let t = 0; t < threads; t++) {
    const from = startOf(t);
    const to = startOf(t + 1);
    const count = to - from;
    const drawn =
      total === 0 ? 0 : Math.round((samples * to) / total) - Math.round((samples * from) / total);
    ranges.push({ from, count, samples: count === 0 ? 0 : drawn });
  }
  return ranges;
}

/**
 * Runs one thread's share of an epoch on `kernel`, with the generator state and trained counter
 * of its slot; returns the summed loss.
 */
export function runBprShare(
  kernel: BprKernelExports,
  state: Pick<BprState, 'factors' | 'nItems'>,
  at: BprOffsets,
  share: BprShare,
): number {
  const e = share.epoch;
  return kernel.bprEpoch(
    state.factors,
    state.nItems,
    at.indptr,
    at.indices,
    at.rowOf,
    at.users,
    at.items,
    at.bias,
    share.samples,
    share.from,
    share.count,
    e.learningRate,
    e.reg,
    e.biasReg,
    e.sampling === 'user' ? 1 : 0,
    e.negatives,
    e.rejectPositives ? 1 : 0,
    at.rng + 16 * share.slot,
    at.trained + 4 * share.slot,
  );
}

/**
 * BPR epochs on the WebAssembly SIMD kernel. The interactions, both factor matrices and the
 * generator state are copied into the kernel's (shared) memory once; {@link BprWasmKernel.state}
 * exposes the factors as views of that memory, so nothing is copied between epochs.
 *
 * With `threads` > 1 an epoch is Hogwild (Niu et al. 2011): each thread draws its share of the
 * triples from a generator of its own and updates the shared factors without locks. Each thread
 * owns a range of users ({@link bprDrawRanges}), so user rows are never written by two threads;
 * only item rows can collide, which is rare on sparse data and loses little. The result is no
 * longer bit-for-bit reproducible from the seed, so one thread stays the default below large data.
 */
export class BprWasmKernel {
  private readonly workers: Worker[] = [];

  private constructor(
    private readonly kernel: BprKernelExports,
    private readonly memory: WebAssembly.Memory,
    /** The same state as given to {@link BprWasmKernel.create}, its arrays now in kernel memory. */
    readonly state: BprState,
    private readonly at: BprOffsets,
    module: WebAssembly.Module,
    readonly threads: number,
  ) {
    const shape = { factors: state.factors, nItems: state.nItems };
    for (let slot = 1; slot < threads; slot++) {
      const url = new URL(
        `./bpr-wasm-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
        import.meta.url,
      );
      this.workers.push(startWorker(url, { workerData: { memory, module, at, shape } }));
    }
  }

  /** Null when the kernel is not built or `factors` is not a multiple of 4 (SIMD lanes). */
  static create(state: BprState, threads = 1): BprWasmKernel | null {
    const module = loadWasmModule('bpr-kernel');
    if (module === null || state.factors % 4 !== 0) return null;
    const plan = new WasmLayout();
    const at: BprOffsets = {
      indptr: plan.reserve(state.indptr.byteLength),
      indices: plan.reserve(state.indices.byteLength),
      rowOf: plan.reserve(state.rowOf.byteLength),
      users: plan.reserve(state.users.byteLength),
      items: plan.reserve(state.items.byteLength),
      bias: state.itemBias === null ? 0 : plan.reserve(state.itemBias.byteLength),
      rng: plan.reserve(16 * threads),
      trained: plan.reserve(4 * threads),
    };
    if (plan.pages > 65536) return null;
    // Shared, as the kernel is compiled for threads: workers instantiate it on the same memory.
    const memory = new WebAssembly.Memory({
      initial: plan.pages,
      maximum: plan.pages,
      shared: true,
    });
    const kernel = new WebAssembly.Instance(module, { env: { memory } })
      .exports as unknown as BprKernelExports;
    const buffer = memory.buffer as unknown as ArrayBuffer;
    const copy = <T extends Int32Array | Float32Array>(
      Ctor: new (b: ArrayBuffer, o: number, n: number) => T,
      offset: number,
      from: T,
    ): T => {
      const view = new Ctor(buffer, offset, from.length);
      view.set(from as never);
      return view;
    };
    const inMemory: BprState = {
      ...state,
      indptr: copy(Int32Array, at.indptr, state.indptr),
      indices: copy(Int32Array, at.indices, state.indices),
      rowOf: copy(Int32Array, at.rowOf, state.rowOf),
      users: copy(Float32Array, at.users, state.users),
      items: copy(Float32Array, at.items, state.items),
      itemBias: state.itemBias === null ? null : copy(Float32Array, at.bias, state.itemBias),
    };
    return new BprWasmKernel(kernel, memory, inMemory, at, module, Math.max(1, threads));
  }

  /**
   * Runs one epoch on the calling thread alone, advancing `rng` exactly as the JavaScript kernel
   * would; returns the mean loss.
   */
  epoch(e: BprEpoch, rng: Random): number {
    const s = this.state;
    const buffer = this.memory.buffer as unknown as ArrayBuffer;
    const rngState = new Uint32Array(buffer, this.at.rng, 4);
    rng.saveState(rngState);
    const [whole] = bprDrawRanges(s.indptr, s.nUsers, e.sampling, e.samples, 1);
    const lossSum = runBprShare(this.kernel, s, this.at, { epoch: e, slot: 0, ...whole });
    rng.loadState(rngState);
    const trained = new Int32Array(buffer, this.at.trained, 1)[0];
    return trained === 0 ? 0 : lossSum / trained;
  }

  /**
   * Runs one epoch on every thread of the kernel (Hogwild); returns the mean loss. Thread t draws
   * only from its own users ({@link bprDrawRanges}); thread 0 from `rng`, thread t > 0 from a
   * generator seeded from it.
   */
  async epochHogwild(e: BprEpoch, rng: Random): Promise<number> {
    if (this.threads === 1) return this.epoch(e, rng);
    const s = this.state;
    const buffer = this.memory.buffer as unknown as ArrayBuffer;
    const states = new Uint32Array(buffer, this.at.rng, 4 * this.threads);
    // Worker generators first, from the main one; then the main one's own state for slot 0.
    for (let t = 1; t < this.threads; t++)
      for (let w = 0; w < 4; w++) states[4 * t + w] = rng.nextUint32() | (w === 0 ? 1 : 0);
    rng.saveState(states.subarray(0, 4));
    const ranges = bprDrawRanges(s.indptr, s.nUsers, e.sampling, e.samples, this.threads);
    const others = this.workers.map(
      (worker, i) =>
        new Promise<number>((done, fail) => {
          const onError = (error: Error) => fail(error);
          worker.once('error', onError);
          worker.once('message', (loss: number) => {
            worker.off('error', onError);
            done(loss);
          });
          worker.postMessage({ epoch: e, slot: i + 1, ...ranges[i + 1] } satisfies BprShare);
        }),
    );
    let lossSum = runBprShare(this.kernel, s, this.at, { epoch: e, slot: 0, ...ranges[0] });
    for (const loss of await Promise.all(others)) lossSum += loss;
    rng.loadState(states.subarray(0, 4));
    const counts = new Int32Array(buffer, this.at.trained, this.threads);
    let trained = 0;
    for (let t = 0; t < this.threads; t++) trained += counts[t];
    return trained === 0 ? 0 : lossSum / trained;
  }

  /** Stops the worker threads; the factors stay readable. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
