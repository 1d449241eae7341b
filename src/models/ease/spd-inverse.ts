import { choleskyFactor } from '../../core/cholesky.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { loadWasmModule, WASM_RESERVED_BYTES } from '../../core/wasm.js';

interface EaseKernelExports {
  spdInverse(a: number, w: number, n: number): number;
}

/** Largest linear memory a wasm32 instance may have: 65536 pages of 64 KiB. */
const MAX_WASM_BYTES = 65536 * 65536;

/** Which code inverted the matrix, and how long it took. */
export interface SpdInverseReport {
  backend: 'wasm' | 'js';
  seconds: number;
}

/**
 * Replaces the symmetric positive-definite n×n matrix `a` (row-major float64, both triangles
 * filled) with its inverse, through its Cholesky factor: n³ flops. Runs the WebAssembly SIMD
 * kernel (`build/wasm/ease-kernel.wasm`) when it is built and two n×n float64 buffers fit a
 * wasm32 memory (n ≤ ~15 800), otherwise the same algorithm in JavaScript. A matrix that is not
 * positive definite is an InvalidArgumentError on `lambda`.
 */
export function invertSpd(a: Float64Array, n: number): SpdInverseReport {
  if (a.length !== n * n) throw new RangeError(`invertSpd: ${a.length} values for ${n}×${n}`);
  const started = performance.now();
  const bytes = n * n * 8;
  const module = loadWasmModule('ease-kernel');
  let backend: SpdInverseReport['backend'] = 'js';
  let failed: number;
  if (module !== null && WASM_RESERVED_BYTES + 2 * bytes <= MAX_WASM_BYTES && n > 0) {
    const pages = Math.ceil((WASM_RESERVED_BYTES + 2 * bytes) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
    const kernel = new WebAssembly.Instance(module, { env: { memory } })
      .exports as unknown as EaseKernelExports;
    const view = new Float64Array(memory.buffer, WASM_RESERVED_BYTES, n * n);
    view.set(a);
    failed = kernel.spdInverse(WASM_RESERVED_BYTES, WASM_RESERVED_BYTES + bytes, n);
    a.set(view);
    backend = 'wasm';
  } else {
    failed = spdInverseJs(a, n);
  }
  if (failed !== 0)
    throw new InvalidArgumentError(
      'lambda',
      `the regularised Gram matrix is not positive definite (row ${failed - 1}); raise it`,
    );
  return { backend, seconds: (performance.now() - started) / 1000 };
}

/** The JavaScript twin of the kernel's `spdInverse` (same phases, same result up to rounding). */
export function spdInverseJs(a: Float64Array, n: number): number {
  const failed = choleskyFactor(a, n);
  if (failed !== 0) return failed;
  const w = new Float64Array(n * n);
  transpose(a, w, n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = i; j >= 0; j--) {
      const rj = j * n;
      let s = j === i ? 1 : 0;
      for (let k = j + 1; k <= i; k++) s -= a[ri + k] * w[rj + k];
      a[ri + j] = s / w[rj + j];
    }
    a.fill(0, ri + i + 1, ri + n);
  }
  transpose(a, w, n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let p = 0;
      for (let k = j; k < n; k++) p += w[i * n + k] * w[j * n + k];
      a[i * n + j] = p;
      a[j * n + i] = p;
    }
  }
  return 0;
}

function transpose(src: Float64Array, dst: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dst[j * n + i] = src[i * n + j];
}
