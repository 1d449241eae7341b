import { InvalidArgumentError } from '../core/errors.js';
import type { Experiment } from './experiment.js';
import type { MetricAggregates } from './experiment-store.js';
import { compareProportions } from './stats/compare-proportions.js';
import { cuped } from './stats/cuped.js';
import {
  probabilityToBeatControl,
  probabilityToBeatControlMeans,
} from './stats/probability-to-beat.js';
import { sampleRatioMismatch } from './stats/sample-ratio-mismatch.js';
import { sequentialSeries, sequentialTest } from './stats/sequential-test.js';
import {
  meanSummary,
  type Alternative,
  type Interval,
  type MeanSummary,
  type MetricSums,
} from './stats/types.js';
import { welchTest } from './stats/welch-test.js';

/** The p-value under which a sample-ratio mismatch is reported (a strict threshold, as is usual: SRM checks run on every test). */
export const SRM_ALPHA = 0.001;

/** Options of {@link analyzeMetric}. */
export interface AnalysisOptions {
  /** @defaultValue 'two-sided' */
  alternative?: Alternative;
  /** Level of every confidence interval (always two-sided). @defaultValue 0.95 */
  confidence?: number;
  /** Adjust with the pre-period covariate (CUPED) when the sums carry one. @defaultValue true */
  cuped?: boolean;
  /** Mixing scale of the sequential test (see `stats/sequential-test.ts`). @defaultValue its own */
  tau?: number;
  /** Width of the timeline's buckets, in ms (for each point's `until`). @defaultValue the smallest gap between buckets, or a day */
  bucketMs?: number;
}

/** A variant's sums, with the units whose metric is above 0. */
export type VariantInput = MetricSums & { converted: number };

/** What {@link analyzeMetric} computes from. */
export interface AnalysisInput {
  metric: string;
  /** `conversion`: the metric is 0/1 per unit, compared as rates; `value`: compared as means. */
  kind: 'conversion' | 'value';
  control: string;
  /** Every variant with its configured weight (for the sample-ratio check), control included. */
  variants: { name: string; weight: number }[];
  sums: ReadonlyMap<string, VariantInput>;
  /** Per bucket of first-exposure time (not cumulative), for the cumulative lift over time. @defaultValue none */
  timeline?: { bucketStartMs: number; sums: ReadonlyMap<string, VariantInput> }[];
}

/** One variant's figures. */
export interface VariantResult {
  variant: string;
  units: number;
  /** Share of the analysed units, and the share its weight asks for. */
  share: number;
  expectedShare: number;
  /** Conversion metrics: units converted and their rate. */
  conversions: number | null;
  rate: number | null;
  mean: number;
  /** Unbiased; null with fewer than two units. */
  variance: number | null;
}

/** One treatment against the control. */
export interface Comparison {
  variant: string;
  test: 'two-proportion z-test' | 'Welch t-test';
  /** Treatment minus control, with its interval. */
  difference: Interval;
  /** Treatment / control − 1; null when the control's mean is 0. */
  relative: Interval | null;
  /** z or t. */
  statistic: number;
  /** Welch–Satterthwaite degrees of freedom (t-test only). */
  df: number | null;
  pValue: number;
  /** p below 1 − confidence. */
  significant: boolean;
  /** CUPED-adjusted comparison (Welch's t on adjusted values), when a covariate was given. */
  cuped: {
    theta: number;
    varianceReduction: number;
    difference: Interval;
    relative: Interval | null;
    pValue: number;
    significant: boolean;
  } | null;
  /**
   * Always-valid (mSPRT) p-value and confidence sequence: safe to look at every day. With a
   * timeline, the p-value is the running minimum over the daily looks and the interval their
   * running intersection. Two-sided.
   */
  sequential: { pValue: number; ci: [number, number]; tau: number; looks: number };
  /** Bayesian probability that the variant's true rate or mean beats the control's. */
  probabilityToBeatControl: number;
}

/** One cumulative look of the timeline. */
export interface TimelinePoint {
  /** End of the bucket (ISO-8601): figures cover units first exposed before it. */
  until: string;
  units: Record<string, number>;
  means: Record<string, number>;
  /** Per treatment: cumulative relative lift over the control with its interval (null while undefined). */
  lift: Record<string, Interval | null>;
}

/** The whole analysis of one metric. */
export interface MetricAnalysis {
  metric: string;
  kind: 'conversion' | 'value';
  control: string;
  alternative: Alternative;
  confidence: number;
  variants: VariantResult[];
  comparisons: Comparison[];
  /** Chi-square test of the unit counts against the configured weights. */
  srm: { chi2: number; df: number; pValue: number; mismatch: boolean };
  timeline: TimelinePoint[];
  /** Plain sentences on anything that limits the figures (SRM, tiny groups, CUPED not applicable). */
  warnings: string[];
}

/** {@link MetricAnalysis} of an experiment's stored events, with its data-quality counts. */
export interface ExperimentAnalysis extends MetricAnalysis {
  experiment: string;
  status: Experiment['status'];
  /** Every metric the experiment has events for. */
  metrics: string[];
  quality: { multiVariantUnits: number; unknownVariantUnits: number; unexposedEvents: number };
}

/**
 * Compares every variant with the control on one metric: per variant units, rate or mean and
 * variance; per treatment the difference and relative difference with intervals, a two-proportion
 * z-test (rates) or Welch's t-test (means) with the chosen alternative, CUPED with the pre-period
 * covariate, the always-valid sequential p-value and the probability to beat control; a
 * sample-ratio-mismatch check against the weights; and, with a timeline, the cumulative lift per
 * time bucket.
 */
export function analyzeMetric(input: AnalysisInput, options: AnalysisOptions = {}): MetricAnalysis {
  const alternative = options.alternative ?? 'two-sided';
  if (!['two-sided', 'greater', 'less'].includes(alternative))
    throw new InvalidArgumentError(
      'alternative',
      `must be two-sided, greater or less, got "${String(alternative)}"`,
    );
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidArgumentError('confidence', `must be in (0, 1), got ${confidence}`);
  if (!input.variants.some((v) => v.name === input.control))
    throw new InvalidArgumentError(
      'control',
      `"${input.control}" is not one of the variants (${input.variants.map((v) => v.name).join(', ')})`,
    );
  const warnings: string[] = [];
  const empty: VariantInput = { units: 0, converted: 0, sum: 0, sumSquares: 0 };
  const sumsOf = (name: string): VariantInput => input.sums.get(name) ?? empty;
  const totalUnits = input.variants.reduce((s, v) => s + sumsOf(v.name).units, 0);
  const totalWeight = input.variants.reduce((s, v) => s + v.weight, 0);

  const variants: VariantResult[] = input.variants.map((v) => {
    const s = sumsOf(v.name);
    const mean = s.units > 0 ? s.sum / s.units : 0;
    return {
      variant: v.name,
      units: s.units,
      share: totalUnits > 0 ? s.units / totalUnits : 0,
      expectedShare: v.weight / totalWeight,
      conversions: input.kind === 'conversion' ? s.converted : null,
      rate: input.kind === 'conversion' ? mean : null,
      mean,
      variance: s.units >= 2 ? meanSummary(s).variance : null,
    };
  });

  const srmResult =
    totalUnits > 0
      ? sampleRatioMismatch(
          variants.map((v) => v.units),
          input.variants.map((v) => v.weight),
        )
      : { chi2: 0, df: input.variants.length - 1, pValue: 1 };
  const srm = {
    chi2: srmResult.chi2,
    df: srmResult.df,
    pValue: srmResult.pValue,
    mismatch: srmResult.pValue < SRM_ALPHA,
  };
  if (srm.mismatch) {
    warnings.push(
      `sample ratio mismatch: the unit counts (${variants.map((v) => `${v.variant} ${v.units}`).join(', ')}) are unlikely under the configured weights (χ² = ${srm.chi2.toFixed(2)}, p = ${srm.pValue.toExponential(2)}); assignment or logging is broken somewhere, so do not trust the comparison`,
    );
  }

  const control = sumsOf(input.control);
  const comparisons: Comparison[] = [];
  const useCuped = options.cuped ?? true;
  for (const v of input.variants) {
    if (v.name === input.control) continue;
    const treatment = sumsOf(v.name);
    if (control.units < 2 || treatment.units < 2) {
      warnings.push(
        `${v.name}: not compared with ${input.control}: each needs at least two units (${treatment.units} and ${control.units})`,
      );
      continue;
    }
    comparisons.push(
      compare(
        v.name,
        control,
        treatment,
        input,
        { alternative, confidence, cuped: useCuped, tau: options.tau },
        warnings,
      ),
    );
  }

  const timeline = buildTimeline(
    input,
    confidence,
    options.tau,
    comparisons,
    options.bucketMs,
    warnings,
  );
  return {
    metric: input.metric,
    kind: input.kind,
    control: input.control,
    alternative,
    confidence,
    variants,
    comparisons,
    srm,
    timeline,
    warnings,
  };
}

function compare(
  name: string,
  control: VariantInput,
  treatment: VariantInput,
  input: AnalysisInput,
  options: { alternative: Alternative; confidence: number; cuped: boolean; tau?: number },
  warnings: string[],
): Comparison {
  const { alternative, confidence } = options;
  const alpha = 1 - confidence;
  const mc = meanSummary(control);
  const mt = meanSummary(treatment);
  let main: Pick<Comparison, 'test' | 'difference' | 'relative' | 'statistic' | 'df' | 'pValue'>;
  let beat: number;
  if (input.kind === 'conversion') {
    const c = { units: control.units, conversions: control.converted };
    const t = { units: treatment.units, conversions: treatment.converted };
    const r = compareProportions(c, t, { alternative, confidence });
    main = {
      test: 'two-proportion z-test',
      difference: r.difference,
      relative: r.relative,
      statistic: r.z,
      df: null,
      pValue: r.pValue,
    };
    beat = probabilityToBeatControl(c, t);
  } else {
    const r = welchTest(mc, mt, { alternative, confidence });
    main = {
      test: 'Welch t-test',
      difference: r.difference,
      relative: r.relative,
      statistic: r.t,
      df: r.df,
      pValue: r.pValue,
    };
    beat = probabilityToBeatControlMeans(mc, mt);
  }
  let cupedResult: Comparison['cuped'] = null;
  if (options.cuped && control.covariate !== undefined && treatment.covariate !== undefined) {
    const adjusted = cuped(control, treatment);
    if (adjusted.theta === 0)
      warnings.push(
        `${name}: CUPED changes nothing: the covariate does not vary or does not correlate with the metric`,
      );
    const r = welchTest(adjusted.control, adjusted.treatment, { alternative, confidence });
    cupedResult = {
      theta: adjusted.theta,
      varianceReduction: adjusted.varianceReduction,
      difference: r.difference,
      relative: r.relative,
      pValue: r.pValue,
      significant: r.pValue < alpha,
    };
  }
  const looks = (input.timeline ?? []).length;
  const seq = sequentialTest(mc, mt, {
    alpha,
    ...(options.tau === undefined ? {} : { tau: options.tau }),
  });
  return {
    variant: name,
    ...main,
    significant: main.pValue < alpha,
    cuped: cupedResult,
    sequential: { pValue: seq.pValue, ci: seq.ci, tau: seq.tau, looks: Math.max(1, looks) },
    probabilityToBeatControl: beat,
  };
}

/** Cumulative figures per bucket; also sets each comparison's sequential p to its running minimum over the looks. */
function buildTimeline(
  input: AnalysisInput,
  confidence: number,
  tau: number | undefined,
  comparisons: Comparison[],
  width: number | undefined,
  warnings: string[],
): TimelinePoint[] {
  const buckets = [...(input.timeline ?? [])].sort((a, b) => a.bucketStartMs - b.bucketStartMs);
  if (buckets.length === 0) return [];
  // Without the width, the smallest gap between buckets (a day for a single bucket).
  const bucketMs =
    width ??
    (buckets.length > 1
      ? Math.min(...buckets.slice(1).map((b, k) => b.bucketStartMs - buckets[k].bucketStartMs))
      : 86_400_000);
  const running = new Map<string, VariantInput>(
    input.variants.map((v) => [v.name, { units: 0, converted: 0, sum: 0, sumSquares: 0 }]),
  );
  const looks: { control: MeanSummary; treatment: MeanSummary }[][] = comparisons.map(() => []);
  const points: TimelinePoint[] = [];
  for (const bucket of buckets) {
    for (const [name, s] of bucket.sums) {
      const r = running.get(name);
      if (r === undefined) continue;
      r.units += s.units;
      r.converted += s.converted;
      r.sum += s.sum;
      r.sumSquares += s.sumSquares;
    }
    const control = running.get(input.control)!;
    const point: TimelinePoint = {
      until: new Date(bucket.bucketStartMs + bucketMs).toISOString(),
      units: {},
      means: {},
      lift: {},
    };
    for (const [name, r] of running) {
      point.units[name] = r.units;
      point.means[name] = r.units > 0 ? r.sum / r.units : 0;
    }
    comparisons.forEach((c, k) => {
      const t = running.get(c.variant)!;
      if (control.units < 2 || t.units < 2) {
        point.lift[c.variant] = null;
        return;
      }
      const mc = meanSummary(control);
      const mt = meanSummary(t);
      looks[k].push({ control: mc, treatment: mt });
      point.lift[c.variant] =
        input.kind === 'conversion'
          ? compareProportions(
              { units: control.units, conversions: control.converted },
              { units: t.units, conversions: t.converted },
              { confidence },
            ).relative
          : welchTest(mc, mt, { confidence }).relative;
    });
    points.push(point);
  }
  comparisons.forEach((c, k) => {
    if (looks[k].length === 0) return;
    const series = sequentialSeries(looks[k], {
      alpha: 1 - confidence,
      ...(tau === undefined ? {} : { tau }),
    });
    if (series.ci === null) {
      warnings.push(
        `${c.variant}: the confidence sequences of the looks do not overlap, so the effect moved over time; the sequential interval shown is the last look's`,
      );
    }
    c.sequential = {
      pValue: series.pValues[series.pValues.length - 1],
      ci: series.ci ?? c.sequential.ci,
      tau: series.tau,
      looks: looks[k].length,
    };
  });
  return points;
}

/**
 * The analysis of one metric of a stored experiment, from the sums its store computed
 * ({@link ExperimentStore.metricAggregates}).
 */
export function analyzeExperimentMetric(
  experiment: Experiment,
  metric: string,
  aggregates: MetricAggregates,
  options: AnalysisOptions,
  metrics: string[],
): ExperimentAnalysis {
  const toInput = (r: MetricAggregates['rows'][number]): VariantInput => ({
    units: r.units,
    converted: r.converted,
    sum: r.sum,
    sumSquares: r.sumSquares,
    covariate: { sum: r.preSum, sumSquares: r.preSumSquares, sumProducts: r.sumProducts },
  });
  const add = (a: VariantInput | undefined, b: VariantInput): VariantInput =>
    a === undefined
      ? b
      : {
          units: a.units + b.units,
          converted: a.converted + b.converted,
          sum: a.sum + b.sum,
          sumSquares: a.sumSquares + b.sumSquares,
          covariate: {
            sum: a.covariate!.sum + b.covariate!.sum,
            sumSquares: a.covariate!.sumSquares + b.covariate!.sumSquares,
            sumProducts: a.covariate!.sumProducts + b.covariate!.sumProducts,
          },
        };
  const totals = new Map<string, VariantInput>();
  const byBucket = new Map<number, Map<string, VariantInput>>();
  for (const row of aggregates.rows) {
    totals.set(row.variant, add(totals.get(row.variant), toInput(row)));
    let bucket = byBucket.get(row.bucketStartMs);
    if (bucket === undefined) byBucket.set(row.bucketStartMs, (bucket = new Map()));
    bucket.set(row.variant, toInput(row));
  }
  // Without any pre-exposure event there is no covariate to adjust with.
  const hasCovariate = aggregates.rows.some((r) => r.preSumSquares > 0);
  if (!hasCovariate) for (const v of totals.values()) delete v.covariate;
  const analysis = analyzeMetric(
    {
      metric,
      kind: aggregates.kind ?? 'conversion',
      control: experiment.control,
      variants: experiment.variants,
      sums: totals,
      timeline: [...byBucket].map(([bucketStartMs, sums]) => ({ bucketStartMs, sums })),
    },
    options,
  );
  if (aggregates.multiVariantUnits > 0)
    analysis.warnings.push(
      `${aggregates.multiVariantUnits} unit(s) were exposed to more than one variant and are excluded from every figure`,
    );
  if (aggregates.unknownVariantUnits > 0)
    analysis.warnings.push(
      `${aggregates.unknownVariantUnits} unit(s) were exposed to a variant the experiment does not have and are excluded`,
    );
  if (aggregates.unexposedEvents > 0)
    analysis.warnings.push(
      `${aggregates.unexposedEvents} "${metric}" event(s) came from units never exposed and are not counted`,
    );
  return {
    experiment: experiment.name,
    status: experiment.status,
    metrics,
    ...analysis,
    quality: {
      multiVariantUnits: aggregates.multiVariantUnits,
      unknownVariantUnits: aggregates.unknownVariantUnits,
      unexposedEvents: aggregates.unexposedEvents,
    },
  };
}
