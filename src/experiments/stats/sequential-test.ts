import { InvalidArgumentError } from '../../core/errors.js';
import { checkMeanSummary, type MeanSummary } from './types.js';

/**
 * Default mixing scale τ of {@link sequentialTest}, in standard deviations of a unit's metric:
 * the test is most powerful against effects near τ, and a twentieth of a standard deviation is
 * the size of a good result in online experiments (a 12% → 12.6% conversion rate is 0.018 sd,
 * +2% revenue about 0.01–0.05 sd), while smaller τ costs little power on larger effects.
 */
export const DEFAULT_TAU_SD = 0.05;

/** Options of the sequential test. */
export interface SequentialOptions {
  /** Error rate the p-value and the confidence sequence hold to, over every look. @defaultValue 0.05 */
  alpha?: number;
  /** Mixing scale τ in the metric's units. @defaultValue {@link DEFAULT_TAU_SD} × the pooled standard deviation */
  tau?: number;
}

/** What {@link sequentialTest} answers. */
export interface SequentialResult {
  /** The mixture likelihood ratio Λ. */
  lambda: number;
  /** Always-valid p-value of this look: min(1, 1/Λ). */
  pValue: number;
  /** Confidence sequence for mean_t − mean_c at 1 − alpha: valid at every look at once. */
  ci: [number, number];
  tau: number;
}

function scale(
  control: MeanSummary,
  treatment: MeanSummary,
  options: SequentialOptions,
): { alpha: number; tau: number } {
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1))
    throw new InvalidArgumentError('alpha', `must be in (0, 1), got ${alpha}`);
  let tau = options.tau;
  if (tau === undefined) {
    const pooled =
      ((control.units - 1) * control.variance + (treatment.units - 1) * treatment.variance) /
      (control.units + treatment.units - 2);
    tau = DEFAULT_TAU_SD * Math.sqrt(pooled);
  } else if (!(tau > 0) || !Number.isFinite(tau))
    throw new InvalidArgumentError('tau', `must be a number > 0, got ${tau}`);
  return { alpha, tau };
}

/**
 * The mixture sequential probability ratio test for a difference of means (Johari, Koomen,
 * Pekelis & Walsh, "Always valid inference", Operations Research 2022), with the normal
 * approximation and a N(0, τ²) mixture over the effect θ: with θ̂ = m_t − m_c and
 * V = v_t/n_t + v_c/n_c,
 *   Λ = sqrt(V/(V+τ²)) · exp(θ̂²τ² / (2V(V+τ²))),
 * the always-valid p-value is min(1, 1/Λ), and the confidence sequence
 *   θ̂ ± sqrt(V(V+τ²)/τ² · (2 ln(1/α) + ln((V+τ²)/V))).
 * Unlike a fixed-horizon test, P(the p-value ever drops below α) ≤ α however often one looks, so
 * the experiment may be watched daily and stopped when it crosses. Two-sided. Rates are means of
 * 0/1 values. With V = 0 (no variance yet), Λ is 1 (p 1) and the interval is unbounded.
 */
export function sequentialTest(
  control: MeanSummary,
  treatment: MeanSummary,
  options: SequentialOptions = {},
): SequentialResult {
  checkMeanSummary(control, 'control');
  checkMeanSummary(treatment, 'treatment');
  const { alpha, tau } = scale(control, treatment, options);
  const v = control.variance / control.units + treatment.variance / treatment.units;
  const theta = treatment.mean - control.mean;
  if (!(v > 0) || !(tau > 0)) return { lambda: 1, pValue: 1, ci: [-Infinity, Infinity], tau };
  const t2 = tau * tau;
  const logLambda = 0.5 * Math.log(v / (v + t2)) + (theta * theta * t2) / (2 * v * (v + t2));
  const half = Math.sqrt(
    ((v * (v + t2)) / t2) * (2 * Math.log(1 / alpha) + Math.log((v + t2) / v)),
  );
  return {
    lambda: Math.exp(logLambda),
    pValue: Math.min(1, Math.exp(-logLambda)),
    ci: [theta - half, theta + half],
    tau,
  };
}

/** What {@link sequentialSeries} answers. */
export interface SequentialSeries {
  /** Per look, the always-valid p-value so far (a running minimum: non-increasing). */
  pValues: number[];
  /**
   * The running intersection of the looks' confidence sequences, valid at 1 − alpha like each of
   * them; null when it is empty, which happens when the effect itself moved over time.
   */
  ci: [number, number] | null;
  tau: number;
}

/**
 * The always-valid p-values and confidence sequence of a series of looks at a growing experiment
 * (cumulative summaries, oldest first): each look's min(1, 1/Λ) made non-increasing by a running
 * minimum, and the intersection of every look's interval; both keep the guarantee, as it holds at
 * every look at once. τ is fixed for the whole series (from the last look, unless given), as the
 * guarantee needs one mixture.
 */
export function sequentialSeries(
  looks: readonly { control: MeanSummary; treatment: MeanSummary }[],
  options: SequentialOptions = {},
): SequentialSeries {
  if (looks.length === 0)
    return { pValues: [], ci: [-Infinity, Infinity], tau: options.tau ?? Number.NaN };
  const last = looks[looks.length - 1];
  const { alpha, tau } = scale(last.control, last.treatment, options);
  let running = 1;
  let low = -Infinity;
  let high = Infinity;
  const pValues = looks.map((look) => {
    const r = sequentialTest(look.control, look.treatment, { alpha, tau });
    low = Math.max(low, r.ci[0]);
    high = Math.min(high, r.ci[1]);
    running = Math.min(running, r.pValue);
    return running;
  });
  return { pValues, ci: low <= high ? [low, high] : null, tau };
}

/** The p-values of {@link sequentialSeries}. */
export function sequentialPValues(
  looks: readonly { control: MeanSummary; treatment: MeanSummary }[],
  options: SequentialOptions = {},
): number[] {
  return sequentialSeries(looks, options).pValues;
}
