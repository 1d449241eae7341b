import type { Random } from '../../core/random.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import type { BprEpoch, BprState } from './bpr-kernel.js';

interface BprKernelExports {
  bprEpoch(
    f: number,
    nUsers: number,
    nItems: number,
    nnz: number,
    indptr: number,
    indices: number,
    rowOf: number,
    x: number,
    y: number,
    bias: number,
    samples: number,
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

/**
 * BPR epochs on the WebAssembly SIMD kernel. The interactions, both factor matrices and the
 * generator state are copied into the kernel's memory once; {@link BprWasmKernel.state} exposes
 * the factors as views of that memory, so nothing is copied between epochs.
 */
export class BprWasmKernel {
  private constructor(
    private readonly kernel: BprKernelExports,
    private readonly memory: WebAssembly.Memory,
    /** The same state as given to {@link BprWasmKernel.create}, its arrays now in kernel memory. */
    readonly state: BprState,
    private readonly at: Record<
      'indptr' | 'indices' | 'rowOf' | 'users' | 'items' | 'bias' | 'rng' | 'trained',
      number
    >,
  ) {}

  /** Null when the kernel is not built or `factors` is not a multiple of 4 (SIMD lanes). */
  static create(state: BprState): BprWasmKernel | null {
    const module = loadWasmModule('bpr-kernel');
    if (module === null || state.factors % 4 !== 0) return null;
    const plan = new WasmLayout();
    const at = {
      indptr: plan.reserve(state.indptr.byteLength),
      indices: plan.reserve(state.indices.byteLength),
      rowOf: plan.reserve(state.rowOf.byteLength),
      users: plan.reserve(state.users.byteLength),
      items: plan.reserve(state.items.byteLength),
      bias: state.itemBias === null ? 0 : plan.reserve(state.itemBias.byteLength),
      rng: plan.reserve(16),
      trained: plan.reserve(4),
    };
    if (plan.pages > 65536) return null;
    const memory = new WebAssembly.Memory({ initial: plan.pages });
    const kernel = new WebAssembly.Instance(module, { env: { memory } })
      .exports as unknown as BprKernelExports;
    const buffer = memory.buffer;
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
    return new BprWasmKernel(kernel, memory, inMemory, at);
  }

  /** Runs one epoch, advancing `rng` as the JavaScript kernel would; returns the mean loss. */
  epoch(e: BprEpoch, rng: Random): number {
    const s = this.state;
    const rngState = new Uint32Array(this.memory.buffer, this.at.rng, 4);
    rng.saveState(rngState);
    const lossSum = this.kernel.bprEpoch(
      s.factors,
      s.nUsers,
      s.nItems,
      s.indices.length,
      this.at.indptr,
      this.at.indices,
      this.at.rowOf,
      this.at.users,
      this.at.items,
      this.at.bias,
      e.samples,
      e.learningRate,
      e.reg,
      e.biasReg,
      e.sampling === 'user' ? 1 : 0,
      e.negatives,
      e.rejectPositives ? 1 : 0,
      this.at.rng,
      this.at.trained,
    );
    rng.loadState(rngState);
    const trained = new Int32Array(this.memory.buffer, this.at.trained, 1)[0];
    return trained === 0 ? 0 : lossSum / trained;
  }
}
