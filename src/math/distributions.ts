/**
 * The probability distributions Thompson sampling needs: standard normal, gamma and beta variates
 * from a uniform source, and the normal and beta survival functions (for Rao–Blackwellised
 * propensity estimates). Plain numerics; the special functions come from `special-functions.ts`.
 */
import { logGamma, regularizedBetaComplement } from './special-functions.js';

/**
 * Standard normal variates from a uniform source (Marsaglia's polar method, both values of each
 * pair used). Holds a spare value, so make one per decision, never share one across decisions
 * whose randomness must be reproducible.
 */
export class Normals {
  #spare = 0;
  #hasSpare = false;

  constructor(private readonly random: () => number) {}

  next(): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return this.#spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.random() - 1;
      v = 2 * this.random() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spare = v * f;
    this.#hasSpare = true;
    return u * f;
  }
}

/** A Gamma(shape, 1) variate (Marsaglia–Tsang squeeze; shape < 1 through the boost Gamma(shape+1)·U^(1/shape)). */
export function gammaVariate(shape: number, normals: Normals, random: () => number): number {
  if (shape < 1) {
    let u = random();
    while (u === 0) u = random();
    return gammaVariate(shape + 1, normals, random) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normals.next();
    let v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const u = random();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) variate, as X/(X+Y) of two gamma variates. */
export function betaVariate(a: number, b: number, normals: Normals, random: () => number): number {
  const x = gammaVariate(a, normals, random);
  const y = gammaVariate(b, normals, random);
  const sum = x + y;
  return sum > 0 ? x / sum : a / (a + b);
}

/**
 * P(Z > z) for a standard normal Z, with relative error under 2e-7 (an exponential times a
 * Chebyshev-fitted polynomial for erfc, accurate far into the tails where 1 − Φ would cancel).
 */
export function normalSurvival(z: number): number {
  const x = z / Math.SQRT2;
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.5 * ax);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(-ax * ax + poly);
  return x >= 0 ? 0.5 * erfc : 1 - 0.5 * erfc;
}

/** ln Γ(x) for x > 0 (see `special-functions.ts`). */
export const lnGamma = logGamma;

/** Above this value of both parameters, the beta survival function uses the normal approximation (skewness < 0.07). */
const BETA_NORMAL_THRESHOLD = 1000;

/**
 * P(X > t) for X ~ Beta(a, b): the regularised incomplete beta function (`special-functions.ts`);
 * for a, b both above 1000 the normal approximation with the same mean and variance, which is
 * cheaper and accurate enough for propensities (skewness under 0.07).
 */
export function betaSurvival(t: number, a: number, b: number): number {
  if (t <= 0) return 1;
  if (t >= 1) return 0;
  if (a > BETA_NORMAL_THRESHOLD && b > BETA_NORMAL_THRESHOLD) {
    const sum = a + b;
    const mean = a / sum;
    const sd = Math.sqrt((a * b) / (sum * sum * (sum + 1)));
    return normalSurvival((t - mean) / sd);
  }
  return regularizedBetaComplement(t, a, b);
}
