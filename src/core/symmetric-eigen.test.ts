import { describe, expect, it } from 'vitest';
import { Random } from './random.js';
import { symmetricEigen } from './symmetric-eigen.js';

describe('symmetricEigen', () => {
  it('reconstructs a random symmetric matrix from orthonormal eigenvectors', () => {
    const n = 24;
    const rng = new Random(3);
    const b = rng.fillGaussian(new Float32Array(n * n), 1);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    const { values, vectors: q } = symmetricEigen(a, n);
    let worst = 0;
    let worstOrtho = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        let o = 0;
        for (let k = 0; k < n; k++) {
          s += q[i * n + k] * values[k] * q[j * n + k];
          o += q[k * n + i] * q[k * n + j];
        }
        worst = Math.max(worst, Math.abs(s - a[i * n + j]));
        worstOrtho = Math.max(worstOrtho, Math.abs(o - (i === j ? 1 : 0)));
      }
    expect(worst).toBeLessThan(1e-10);
    expect(worstOrtho).toBeLessThan(1e-12);
    // Distinct eigenvalues with both signs (the matrix is indefinite).
    expect(Math.min(...values)).toBeLessThan(0);
    expect(Math.max(...values)).toBeGreaterThan(0);
  });
});
