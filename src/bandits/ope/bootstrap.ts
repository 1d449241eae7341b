/**
 * Percentile bootstrap over rounds for estimators that are smooth functions of column sums of
 * per-row terms (every estimator in {@link estimatePolicyValue} is).
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { Random } from '../../core/random.js';

/**
 * Resamples rounds with replacement `resamples` times and calls `onSample(sums)` with the column
 * sums of `terms` over each resample, where `terms` is row-major `rounds × width` (each round's
 * row already summed over its impressions). `sums` is reused between calls.
 */
export function bootstrapRoundSums(
  terms: Float64Array,
  width: number,
  resamples: number,
  seed: number,
  onSample: (sums: Float64Array, resample: number) => void,
): void {
  const rounds = terms.length / width;
  if (!Number.isInteger(rounds))
    throw new InvalidArgumentError(
      'terms',
      `length ${terms.length} is not a multiple of width ${width}`,
    );
  const random = new Random(seed);
  const sums = new Float64Array(width);
  for (let b = 0; b < resamples; b++) {
    sums.fill(0);
    for (let i = 0; i < rounds; i++) {
      const at = random.nextInt(rounds) * width;
      for (let t = 0; t < width; t++) sums[t] += terms[at + t];
    }
    onSample(sums, b);
  }
}

/**
 * The central `level` percentile interval of `values` (sorted in place): the `(1 − level)/2` and
 * `(1 + level)/2` quantiles with linear interpolation between order statistics (numpy's default).
 * NaN values are left out; the interval is `[NaN, NaN]` when none remain.
 */
export function percentileInterval(values: Float64Array, level: number): [number, number] {
  if (!(level > 0 && level < 1))
    throw new InvalidArgumentError('level', `must be in (0, 1), got ${level}`);
  const finite = values.filter((v) => !Number.isNaN(v)).sort();
  if (finite.length === 0) return [Number.NaN, Number.NaN];
  return [quantile(finite, (1 - level) / 2), quantile(finite, (1 + level) / 2)];
}

function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}
