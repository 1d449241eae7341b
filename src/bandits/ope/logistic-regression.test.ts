import { describe, expect, it } from 'vitest';
import { fitLogisticRegression, linearPredict, type SparseRows } from './logistic-regression.js';

/**
 * 60 rows, 3 features, built by formula so Python can rebuild them:
 *   x0 = ((7i) mod 11)/10 − 0.5,  x1 = [i mod 3 = 0],  x2 = ((5i) mod 13)/13,
 *   y  = [x0 + 0.5·x1 + ((17i) mod 10)/10 − 0.5 > 0.2]
 * Reference coefficients: scikit-learn 1.2.1 (Debian python3-sklearn), computed offline with
 *   LogisticRegression(C=1/l2, tol=1e-12, max_iter=100000, solver='lbfgs')   and   Ridge(alpha=l2)
 * (lbfgs and newton-cg agree with each other to 5e-7).
 */
const SKLEARN = {
  logit: {
    0.5: {
      coef: [3.4751496785351184, 2.372029831709825, 0.12967886742688825],
      intercept: -0.9146436645862615,
    },
    2: {
      coef: [1.666090658939307, 1.4196508681792694, 0.05602526442582274],
      intercept: -0.564916111305592,
    },
  },
  identity: {
    0.5: {
      coef: [0.8243576379717726, 0.4904806851681888, 0.047628235503781736],
      intercept: 0.2964225178333877,
    },
    2: {
      coef: [0.6746509304862287, 0.4489848020136939, 0.03383579683075202],
      intercept: 0.31688741360372563,
    },
  },
} as const;

function fixture(): { x: SparseRows; y: Float64Array } {
  const n = 60;
  const indptr = new Int32Array(n + 1);
  const indices: number[] = [];
  const values: number[] = [];
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = [((i * 7) % 11) / 10 - 0.5, i % 3 === 0 ? 1 : 0, ((i * 5) % 13) / 13];
    row.forEach((v, j) => {
      if (v !== 0) {
        indices.push(j);
        values.push(v);
      }
    });
    indptr[i + 1] = indices.length;
    y[i] = row[0] + 0.5 * row[1] + ((i * 17) % 10) / 10 - 0.5 > 0.2 ? 1 : 0;
  }
  return {
    x: {
      rows: n,
      cols: 3,
      indptr,
      indices: Int32Array.from(indices),
      values: Float64Array.from(values),
    },
    y,
  };
}

describe('fitLogisticRegression', () => {
  for (const link of ['logit', 'identity'] as const) {
    for (const l2 of [0.5, 2] as const) {
      it(`reproduces scikit-learn's ${link === 'logit' ? 'LogisticRegression' : 'Ridge'} at l2 = ${l2}`, () => {
        const { x, y } = fixture();
        const model = fitLogisticRegression(x, y, { link, l2 });
        const ref = SKLEARN[link][l2];
        expect(model.converged).toBe(true);
        model.weights.forEach((w, j) => expect(w).toBeCloseTo(ref.coef[j], 5));
        expect(model.intercept).toBeCloseTo(ref.intercept, 5);
      });
    }
  }

  it('predicts probabilities through the logistic link, and stays put on a constant target', () => {
    const { x, y } = fixture();
    const model = fitLogisticRegression(x, y, { l2: 1 });
    for (let i = 0; i < x.rows; i++) {
      const p = linearPredict(model, x.indices, x.values, x.indptr[i], x.indptr[i + 1]);
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThan(1);
    }
    const zeros = fitLogisticRegression(x, new Float64Array(x.rows), { l2: 1 });
    expect(linearPredict(zeros, x.indices, x.values, 0, 0)).toBeLessThan(1e-3);
  });

  it('refuses logistic targets outside [0, 1] and mismatched lengths', () => {
    const { x, y } = fixture();
    const bad = y.slice();
    bad[3] = 2;
    expect(() => fitLogisticRegression(x, bad)).toThrow(
      /y: row 3: a logistic target must be in \[0, 1\], got 2/,
    );
    expect(() => fitLogisticRegression(x, y.subarray(1))).toThrow(/y: expected 60 targets, got 59/);
    expect(() => fitLogisticRegression(x, y, { l2: -1 })).toThrow(/l2: must be non-negative/);
  });
});
