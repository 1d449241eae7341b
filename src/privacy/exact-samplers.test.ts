import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { chiSquareSurvival } from '../math/special-functions.js';
import {
  discreteGaussianSampler,
  discreteLaplaceSampler,
  type IntegerSampler,
  integerSqrt,
  sampleBernoulli,
  sampleBernoulliExp,
  sampleDiscreteGaussian,
  sampleDiscreteLaplace,
} from './exact-samplers.js';
import type { Rational } from './noise-mechanisms.js';
import { CryptoRandomSource, type RandomSource, SeededRandomSource } from './random-source.js';

// Every statistical check uses a p-value floor of 1e-6 (or ≥ 5.3 standard errors), so a correct
// sampler fails one of them by chance about once in a million runs.
const P_FLOOR = 1e-6;
const Z = 5.3;

const r = (num: number | bigint, den: number | bigint = 1): Rational => ({
  num: BigInt(num),
  den: BigInt(den),
});

/** pmf on [lo, hi] (index 0 is lo), normalised over all integers, from the test's own formulas. */
interface Pmf {
  lo: number;
  p: Float64Array;
}

function laplacePmf(t: number): Pmf {
  const q = Math.exp(-1 / t);
  const half = Math.ceil(t * 60) + 5;
  const p = new Float64Array(2 * half + 1);
  for (let i = 0; i < p.length; i++) p[i] = ((1 - q) / (1 + q)) * q ** Math.abs(i - half);
  return { lo: -half, p };
}

function gaussianPmf(sigma2: number): Pmf {
  const half = Math.ceil(Math.sqrt(sigma2) * 40) + 5;
  const p = new Float64Array(2 * half + 1);
  let z = 0;
  for (let i = 0; i < p.length; i++) z += p[i] = Math.exp(-((i - half) ** 2) / (2 * sigma2));
  for (let i = 0; i < p.length; i++) p[i] /= z;
  return { lo: -half, p };
}

function draw(sampler: IntegerSampler, n: number, rng: RandomSource): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = sampler(rng);
  return out;
}

/**
 * Pearson's χ² p-value of `draws` against `pmf`: consecutive values are merged into cells until
 * each expects ≥ 5 draws, the first and last cells taking the whole tails.
 */
function chiSquarePValue(draws: Int32Array, pmf: Pmf): number {
  const n = draws.length;
  const cellOf = new Int32Array(pmf.p.length);
  const expected: number[] = [];
  let acc = 0;
  for (let i = 0; i < pmf.p.length; i++) {
    acc += pmf.p[i] * n;
    cellOf[i] = expected.length;
    if (acc >= 5) {
      expected.push(acc);
      acc = 0;
    }
  }
  // The leftover right tail joins the last full cell.
  expected[expected.length - 1] += acc;
  for (let i = 0; i < pmf.p.length; i++) cellOf[i] = Math.min(cellOf[i], expected.length - 1);
  const observed = new Float64Array(expected.length);
  for (let k = 0; k < n; k++) {
    const i = Math.min(Math.max(draws[k] - pmf.lo, 0), pmf.p.length - 1);
    observed[cellOf[i]]++;
  }
  let x2 = 0;
  for (let c = 0; c < expected.length; c++) x2 += (observed[c] - expected[c]) ** 2 / expected[c];
  return chiSquareSurvival(x2, expected.length - 1);
}

/** Checks the sample mean (0) and variance against the pmf's, within Z standard errors. */
function expectMoments(draws: Int32Array, pmf: Pmf): void {
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < pmf.p.length; i++) {
    const x2 = (i + pmf.lo) ** 2;
    m2 += pmf.p[i] * x2;
    m4 += pmf.p[i] * x2 * x2;
  }
  const n = draws.length;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    s += draws[i];
    s2 += draws[i] * draws[i];
  }
  expect(Math.abs(s / n)).toBeLessThan(Z * Math.sqrt(m2 / n));
  expect(Math.abs(s2 / n - m2)).toBeLessThan(Z * Math.sqrt((m4 - m2 * m2) / n));
}

function expectBinomial(successes: number, n: number, p: number): void {
  expect(Math.abs(successes - n * p)).toBeLessThanOrEqual(Z * Math.sqrt(n * p * (1 - p)) + 1e-9);
}

const crypto = new CryptoRandomSource();

describe('random sources', () => {
  it('draws uniform integers below small, 2^32-sized and huge bounds', () => {
    const counts = new Float64Array(7);
    const n = 70_000;
    for (let i = 0; i < n; i++) counts[Number(crypto.uniformBelow(7n))]++;
    for (const c of counts) expectBinomial(c, n, 1 / 7);
    for (const bound of [1n, 2n ** 32n, 2n ** 32n + 1n, 3n * 2n ** 50n, 2n ** 53n, 10n ** 30n]) {
      let high = 0;
      for (let i = 0; i < 2000; i++) {
        const x = crypto.uniformBelow(bound);
        expect(x >= 0n && x < bound).toBe(true);
        if (2n * x >= bound) high++;
      }
      if (bound > 1n) expectBinomial(high, 2000, 0.5);
    }
    expect(() => crypto.uniformBelow(0n)).toThrow(RangeError);
  });

  it('repeats a seeded stream exactly', () => {
    const a = new SeededRandomSource(42);
    const b = new SeededRandomSource(42);
    for (let i = 0; i < 100; i++)
      expect(a.uniformBelow(10n ** 20n)).toBe(b.uniformBelow(10n ** 20n));
  });
});

describe('Bernoulli samplers', () => {
  it('draws Bernoulli(p) for rational p', () => {
    const n = 100_000;
    for (const [num, den] of [
      [1, 3],
      [0, 5],
      [7, 7],
      [2n ** 60n, 3n * 2n ** 60n],
    ] as const) {
      let k = 0;
      for (let i = 0; i < n; i++) if (sampleBernoulli(r(num, den), crypto)) k++;
      expectBinomial(k, n, Number(num) / Number(den));
    }
    expect(() => sampleBernoulli(r(3, 2), crypto)).toThrow(/^p: /);
  });

  it('draws Bernoulli(exp(−γ)) for γ = 0, in (0, 1], above 1 and with huge denominators', () => {
    const n = 200_000;
    const cases: [Rational, number][] = [
      [r(0), 1],
      [r(1, 3), Math.exp(-1 / 3)],
      [r(1), Math.exp(-1)],
      [r(5, 2), Math.exp(-2.5)],
      [r(7), Math.exp(-7)],
      [r(2n ** 70n, 2n ** 69n * 3n), Math.exp(-2 / 3)],
    ];
    for (const [gamma, p] of cases) {
      let k = 0;
      for (let i = 0; i < n; i++) if (sampleBernoulliExp(gamma, crypto)) k++;
      expectBinomial(k, n, p);
    }
    expect(() => sampleBernoulliExp(r(-1), crypto)).toThrow(InvalidArgumentError);
  });
});

describe('discrete Laplace', () => {
  const n = 200_000;
  for (const [num, den] of [
    [1, 1],
    [3, 2],
    [20, 1],
  ]) {
    it(`matches the pmf for t = ${num}/${den}`, () => {
      const pmf = laplacePmf(num / den);
      const draws = draw(discreteLaplaceSampler(r(num, den)), n, crypto);
      expect(chiSquarePValue(draws, pmf)).toBeGreaterThan(P_FLOOR);
      expectMoments(draws, pmf);
    });
  }

  it('takes the BigInt path for huge numerators and denominators, with the same law', () => {
    const big = 2n ** 60n;
    const draws = draw(discreteLaplaceSampler(r(3n * big, 2n * big)), 20_000, crypto);
    expect(chiSquarePValue(draws, laplacePmf(1.5))).toBeGreaterThan(P_FLOOR);
  });

  it('has power: draws for t × 1.2 are rejected against t', () => {
    const draws = draw(discreteLaplaceSampler(r(18, 10)), n, crypto);
    expect(chiSquarePValue(draws, laplacePmf(1.5))).toBeLessThan(P_FLOOR);
  });

  it('rejects a zero or negative scale, naming the field', () => {
    expect(() => sampleDiscreteLaplace(r(0), crypto)).toThrow(/^scale: /);
    expect(() => sampleDiscreteLaplace(r(1, 0), crypto)).toThrow(/^scale: /);
    expect(Number.isInteger(sampleDiscreteLaplace(r(5, 3), crypto))).toBe(true);
  });
});

describe('discrete Gaussian', () => {
  const n = 200_000;
  for (const [num, den] of [
    [1, 1],
    [1000, 3],
    [1, 4],
  ]) {
    it(`matches the pmf for σ² = ${num}/${den}`, () => {
      const pmf = gaussianPmf(num / den);
      const draws = draw(discreteGaussianSampler(r(num, den)), n, crypto);
      expect(chiSquarePValue(draws, pmf)).toBeGreaterThan(P_FLOOR);
      expectMoments(draws, pmf);
    });
  }

  it('takes the BigInt path for huge σ² fractions, with the same law', () => {
    const big = 2n ** 60n;
    const draws = draw(discreteGaussianSampler(r(10n * big, 3n * big)), 20_000, crypto);
    expect(chiSquarePValue(draws, gaussianPmf(10 / 3))).toBeGreaterThan(P_FLOOR);
  });

  it('has power: draws for σ² × 1.2 are rejected against σ²', () => {
    for (const [num, den] of [
      [1, 1],
      [1000, 3],
    ]) {
      const draws = draw(discreteGaussianSampler(r(num * 6, den * 5)), n, crypto);
      expect(chiSquarePValue(draws, gaussianPmf(num / den))).toBeLessThan(P_FLOOR);
    }
  });

  it('rejects a zero σ², naming the field, and computes integer square roots', () => {
    expect(() => sampleDiscreteGaussian(r(0), crypto)).toThrow(/^sigma2: /);
    expect(Number.isInteger(sampleDiscreteGaussian(r(9, 4), crypto))).toBe(true);
    for (const x of [0n, 1n, 3n, 4n, 15n, 16n, 17n, 10n ** 40n - 1n, 10n ** 40n]) {
      const s = integerSqrt(x);
      expect(s * s <= x && (s + 1n) * (s + 1n) > x).toBe(true);
    }
  });
});
