import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.js';
import { loadWasmModule } from '../core/wasm.js';
import { DenseScorer } from './dense-scorer.js';

describe('DenseScorer', () => {
  it('has its WebAssembly SIMD kernel built', () => {
    expect(loadWasmModule('dense-kernel')).not.toBeNull();
  });

  // Width 12 takes the SIMD kernel (with its 4-lane tail), width 6 the JavaScript loop.
  for (const cols of [12, 6]) {
    it(`scores every row with its bias at width ${cols}`, () => {
      const rng = new Random(cols);
      const rows = 37;
      const m = rng.fillGaussian(new Float32Array(rows * cols), 1);
      const bias = rng.fillGaussian(new Float32Array(rows), 1);
      const queries = rng.fillGaussian(new Float32Array(3 * cols), 1);
      const scorer = new DenseScorer({ rows, cols, data: m }, bias);
      const out = new Float32Array(rows);
      scorer.score(queries, 2 * cols, out);
      for (let r = 0; r < rows; r++) {
        let expected = bias[r];
        for (let a = 0; a < cols; a++) expected += queries[2 * cols + a] * m[r * cols + a];
        expect(out[r]).toBeCloseTo(expected, 4);
      }
    });
  }
});
