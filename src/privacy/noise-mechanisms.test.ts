import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import {
  addNoise,
  calibrateNoise,
  type NoiseMechanism,
  noiseTail,
  noiseUpperQuantile,
  type Rational,
  rationalToNumber,
  toRational,
} from './noise-mechanisms.js';

const r = (num: number | bigint, den: number | bigint = 1): Rational => ({
  num: BigInt(num),
  den: BigInt(den),
});

/** P(noise = x) from the definitions, unnormalised, and its normaliser over a wide range. */
function pmf(mechanism: NoiseMechanism): (x: number) => number {
  const a = rationalToNumber(mechanism.parameter);
  const w =
    mechanism.kind === 'discrete-laplace'
      ? (x: number) => Math.exp(-Math.abs(x) / a)
      : (x: number) => Math.exp(-(x * x) / (2 * a));
  let z = 0;
  for (let x = -20_000; x <= 20_000; x++) z += w(x);
  return (x) => w(x) / z;
}

function tailBySum(mechanism: NoiseMechanism, t: number): number {
  const p = pmf(mechanism);
  let s = 0;
  for (let x = 20_000; x >= t; x--) s += p(x);
  return s;
}

function invalid(fn: () => unknown, field: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).field).toBe(field);
  expect((error as InvalidArgumentError).message.startsWith(`${field}: `)).toBe(true);
}

const laplace4 = calibrateNoise({
  kind: 'discrete-laplace',
  epsilon: toRational(0.5),
  l1Sensitivity: 2,
});
const gaussian = calibrateNoise({
  kind: 'discrete-gaussian',
  rho: toRational('0.015'),
  l2SensitivitySquared: 10,
});

describe('calibrateNoise', () => {
  it('calibrates the discrete Laplace: t = Δ₁/ε exactly', () => {
    expect(laplace4.kind).toBe('discrete-laplace');
    expect(laplace4.parameter).toEqual(r(4));
    expect(laplace4.spend).toEqual({ epsilon: 0.5 });
    // Var = 2q/(1 − q)² with q = e^(−1/4).
    const q = Math.exp(-0.25);
    expect(laplace4.standardDeviation).toBeCloseTo(Math.sqrt(2 * q) / (1 - q), 10);
    const third = calibrateNoise({ kind: 'discrete-laplace', epsilon: r(3), l1Sensitivity: 1 });
    expect(third.parameter).toEqual(r(1, 3));
  });

  it('calibrates the discrete Gaussian: σ² = Δ₂²/(2ρ) exactly', () => {
    // 10 / (2 · 3/200) = 2000/6 = 1000/3.
    expect(gaussian.parameter).toEqual(r(1000, 3));
    expect(gaussian.spend).toEqual({ rho: 0.015 });
    expect(gaussian.standardDeviation).toBeCloseTo(Math.sqrt(1000 / 3), 8);
    // For small σ the discrete Gaussian is narrower than σ; summed from the pmf by hand here.
    const small = calibrateNoise({ kind: 'discrete-gaussian', rho: r(2), l2SensitivitySquared: 1 });
    expect(small.parameter).toEqual(r(1, 4));
    const p = pmf(small);
    let v = 0;
    for (let x = -20; x <= 20; x++) v += x * x * p(x);
    expect(small.standardDeviation).toBeCloseTo(Math.sqrt(v), 12);
    expect(small.standardDeviation).toBeLessThan(0.5);
  });

  it('names the field at fault', () => {
    invalid(() => calibrateNoise({ kind: 'discrete-laplace', l1Sensitivity: 1 }), 'epsilon');
    invalid(() => calibrateNoise({ kind: 'discrete-gaussian', l2SensitivitySquared: 1 }), 'rho');
    invalid(
      () => calibrateNoise({ kind: 'discrete-laplace', epsilon: r(0), l1Sensitivity: 1 }),
      'epsilon',
    );
    invalid(
      () => calibrateNoise({ kind: 'discrete-laplace', epsilon: r(1), l1Sensitivity: 1.5 }),
      'l1Sensitivity',
    );
    invalid(() => calibrateNoise({ kind: 'discrete-laplace', epsilon: r(1) }), 'l1Sensitivity');
    invalid(
      () => calibrateNoise({ kind: 'discrete-gaussian', rho: r(1), l2SensitivitySquared: 0 }),
      'l2SensitivitySquared',
    );
    invalid(() => calibrateNoise({ kind: 'laplace' as never, epsilon: r(1) }), 'kind');
  });
});

describe('toRational', () => {
  it('reads decimals exactly, in lowest terms', () => {
    expect(toRational(0.015)).toEqual(r(3, 200));
    expect(toRational('1e-3')).toEqual(r(1, 1000));
    expect(toRational(1e-6)).toEqual(r(1, 1_000_000));
    expect(toRational(0.1)).toEqual(r(1, 10));
    expect(toRational(2)).toEqual(r(2));
    expect(toRational('2.50')).toEqual(r(5, 2));
    expect(toRational(' .5 ')).toEqual(r(1, 2));
    expect(toRational('3.')).toEqual(r(3));
    expect(toRational('1.5E+2')).toEqual(r(150));
    expect(toRational(1.5e21)).toEqual(r(1_500_000_000_000_000_000_000n));
    expect(toRational(0)).toEqual(r(0));
    expect(toRational(-0)).toEqual(r(0));
    expect(toRational('123.456e-10')).toEqual(r(1929, 156_250_000_000));
  });

  it('rejects NaN, infinities, negatives and garbage, naming the field', () => {
    invalid(() => toRational(Number.NaN, 'epsilon'), 'epsilon');
    invalid(() => toRational(Number.POSITIVE_INFINITY, 'rho'), 'rho');
    invalid(() => toRational(-0.5, 'rho'), 'rho');
    invalid(() => toRational('-1e-3'), 'value');
    invalid(() => toRational('abc'), 'value');
    invalid(() => toRational('.'), 'value');
    invalid(() => toRational('1e'), 'value');
    invalid(() => toRational('Infinity'), 'value');
    invalid(() => toRational('1e99999'), 'value');
  });
});

describe('noise tails and quantiles', () => {
  const small = calibrateNoise({
    kind: 'discrete-gaussian',
    rho: r(1, 2),
    l2SensitivitySquared: 1,
  });
  for (const [name, mechanism] of [
    ['Laplace t = 4', laplace4],
    ['Gaussian σ² = 1000/3', gaussian],
    ['Gaussian σ² = 1', small],
  ] as const) {
    it(`agrees with sums of the pmf for ${name}`, () => {
      for (const t of [-40, -3, -1, 0, 1, 2, 5, 17, 60]) {
        const expected = tailBySum(mechanism, t);
        const actual = noiseTail(mechanism, t);
        expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12 * expected + 1e-300);
      }
      for (const p of [0.5, 0.1, 1e-3, 1e-6, 1e-9]) {
        const tau = noiseUpperQuantile(mechanism, p);
        expect(noiseTail(mechanism, tau)).toBeLessThanOrEqual(p);
        expect(noiseTail(mechanism, tau - 1)).toBeGreaterThan(p);
      }
      expect(noiseUpperQuantile(mechanism, 0.99)).toBeLessThan(0);
    });
  }

  it('gives the Laplace tail in closed form: P(X ≥ k) = q^k/(1 + q)', () => {
    const q = Math.exp(-0.25);
    expect(noiseTail(laplace4, 3)).toBeCloseTo(q ** 3 / (1 + q), 14);
    expect(noiseTail(laplace4, 0)).toBeCloseTo(1 / (1 + q), 14);
  });

  it('uses Euler–Maclaurin for σ above 1e5, continuous with the normal tail', () => {
    // σ² = 10^12: the discrete tail is the normal one to within O(1/σ).
    const wide = calibrateNoise({
      kind: 'discrete-gaussian',
      rho: r(1, 2 * 10 ** 12),
      l2SensitivitySquared: 1,
    });
    expect(wide.standardDeviation).toBe(10 ** 6);
    expect(noiseTail(wide, 0)).toBeCloseTo(0.5 + 0.5 / (Math.sqrt(2 * Math.PI) * 10 ** 6), 12);
    expect(noiseTail(wide, 10 ** 6)).toBeCloseTo(0.15865525393145707, 6);
    expect(noiseTail(wide, -(10 ** 6) + 1)).toBeCloseTo(1 - 0.15865525393145707, 6);
    expect(rationalToNumber(r(3n * 2n ** 80n, 2n ** 81n))).toBe(1.5);
  });

  it('rejects p outside (0, 1) and a non-integer t', () => {
    invalid(() => noiseUpperQuantile(laplace4, 0), 'p');
    invalid(() => noiseUpperQuantile(laplace4, 1), 'p');
    invalid(() => noiseTail(laplace4, 0.5), 't');
  });
});

describe('addNoise', () => {
  it('adds independent integer noise of the calibrated spread and leaves the input alone', () => {
    const n = 70_000;
    const values = new Float64Array(n).fill(100);
    for (const mechanism of [laplace4, gaussian]) {
      const out = addNoise(values, mechanism);
      expect(out).not.toBe(values);
      expect(values[0]).toBe(100);
      let s = 0;
      let s2 = 0;
      let integers = 0;
      for (let i = 0; i < n; i++) {
        const noise = out[i] - 100;
        if (Number.isInteger(noise)) integers++;
        s += noise;
        s2 += noise * noise;
      }
      expect(integers).toBe(n);
      const sd = mechanism.standardDeviation;
      // Mean within 5.3 standard errors; the variance within 5% (its standard error is < 1%).
      expect(Math.abs(s / n)).toBeLessThan((5.3 * sd) / Math.sqrt(n));
      expect(s2 / n / (sd * sd)).toBeGreaterThan(0.95);
      expect(s2 / n / (sd * sd)).toBeLessThan(1.05);
    }
    expect(addNoise(new Float64Array(0), gaussian).length).toBe(0);
  });
});
