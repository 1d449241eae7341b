import { InvalidArgumentError } from '../../core/errors.js';
import { chiSquareSurvival } from '../../math/special-functions.js';

/** What {@link sampleRatioMismatch} answers. */
export interface SrmResult {
  chi2: number;
  df: number;
  pValue: number;
  /** Units each variant should have under the weights. */
  expected: number[];
}

/**
 * The sample-ratio-mismatch check: Pearson's χ² goodness of fit of the units per variant
 * against the configured weights (normalised), on k − 1 degrees of freedom, as
 * `scipy.stats.chisquare(counts, expected)`. A tiny p-value means assignment or logging loses or
 * duplicates units of some variant, which biases every comparison.
 */
export function sampleRatioMismatch(
  counts: readonly number[],
  weights: readonly number[],
): SrmResult {
  if (counts.length < 2 || counts.length !== weights.length)
    throw new InvalidArgumentError(
      'weights',
      `must give one weight per variant (${counts.length} counts, ${weights.length} weights), at least two`,
    );
  counts.forEach((c, j) => {
    if (!Number.isInteger(c) || c < 0)
      throw new InvalidArgumentError(`counts[${j}]`, `must be an integer ≥ 0, got ${c}`);
  });
  weights.forEach((w, j) => {
    if (!(w > 0) || !Number.isFinite(w))
      throw new InvalidArgumentError(`weights[${j}]`, `must be a number > 0, got ${w}`);
  });
  const total = counts.reduce((s, c) => s + c, 0);
  const weightSum = weights.reduce((s, w) => s + w, 0);
  const expected = weights.map((w) => (total * w) / weightSum);
  const df = counts.length - 1;
  if (total === 0) return { chi2: 0, df, pValue: 1, expected };
  const chi2 = counts.reduce((s, c, j) => s + (c - expected[j]) ** 2 / expected[j], 0);
  return { chi2, df, pValue: chiSquareSurvival(chi2, df), expected };
}
