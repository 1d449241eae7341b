import { loadWasmModule, WasmLayout } from '../core/wasm.js';
import type { DenseMatrix } from './recommender.js';

interface DenseKernelExports {
  dotRows(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
}

/**
 * Scores a query vector against every row of a factor matrix (plus an optional per-row bias):
 * out[r] = bias[r] + q·m[r]. Uses the WebAssembly SIMD kernel when it is built and the width is a
 * multiple of 4, holding its own copy of the matrix; otherwise plain JavaScript.
 */
export class DenseScorer {
  private readonly kernel: DenseKernelExports | null = null;
  private readonly query: Float32Array | null = null;
  private readonly scores: Float32Array | null = null;
  private readonly at = { m: 0, q: 0, bias: 0, out: 0 };

  constructor(
    private readonly matrix: DenseMatrix,
    private readonly bias: Float32Array | null,
  ) {
    const module = loadWasmModule('dense-kernel');
    const { rows, cols } = matrix;
    if (module === null || cols % 4 !== 0 || rows === 0) return;
    const plan = new WasmLayout();
    this.at = {
      m: plan.reserve(rows * cols * 4),
      q: plan.reserve(cols * 4),
      bias: bias === null ? 0 : plan.reserve(rows * 4),
      out: plan.reserve(rows * 4),
    };
    if (plan.pages > 65536) return;
    const memory = new WebAssembly.Memory({ initial: plan.pages });
    this.kernel = new WebAssembly.Instance(module, { env: { memory } })
      .exports as unknown as DenseKernelExports;
    new Float32Array(memory.buffer, this.at.m, rows * cols).set(matrix.data);
    if (bias !== null) new Float32Array(memory.buffer, this.at.bias, rows).set(bias);
    this.query = new Float32Array(memory.buffer, this.at.q, cols);
    this.scores = new Float32Array(memory.buffer, this.at.out, rows);
  }

  /** Writes q·m[r] (+ bias[r]) for every row r into `out`; `q` is `cols` long at `offset`. */
  score(q: Float32Array, offset: number, out: Float32Array): void {
    const { rows, cols, data } = this.matrix;
    if (this.kernel !== null) {
      this.query!.set(q.subarray(offset, offset + cols));
      this.kernel.dotRows(cols, this.at.m, rows, this.at.q, this.at.bias, this.at.out);
      out.set(this.scores!);
      return;
    }
    const bias = this.bias;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = bias === null ? 0 : bias[r];
      for (let a = 0; a < cols; a++) s += q[offset + a] * data[o + a];
      out[r] = s;
    }
  }
}
