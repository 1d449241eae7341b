import { InvalidArgumentError } from '../../core/errors.js';

/** Which difference a test looks for: `greater` means treatment > control. */
export type Alternative = 'two-sided' | 'greater' | 'less';

/** Units and how many of them converted. */
export interface ProportionSummary {
  units: number;
  conversions: number;
}

/** Units, mean and unbiased (n − 1) variance of a metric. */
export interface MeanSummary {
  units: number;
  mean: number;
  variance: number;
}

/** Sums over a variant's units of the metric y and, optionally, a pre-period covariate x. */
export interface MetricSums {
  units: number;
  sum: number;
  sumSquares: number;
  covariate?: { sum: number; sumSquares: number; sumProducts: number };
}

/** An estimate with its two-sided confidence interval. */
export interface Interval {
  estimate: number;
  ci: [number, number];
}

/** Options of the tests. */
export interface TestOptions {
  /** @defaultValue 'two-sided' */
  alternative?: Alternative;
  /** Level of the (two-sided) interval. @defaultValue 0.95 */
  confidence?: number;
}

/** The options with defaults applied and checked. */
export function testOptions(options: TestOptions = {}): Required<TestOptions> {
  const alternative = options.alternative ?? 'two-sided';
  if (alternative !== 'two-sided' && alternative !== 'greater' && alternative !== 'less')
    throw new InvalidArgumentError(
      'alternative',
      `must be two-sided, greater or less, got "${String(alternative)}"`,
    );
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidArgumentError('confidence', `must be in (0, 1), got ${confidence}`);
  return { alternative, confidence };
}

/**
 * Mean and unbiased variance from sums, as `(Σy² − (Σy)²/n)/(n − 1)`; a negative result of
 * rounding (all values equal) becomes 0. @throws InvalidArgumentError with fewer than two units.
 */
export function meanSummary(sums: MetricSums, field = 'units'): MeanSummary {
  const n = sums.units;
  if (!Number.isInteger(n) || n < 2)
    throw new InvalidArgumentError(
      field,
      `must be an integer ≥ 2 to estimate a variance, got ${n}`,
    );
  const mean = sums.sum / n;
  // Centred on the mean rather than the raw formula, the rounding error stays relative to the spread.
  const variance = Math.max(0, (sums.sumSquares - mean * sums.sum) / (n - 1));
  return { units: n, mean, variance };
}

/** Checks a mean summary, naming `field`. */
export function checkMeanSummary(s: MeanSummary, field: string): void {
  if (!Number.isInteger(s.units) || s.units < 2)
    throw new InvalidArgumentError(`${field}.units`, `must be an integer ≥ 2, got ${s.units}`);
  if (!Number.isFinite(s.mean))
    throw new InvalidArgumentError(`${field}.mean`, `must be finite, got ${s.mean}`);
  if (!(s.variance >= 0) || !Number.isFinite(s.variance))
    throw new InvalidArgumentError(
      `${field}.variance`,
      `must be a finite number ≥ 0, got ${s.variance}`,
    );
}

/** The p-value of a statistic with survival function `sf` (symmetric distribution) for the alternative. */
export function pValueOf(
  statistic: number,
  alternative: Alternative,
  sf: (x: number) => number,
): number {
  if (Number.isNaN(statistic)) return 1;
  if (alternative === 'greater') return sf(statistic);
  if (alternative === 'less') return sf(-statistic);
  return Math.min(1, 2 * sf(Math.abs(statistic)));
}
