import { InvalidArgumentError } from '../../core/errors.js';
import { normalQuantile, normalSurvival } from '../../math/special-functions.js';
import {
  pValueOf,
  testOptions,
  type Interval,
  type ProportionSummary,
  type TestOptions,
} from './types.js';

/** What {@link compareProportions} answers. */
export interface ProportionComparison {
  control: ProportionSummary & { rate: number };
  treatment: ProportionSummary & { rate: number };
  /** rate_t − rate_c, with a Wald interval on the unpooled standard error. */
  difference: Interval;
  /** rate_t / rate_c − 1, with an interval from the delta method on log(rate_t / rate_c); null when the control's rate is 0. */
  relative: Interval | null;
  /** (rate_t − rate_c) / pooled standard error. */
  z: number;
  pValue: number;
}

function check(s: ProportionSummary, field: string): void {
  if (!Number.isInteger(s.units) || s.units < 1)
    throw new InvalidArgumentError(`${field}.units`, `must be an integer ≥ 1, got ${s.units}`);
  if (!Number.isInteger(s.conversions) || s.conversions < 0 || s.conversions > s.units) {
    throw new InvalidArgumentError(
      `${field}.conversions`,
      `must be an integer from 0 to units (${s.units}), got ${s.conversions}`,
    );
  }
}

/**
 * The two-proportion z-test of the textbooks (and of statsmodels' `proportions_ztest`): z from
 * the pooled standard error sqrt(p(1−p)(1/n_c + 1/n_t)), p = (x_c + x_t)/(n_c + n_t), whose
 * p-value is one- or two-sided as asked; the interval of the difference uses the unpooled error
 * sqrt(p_c(1−p_c)/n_c + p_t(1−p_t)/n_t) and is always two-sided at `confidence`. Equal rates of 0
 * or 1 in both groups give z 0 and p 1.
 *
 * @example
 * compareProportions({ units: 1000, conversions: 100 }, { units: 1000, conversions: 130 }, { alternative: 'greater' }).pValue; // ≈ 0.0186
 */
export function compareProportions(
  control: ProportionSummary,
  treatment: ProportionSummary,
  options: TestOptions = {},
): ProportionComparison {
  check(control, 'control');
  check(treatment, 'treatment');
  const { alternative, confidence } = testOptions(options);
  const pc = control.conversions / control.units;
  const pt = treatment.conversions / treatment.units;
  const pooled = (control.conversions + treatment.conversions) / (control.units + treatment.units);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / control.units + 1 / treatment.units));
  const z = se0 > 0 ? (pt - pc) / se0 : 0;
  const q = normalQuantile(1 - (1 - confidence) / 2);
  const se = Math.sqrt((pc * (1 - pc)) / control.units + (pt * (1 - pt)) / treatment.units);
  const diff = pt - pc;
  let relative: Interval | null = null;
  if (pc > 0) {
    const ratio = pt / pc;
    if (pt > 0) {
      const seLog = Math.sqrt((1 - pt) / (treatment.units * pt) + (1 - pc) / (control.units * pc));
      const log = Math.log(ratio);
      relative = {
        estimate: ratio - 1,
        ci: [Math.exp(log - q * seLog) - 1, Math.exp(log + q * seLog) - 1],
      };
    } else {
      relative = { estimate: -1, ci: [-1, -1] }; // no conversion at all: the log scale has no interval
    }
  }
  return {
    control: { ...control, rate: pc },
    treatment: { ...treatment, rate: pt },
    difference: { estimate: diff, ci: [diff - q * se, diff + q * se] },
    relative,
    z,
    pValue: se0 > 0 ? pValueOf(z, alternative, normalSurvival) : 1,
  };
}
