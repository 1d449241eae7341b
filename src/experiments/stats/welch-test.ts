import {
  normalQuantile,
  studentTQuantile,
  studentTSurvival,
} from '../../math/special-functions.js';
import {
  checkMeanSummary,
  pValueOf,
  testOptions,
  type Interval,
  type MeanSummary,
  type TestOptions,
} from './types.js';

/** What {@link welchTest} answers. */
export interface WelchResult {
  /** mean_t − mean_c, with a t interval on the Welch–Satterthwaite degrees of freedom. */
  difference: Interval;
  /** mean_t / mean_c − 1 with a delta-method interval; null when the control's mean is 0. */
  relative: Interval | null;
  t: number;
  df: number;
  pValue: number;
}

/**
 * Welch's t-test (unequal variances), as `scipy.stats.ttest_ind(treatment, control,
 * equal_var=False)`: t = (m_t − m_c)/sqrt(v_t/n_t + v_c/n_c) on the Welch–Satterthwaite degrees
 * of freedom, p one- or two-sided as asked; the interval of the difference (two-sided, t
 * quantile) is scipy's `confidence_interval()` for the two-sided test. The relative difference's
 * interval uses the delta method: Var(m_t/m_c) ≈ v_t/(n_t m_c²) + m_t² v_c/(n_c m_c⁴), with a normal
 * quantile. When both variances are 0, t is 0 (p 1) for equal means and ±∞ (p 0 or 1) otherwise.
 */
export function welchTest(
  control: MeanSummary,
  treatment: MeanSummary,
  options: TestOptions = {},
): WelchResult {
  checkMeanSummary(control, 'control');
  checkMeanSummary(treatment, 'treatment');
  const { alternative, confidence } = testOptions(options);
  const vc = control.variance / control.units;
  const vt = treatment.variance / treatment.units;
  const se2 = vc + vt;
  const diff = treatment.mean - control.mean;
  const half = 1 - (1 - confidence) / 2;
  let t: number;
  let df: number;
  let ci: [number, number];
  if (se2 > 0) {
    t = diff / Math.sqrt(se2);
    df = (se2 * se2) / ((vc * vc) / (control.units - 1) + (vt * vt) / (treatment.units - 1));
    const q = studentTQuantile(half, df);
    ci = [diff - q * Math.sqrt(se2), diff + q * Math.sqrt(se2)];
  } else {
    t = diff === 0 ? 0 : diff > 0 ? Infinity : -Infinity;
    df = control.units + treatment.units - 2;
    ci = [diff, diff];
  }
  const pValue = pValueOf(t, alternative, (x) =>
    x === Infinity ? 0 : x === -Infinity ? 1 : studentTSurvival(x, df),
  );
  let relative: Interval | null = null;
  if (control.mean !== 0) {
    const ratio = treatment.mean / control.mean;
    const se = Math.sqrt(vt / control.mean ** 2 + (treatment.mean ** 2 * vc) / control.mean ** 4);
    const q = normalQuantile(half);
    relative = { estimate: ratio - 1, ci: [ratio - 1 - q * se, ratio - 1 + q * se] };
  }
  return {
    difference: { estimate: diff, ci },
    relative,
    t,
    df,
    pValue: se2 > 0 || diff !== 0 ? pValue : 1,
  };
}
