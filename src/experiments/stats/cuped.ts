import { InvalidArgumentError } from '../../core/errors.js';
import type { MeanSummary, MetricSums } from './types.js';

/** What {@link cuped} answers. */
export interface CupedResult {
  /** θ = Cov(Y, X) / Var(X) over both variants' units. */
  theta: number;
  /** The variants' adjusted means and variances, for `welchTest`. */
  control: MeanSummary;
  treatment: MeanSummary;
  /** 1 − Var(adjusted difference) / Var(plain difference): the share of variance CUPED removed. */
  varianceReduction: number;
}

interface Moments {
  n: number;
  meanY: number;
  meanX: number;
  varY: number;
  varX: number;
  cov: number;
}

function moments(s: MetricSums, field: string): Moments {
  const c = s.covariate;
  if (c === undefined) throw new InvalidArgumentError(`${field}.covariate`, 'is needed for CUPED');
  const n = s.units;
  if (!Number.isInteger(n) || n < 2)
    throw new InvalidArgumentError(`${field}.units`, `must be an integer ≥ 2, got ${n}`);
  const meanY = s.sum / n;
  const meanX = c.sum / n;
  return {
    n,
    meanY,
    meanX,
    varY: Math.max(0, (s.sumSquares - meanY * s.sum) / (n - 1)),
    varX: Math.max(0, (c.sumSquares - meanX * c.sum) / (n - 1)),
    cov: (c.sumProducts - meanX * s.sum) / (n - 1),
  };
}

/**
 * CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013): each unit's metric y is replaced by
 * y − θ(x − x̄), with x the same unit's pre-period covariate, θ = Cov(Y, X)/Var(X) estimated over
 * the units of both variants together and x̄ their pooled mean. Since x was measured before
 * assignment, the adjusted difference of means estimates the same effect with less variance. Per
 * variant the adjusted mean is ȳ − θ(x̄_v − x̄) and the adjusted variance
 * Var(Y) − 2θ Cov(X, Y) + θ² Var(X) (unbiased, within the variant). Var(X) = 0 gives θ = 0.
 */
export function cuped(control: MetricSums, treatment: MetricSums): CupedResult {
  const c = moments(control, 'control');
  const t = moments(treatment, 'treatment');
  const n = c.n + t.n;
  const sumY = control.sum + treatment.sum;
  const sumX = control.covariate!.sum + treatment.covariate!.sum;
  const meanX = sumX / n;
  const varX =
    (control.covariate!.sumSquares + treatment.covariate!.sumSquares - meanX * sumX) / (n - 1);
  const cov =
    (control.covariate!.sumProducts + treatment.covariate!.sumProducts - meanX * sumY) / (n - 1);
  const theta = varX > 0 ? cov / varX : 0;
  const adjust = (m: Moments): MeanSummary => ({
    units: m.n,
    mean: m.meanY - theta * (m.meanX - meanX),
    variance: Math.max(0, m.varY - 2 * theta * m.cov + theta * theta * m.varX),
  });
  const ac = adjust(c);
  const at = adjust(t);
  const plain = c.varY / c.n + t.varY / t.n;
  const adjusted = ac.variance / c.n + at.variance / t.n;
  return {
    theta,
    control: ac,
    treatment: at,
    varianceReduction: plain > 0 ? 1 - adjusted / plain : 0,
  };
}
