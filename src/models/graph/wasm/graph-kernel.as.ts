// AssemblyScript source of the graph models' dense kernels (GraphSAGE, GAT), compiled to
// WebAssembly with SIMD by `npm run build:wasm`.

import { dot } from '../../wasm/simd.as';

/** out[r] = Σ x[a]·w[r·f + a] for every row r < rows: one dense layer's product for one input. */
export function matVec(f: i32, wPtr: usize, rows: i32, xPtr: usize, outPtr: usize): void {
  const fb = <usize>f << 2;
  for (let r = 0; r < rows; r++) store<f32>(outPtr + (<usize>r << 2), dot(wPtr + <usize>r * fb, xPtr, f));
}
