import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { discreteGaussianSampler, discreteLaplaceSampler } from './exact-samplers.js';
import { calibrateNoise, type Rational } from './noise-mechanisms.js';
import { clopperPearsonLower, clopperPearsonUpper, testPrivacyLoss } from './privacy-tester.js';
import { CryptoRandomSource } from './random-source.js';

// Every verdict below is wrong with probability ≤ 1e-6: the tester's own false-alarm bound for the
// "not flagged" cases, and violations many standard errors beyond the threshold for the others.
const rng = new CryptoRandomSource();
const r = (num: number, den = 1): Rational => ({ num: BigInt(num), den: BigInt(den) });

/** A counting mechanism: the true answer on D or D′ plus exact integer noise. */
function counting(values: [number, number], noise: (rng: CryptoRandomSource) => number) {
  return (dataset: 0 | 1): number => values[dataset] + noise(rng);
}

describe('testPrivacyLoss on the discrete Laplace', () => {
  const laplace = calibrateNoise({ kind: 'discrete-laplace', epsilon: r(1), l1Sensitivity: 1 });
  const noise = discreteLaplaceSampler(laplace.parameter);

  it('does not flag the ε = 1 counting mechanism at ε = 1, and sees most of its loss', () => {
    const result = testPrivacyLoss(counting([0, 1], noise), { samples: 100_000, epsilon: 1 });
    expect(result.violated).toBe(false);
    expect(result.samples).toBe(100_000);
    // The true loss is exactly 1 on every tail beyond the shift; the bound must see > 0.7 of it.
    expect(result.epsilonLowerBound).toBeGreaterThan(0.7);
    expect(result.epsilonLowerBound).toBeLessThanOrEqual(1);
    expect(result.epsilonEstimate).toBeGreaterThan(0.9);
    expect(result.worstEvent).toMatch(/^y (=|<=|>=) -?\d+, (D vs D′|D′ vs D)$/);
  });

  it('flags noise for sensitivity 1 run on a sum of sensitivity 3', () => {
    const result = testPrivacyLoss(counting([0, 3], noise), { samples: 50_000, epsilon: 1 });
    expect(result.violated).toBe(true);
    expect(result.epsilonLowerBound).toBeGreaterThan(2);
    expect(result.epsilonLowerBound).toBeLessThanOrEqual(3);
  });
});

describe('testPrivacyLoss on the discrete Gaussian', () => {
  const rho = 0.5;
  const delta = 1e-3;
  // ρ-zCDP implies (ρ + 2√(ρ ln(1/δ)), δ)-DP for every δ > 0.
  const epsilon = rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
  const gaussian = calibrateNoise({
    kind: 'discrete-gaussian',
    rho: r(1, 2),
    l2SensitivitySquared: 1,
  });
  const noise = discreteGaussianSampler(gaussian.parameter);

  it('does not flag the ρ = 0.5 mechanism at the (ε, δ) that zCDP implies', () => {
    const result = testPrivacyLoss(counting([0, 1], noise), {
      samples: 100_000,
      epsilon,
      delta,
    });
    expect(result.violated).toBe(false);
    expect(result.epsilonLowerBound).toBeLessThan(epsilon);
  });

  it('flags σ² calibrated for Δ₂ = 1 run on values 0 vs 4', () => {
    const result = testPrivacyLoss(counting([0, 4], noise), {
      samples: 50_000,
      epsilon,
      delta,
    });
    expect(result.violated).toBe(true);
    expect(result.epsilonLowerBound).toBeGreaterThan(epsilon);
  });
});

describe('testPrivacyLoss, edge cases', () => {
  it('does not flag identical datasets even at ε = 0', () => {
    const noise = discreteLaplaceSampler(r(2));
    const result = testPrivacyLoss(counting([5, 5], noise), { samples: 20_000, epsilon: 0 });
    expect(result.violated).toBe(false);
  });

  it('flags a mechanism that reveals the dataset outright, with few samples', () => {
    const result = testPrivacyLoss((dataset) => dataset, { samples: 2000, epsilon: 3 });
    expect(result.violated).toBe(true);
    expect(result.epsilonEstimate).toBe(Number.POSITIVE_INFINITY);
  });

  it('names the option at fault', () => {
    const run = (dataset: 0 | 1): number => dataset;
    const field = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        if (e instanceof InvalidArgumentError) return e.field;
      }
      return '';
    };
    expect(field(() => testPrivacyLoss(run, { samples: 3, epsilon: 1 }))).toBe('samples');
    expect(field(() => testPrivacyLoss(run, { samples: 10, epsilon: -1 }))).toBe('epsilon');
    expect(field(() => testPrivacyLoss(run, { samples: 10, epsilon: 1, delta: 1 }))).toBe('delta');
    expect(
      field(() => testPrivacyLoss(run, { samples: 10, epsilon: 1, failureProbability: 0 })),
    ).toBe('failureProbability');
    expect(field(() => testPrivacyLoss(() => 0.5, { samples: 10, epsilon: 1 }))).toBe('run');
  });

  it('computes Clopper–Pearson bounds that match their closed forms at the ends', () => {
    // k = n: the lower bound is β^(1/n); k = 0: the upper bound is 1 − β^(1/n).
    expect(clopperPearsonLower(100, 100, 0.01)).toBeCloseTo(0.01 ** 0.01, 8);
    expect(clopperPearsonUpper(0, 100, 0.01)).toBeCloseTo(1 - 0.01 ** 0.01, 8);
    expect(clopperPearsonLower(0, 100, 0.01)).toBe(0);
    expect(clopperPearsonUpper(100, 100, 0.01)).toBe(1);
    const lo = clopperPearsonLower(30, 100, 1e-6);
    const hi = clopperPearsonUpper(30, 100, 1e-6);
    expect(lo).toBeLessThan(0.3);
    expect(hi).toBeGreaterThan(0.3);
    expect(lo).toBeGreaterThan(0.1);
    expect(hi).toBeLessThan(0.55);
  });
});
