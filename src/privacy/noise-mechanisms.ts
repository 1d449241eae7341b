/**
 * Integer noise for differentially private aggregates, calibrated to a budget and a sensitivity,
 * drawn by the exact samplers of `exact-samplers.ts` from `node:crypto` randomness.
 */

/** Which noise: discrete Laplace (pure ε-DP, L1 sensitivity) or discrete Gaussian (ρ-zCDP, L2). */
export type NoiseKind = 'discrete-laplace' | 'discrete-gaussian';

/** A non-negative rational number, exact: `num / den` with `den > 0`. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * Noise calibrated by {@link calibrateNoise}: discrete Laplace with scale t (P(x) ∝ exp(−|x|/t)),
 * or discrete Gaussian with variance parameter σ² (P(x) ∝ exp(−x²/2σ²)).
 */
export interface NoiseMechanism {
  readonly kind: NoiseKind;
  /** Laplace: t = Δ₁/ε. Gaussian: σ² = Δ₂²/(2ρ). Exact. */
  readonly parameter: Rational;
  /** What one release of it spends: `epsilon` (Laplace) or `rho` (Gaussian). */
  readonly spend: { epsilon?: number; rho?: number };
  /** Standard deviation of one draw (≤ σ for the discrete Gaussian). */
  readonly standardDeviation: number;
}

/** What {@link calibrateNoise} needs. */
export interface NoiseCalibration {
  kind: NoiseKind;
  /** Pure DP budget of this measure (Laplace only), exact. */
  epsilon?: Rational;
  /** zCDP budget of this measure (Gaussian only), exact. */
  rho?: Rational;
  /** L1 sensitivity (Laplace): the most one privacy unit changes the sum of |differences|. Integer ≥ 1. */
  l1Sensitivity?: number;
  /** Squared L2 sensitivity (Gaussian): the most one unit changes Σ difference². Integer ≥ 1. */
  l2SensitivitySquared?: number;
}

/**
 * The exact noise for a measure's budget and sensitivity.
 * @throws InvalidArgumentError naming the field: Laplace without `epsilon`, Gaussian without `rho`,
 *   a budget ≤ 0, a sensitivity that is not a positive integer.
 */
export function calibrateNoise(calibration: NoiseCalibration): NoiseMechanism {
  void calibration;
  throw new Error('not implemented');
}

/** `values[i] + noise` for every i, each noise drawn independently and exactly; a new array. */
export function addNoise(values: Float64Array, mechanism: NoiseMechanism): Float64Array {
  void values;
  void mechanism;
  throw new Error('not implemented');
}

/** P(noise ≥ t) for an integer t, computed from the exact distribution (to double precision). */
export function noiseTail(mechanism: NoiseMechanism, t: number): number {
  void mechanism;
  void t;
  throw new Error('not implemented');
}

/**
 * The smallest integer τ with P(noise ≥ τ) ≤ p: e.g. the threshold that keeps a key with no rows
 * (true count 0) from being released with more than probability p.
 */
export function noiseUpperQuantile(mechanism: NoiseMechanism, p: number): number {
  void mechanism;
  void p;
  throw new Error('not implemented');
}

/**
 * An exact rational from a decimal: `0.015` → 3/200, `'1e-3'` → 1/1000 (a number is read through
 * its shortest decimal form, so 0.1 is 1/10, not the binary double).
 * @throws InvalidArgumentError naming `field` for NaN, infinities or a negative value.
 */
export function toRational(value: number | string, field = 'value'): Rational {
  void value;
  void field;
  throw new Error('not implemented');
}
