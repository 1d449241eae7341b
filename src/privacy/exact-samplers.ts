/**
 * Exact samplers for integer noise, after Canonne, Kamath & Steinke, "The Discrete Gaussian for
 * Differential Privacy" (NeurIPS 2020). Every decision is a comparison of a uniform integer with a
 * rational, so the output distribution is exactly the one named, unlike floating-point noise whose
 * rounding leaks (Mironov 2012). Arithmetic is exact: plain numbers while every quantity stays
 * below 2^48 (well inside the 2^53 of exact doubles), BigInt beyond that.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { RandomSource } from './random-source.js';

/** A non-negative rational number, exact: `num / den` with `den > 0`. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/** Denominators up to this use the number path; times a loop counter ≤ 32 they stay ≤ 2^53. */
const FAST = 2 ** 48;
const TWO_53 = 2 ** 53;
const FAST_BIG = BigInt(FAST);

/** A uniform integer in [0, n) for a safe integer 1 ≤ n ≤ 2^53. */
function below(rng: RandomSource, n: number): number {
  return rng.uniformBelowNumber !== undefined
    ? rng.uniformBelowNumber(n)
    : Number(rng.uniformBelow(BigInt(n)));
}

function checkRational(value: Rational, field: string): void {
  if (typeof value?.num !== 'bigint' || typeof value.den !== 'bigint') {
    throw new InvalidArgumentError(field, 'must be a rational { num: bigint, den: bigint }');
  }
  if (value.den <= 0n) throw new InvalidArgumentError(field, 'denominator must be positive');
  if (value.num < 0n) throw new InvalidArgumentError(field, 'must be non-negative');
}

/**
 * Bernoulli(exp(−num/den)) for 0 ≤ num ≤ den ≤ 2^48 by the series method: count how many
 * Bernoulli(γ/k) successes come in a row (k = 1, 2, …); the count is even with probability e^−γ.
 * `k0` lets the BigInt version take over mid-series.
 */
function bernoulliExpUnitNumber(num: number, den: number, rng: RandomSource): boolean {
  let k = 1;
  for (;;) {
    const d = den * k;
    if (d > TWO_53) return bernoulliExpUnitBig(BigInt(num), BigInt(den), rng, k);
    if (below(rng, d) >= num) break;
    k++;
  }
  return (k & 1) === 1;
}

function bernoulliExpUnitBig(num: bigint, den: bigint, rng: RandomSource, k0 = 1): boolean {
  let k = BigInt(k0);
  while (rng.uniformBelow(den * k) < num) k++;
  return (k & 1n) === 1n;
}

/** Bernoulli(exp(−num/den)), num a safe integer ≥ 0, 1 ≤ den ≤ 2^48: e^−γ = (e^−1)^⌊γ⌋ · e^−{γ}. */
function bernoulliExpNumber(num: number, den: number, rng: RandomSource): boolean {
  const frac = num % den;
  const whole = (num - frac) / den;
  for (let i = 0; i < whole; i++) if (!bernoulliExpUnitNumber(1, 1, rng)) return false;
  return bernoulliExpUnitNumber(frac, den, rng);
}

function bernoulliExpBig(num: bigint, den: bigint, rng: RandomSource): boolean {
  if (den <= FAST_BIG && num <= FAST_BIG) return bernoulliExpNumber(Number(num), Number(den), rng);
  const whole = num / den;
  for (let i = 0n; i < whole; i++) if (!bernoulliExpUnitNumber(1, 1, rng)) return false;
  const frac = num % den;
  return den <= FAST_BIG
    ? bernoulliExpUnitNumber(Number(frac), Number(den), rng)
    : bernoulliExpUnitBig(frac, den, rng);
}

/**
 * True with probability exactly p, for a rational p ∈ [0, 1]: a uniform integer below the
 * denominator is compared with the numerator.
 * @throws InvalidArgumentError(`p`) when p is not a rational in [0, 1].
 */
export function sampleBernoulli(p: Rational, rng: RandomSource): boolean {
  checkRational(p, 'p');
  if (p.num > p.den) throw new InvalidArgumentError('p', 'must be at most 1');
  return rng.uniformBelow(p.den) < p.num;
}

/**
 * True with probability exactly exp(−γ), for a rational γ ≥ 0 (γ = 0 is always true).
 * @throws InvalidArgumentError(`gamma`) when γ is not a non-negative rational.
 */
export function sampleBernoulliExp(gamma: Rational, rng: RandomSource): boolean {
  checkRational(gamma, 'gamma');
  return bernoulliExpBig(gamma.num, gamma.den, rng);
}

/** A prepared sampler: one exact draw per call from the given source. */
export type IntegerSampler = (rng: RandomSource) => number;

/**
 * A sampler of the discrete Laplace distribution P(x) ∝ exp(−|x|/scale) on the integers, for a
 * rational scale > 0 (CKS Algorithm 2). Validation and set-up happen once, so a loop of draws pays
 * only for the draws. Draws beyond ±2^53 (a scale near 2^48 or more) are rounded to a double.
 * @throws InvalidArgumentError(`scale`) when the scale is not a positive rational.
 */
export function discreteLaplaceSampler(scale: Rational): IntegerSampler {
  checkRational(scale, 'scale');
  if (scale.num === 0n) throw new InvalidArgumentError('scale', 'must be positive');
  // In the paper's notation the scale is t/s.
  const t = scale.num;
  const s = scale.den;
  if (t <= FAST_BIG && s <= FAST_BIG) {
    const tn = Number(t);
    const sn = Number(s);
    return (rng) => {
      for (;;) {
        // X = U + t·V is geometric with ratio e^(−1/t), made from a uniform U below t kept with
        // probability e^(−U/t) and a geometric V of ratio e^−1 (so no e^(−1/t) ever appears).
        const u = below(rng, tn);
        if (!bernoulliExpUnitNumber(u, tn, rng)) continue;
        let v = 0;
        while (bernoulliExpUnitNumber(1, 1, rng)) v++;
        const x = u + tn * v;
        if (!Number.isSafeInteger(x)) return finishLaplaceBig(BigInt(u) + t * BigInt(v), s, rng);
        const y = (x - (x % sn)) / sn;
        const negative = below(rng, 2) === 1;
        // −0 and +0 would double the mass at 0, so a negative zero starts over.
        if (negative && y === 0) continue;
        return negative ? -y : y;
      }
    };
  }
  return (rng) => {
    for (;;) {
      const u = rng.uniformBelow(t);
      if (!bernoulliExpBig(u, t, rng)) continue;
      let v = 0n;
      while (bernoulliExpUnitNumber(1, 1, rng)) v++;
      const y = (u + t * v) / s;
      const negative = below(rng, 2) === 1;
      if (negative && y === 0n) continue;
      return Number(negative ? -y : y);
    }
  };
}

/** The last steps of the number path when X = U + t·V passed 2^53 (V ≥ 32: rare but possible). */
function finishLaplaceBig(x: bigint, s: bigint, rng: RandomSource): number {
  // x ≥ 2^53 and s ≤ 2^48, so y ≥ 32 > 0 and the negative-zero restart cannot happen.
  const y = x / s;
  return Number(below(rng, 2) === 1 ? -y : y);
}

/** ⌊√n⌋ for n ≥ 0, by Newton's method from a power of two above the root. */
export function integerSqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * A sampler of the discrete Gaussian P(x) ∝ exp(−x²/(2σ²)) on the integers, for a rational
 * σ² > 0 (CKS Algorithm 3): a discrete Laplace draw Y with scale t = ⌊σ⌋ + 1, kept with
 * probability exp(−(|Y| − σ²/t)²/(2σ²)). Validation and set-up happen once.
 * @throws InvalidArgumentError(`sigma2`) when σ² is not a positive rational.
 */
export function discreteGaussianSampler(sigma2: Rational): IntegerSampler {
  checkRational(sigma2, 'sigma2');
  if (sigma2.num === 0n) throw new InvalidArgumentError('sigma2', 'must be positive');
  const n = sigma2.num;
  const d = sigma2.den;
  // ⌊√(n/d)⌋ = ⌊√⌊n/d⌋⌋, so the integer root of the integer part is exact.
  const t = integerSqrt(n / d) + 1n;
  const laplace = discreteLaplaceSampler({ num: t, den: 1n });
  // γ = (|Y|·d·t − n)² / (2·n·d·t²): the acceptance exponent over a common denominator.
  const gammaDen = 2n * n * d * t * t;
  const dt = d * t;
  if (gammaDen <= FAST_BIG) {
    const gd = Number(gammaDen);
    const dtn = Number(dt);
    const nn = Number(n);
    return (rng) => {
      for (;;) {
        const y = laplace(rng);
        const ydt = Math.abs(y) * dtn;
        const a = ydt - nn;
        const gn = a * a;
        let keep: boolean;
        if (Number.isSafeInteger(ydt) && Number.isSafeInteger(gn)) {
          keep = bernoulliExpNumber(gn, gd, rng);
        } else {
          const ab = BigInt(Math.abs(y)) * dt - n;
          keep = bernoulliExpBig(ab * ab, gammaDen, rng);
        }
        if (keep) return y;
      }
    };
  }
  return (rng) => {
    for (;;) {
      const y = laplace(rng);
      const a = BigInt(Math.abs(y)) * dt - n;
      if (bernoulliExpBig(a * a, gammaDen, rng)) return y;
    }
  };
}

/**
 * One exact draw of the discrete Laplace with the given rational scale > 0; see
 * {@link discreteLaplaceSampler}, which is faster for many draws.
 */
export function sampleDiscreteLaplace(scale: Rational, rng: RandomSource): number {
  return discreteLaplaceSampler(scale)(rng);
}

/**
 * One exact draw of the discrete Gaussian with the given rational σ² > 0; see
 * {@link discreteGaussianSampler}, which is faster for many draws.
 */
export function sampleDiscreteGaussian(sigma2: Rational, rng: RandomSource): number {
  return discreteGaussianSampler(sigma2)(rng);
}
