import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import {
  aggregateAbCsv,
  DUPLICATE_POLICIES,
  type AbCsvAggregates,
  type DuplicatePolicy,
} from '../data/ab-csv-aggregates.js';
import { addFeatureCovariate, type FeatureCovariateCsv } from '../experiments/feature-covariate.js';
import { loadFeatureRepository } from '../features/feature-definitions.js';
import { parseFeatureReference } from '../features/online-features.js';
import {
  analyzeMetric,
  type MetricAnalysis,
  type VariantInput,
} from '../experiments/analyze-metric.js';
import type { Alternative } from '../experiments/stats/types.js';
import { signedPercent } from './signed-percent.js';

interface AnalyzeOptions {
  csv: string;
  unit: string;
  variant: string;
  metric: string;
  control?: string;
  alternative: Alternative;
  covariate?: string;
  covariateFeature?: string;
  featureRepo?: string;
  where?: string;
  duplicates: DuplicatePolicy;
  weights?: string;
  time?: string;
  bucket: 'hour' | 'day' | 'week';
  confidence: string;
  json?: boolean;
}

/** `kiban ab`: A/B test analysis. */
export function abCommand(): Command {
  return new Command('ab')
    .description('A/B testing: analyse an experiment from any CSV of units, variants and a metric.')
    .addCommand(analyzeCommand());
}

function analyzeCommand(): Command {
  return new Command('analyze')
    .description(
      'Compares each variant with the control on one metric: units, rate or mean and variance per variant; difference and relative difference with confidence intervals; ' +
        "a two-proportion z-test (0/1, true/false or yes/no metrics) or Welch's t-test; a sample-ratio-mismatch check; CUPED with --covariate; an always-valid sequential p-value; " +
        'and the Bayesian probability to beat control. Reports every data problem with counts (missing values, units in several variants, duplicate units) and what it excluded.',
    )
    .requiredOption('--csv <file>', 'CSV with a header row')
    .requiredOption('--unit <column>', 'column naming the unit (user, session…)')
    .requiredOption('--variant <column>', 'column naming the variant')
    .requiredOption(
      '--metric <column>',
      'column of the metric: numbers, or true/false or yes/no (read as 1/0)',
    )
    .option(
      '--control <name>',
      'the control variant (default: "control" if present, else the first in sorted order)',
    )
    .addOption(
      new Option(
        '--alternative <side>',
        'what the test looks for: greater (treatment > control), less, or two-sided',
      )
        .choices(['two-sided', 'greater', 'less'])
        .default('two-sided'),
    )
    .option('--covariate <column>', 'pre-period covariate for CUPED variance reduction')
    .option(
      '--covariate-feature <view:feature>',
      "CUPED covariate from the feature store: each unit's value of a numeric feature (the unit is the view's join key) point-in-time just before its exposure, the earliest --time of its rows; needs --feature-repo and --time",
    )
    .option('--feature-repo <dir>', 'feature repository (features.yaml) for --covariate-feature')
    .option(
      '--where <sql>',
      'keep only rows meeting a DuckDB condition on the columns (read as text), e.g. "landing_page = \'new_page\'"',
    )
    .addOption(
      new Option(
        '--duplicates <policy>',
        'several rows of one unit in one variant: keep the first or last (file order), sum, mean or max them, or exclude the unit',
      )
        .choices([...DUPLICATE_POLICIES])
        .default('first'),
    )
    .option(
      '--time <column>',
      'column of each row\'s time (ISO-8601 or "YYYY-MM-DD hh:mm:ss", UTC unless it has an offset; or epoch seconds/ms): adds the cumulative lift per bucket of first-seen time, and the always-valid p-value becomes the minimum over those looks',
    )
    .addOption(
      new Option('--bucket <width>', 'width of the --time buckets, aligned to UTC')
        .choices(['hour', 'day', 'week'])
        .default('day'),
    )
    .option(
      '--weights <list>',
      'configured split for the sample-ratio check, e.g. control=1,treatment=1 (default: equal)',
    )
    .option('--confidence <level>', 'confidence level of the intervals', '0.95')
    .option('--json', 'print one JSON object: the data checks, what was excluded and the analysis')
    .addHelpText(
      'after',
      '\nExamples:\n  kiban ab analyze --csv ab_data.csv --unit user_id --variant group --metric converted --alternative greater --json\n' +
        '  kiban ab analyze --csv ab_data.csv --unit user_id --variant group --metric converted --time timestamp --where "("group" = \'treatment\') = (landing_page = \'new_page\')"\n' +
        '  kiban ab analyze --csv orders.csv --unit user --variant arm --metric revenue --covariate revenue_before --duplicates sum\n' +
        '  kiban ab analyze --csv orders.csv --unit user_id --variant arm --metric revenue --time exposed_at --covariate-feature user_stats:spend_28d --feature-repo features',
    )
    .action(async (options: AnalyzeOptions) => runAnalyze(options));
}

async function runAnalyze(options: AnalyzeOptions): Promise<void> {
  const confidence = Number(options.confidence);
  if (!(confidence > 0 && confidence < 1))
    throw new InvalidArgumentError(
      '--confidence',
      `must be a number in (0, 1), got "${options.confidence}"`,
    );
  const weights = options.weights === undefined ? null : parseWeights(options.weights);
  const started = performance.now();
  const fromFeature = await featureCovariate(options);
  const data = await aggregateAbCsv(fromFeature?.csv ?? options.csv, {
    unit: options.unit,
    variant: options.variant,
    metric: options.metric,
    duplicates: options.duplicates,
    ...(options.covariate === undefined ? {} : { covariate: options.covariate }),
    ...(fromFeature === null ? {} : { covariate: fromFeature.column }),
    ...(options.where === undefined ? {} : { where: options.where }),
    ...(options.time === undefined
      ? {}
      : { time: options.time, bucketMs: BUCKET_MS[options.bucket] }),
  })
    .catch((error: unknown) => {
      // The library names its option; here the user chose --bucket.
      if (error instanceof InvalidArgumentError && error.field === 'bucketMs')
        throw new InvalidArgumentError('--bucket', error.reason, { cause: error });
      throw error;
    })
    .finally(() => fromFeature?.remove());
  const names = data.variants.map((v) => v.variant);
  if (names.length < 2) {
    // Say what was left out too: the cause may be another column than the variant's.
    const left = describeExclusions(data, options);
    throw new InvalidArgumentError(
      '--variant',
      `column "${options.variant}" holds ${names.length} variant(s) after the exclusions (${names.join(', ') || 'none'}); a test needs two or more${left.length > 0 ? `; excluded: ${left.join('; ')}` : ''}`,
    );
  }
  const control = options.control ?? (names.includes('control') ? 'control' : names[0]);
  if (!names.includes(control))
    throw new InvalidArgumentError(
      '--control',
      `"${control}" is not a variant of the data (${names.join(', ')})`,
    );
  if (weights !== null) {
    for (const name of names)
      if (!weights.has(name))
        throw new InvalidArgumentError('--weights', `gives no weight for variant "${name}"`);
    for (const name of weights.keys())
      if (!names.includes(name))
        throw new InvalidArgumentError(
          '--weights',
          `names "${name}", which is not a variant of the data (${names.join(', ')})`,
        );
  }
  // The control first, the others in sorted order.
  const order = [control, ...names.filter((n) => n !== control)];
  const sums = new Map<string, VariantInput>(data.variants.map((v) => [v.variant, v]));
  const analysis = analyzeMetric(
    {
      metric: options.metric,
      kind: data.binary ? 'conversion' : 'value',
      control,
      variants: order.map((name) => ({ name, weight: weights?.get(name) ?? 1 })),
      sums,
      timeline: data.timeline.map((b) => ({
        bucketStartMs: b.bucketStartMs,
        sums: new Map(b.variants.map((v) => [v.variant, v])),
      })),
    },
    { alternative: options.alternative, confidence, bucketMs: data.bucketMs },
  );
  const excluded = describeExclusions(data, options);
  const seconds = (performance.now() - started) / 1000;
  if (options.json === true) {
    process.stdout.write(
      `${JSON.stringify({ csv: options.csv, unit: options.unit, variant: options.variant, covariate: options.covariate ?? null, ...(fromFeature === null ? {} : { covariateFeature: { feature: options.covariateFeature, repo: options.featureRepo, column: fromFeature.column, units: fromFeature.units, unitsWithValue: fromFeature.unitsWithValue } }), time: options.time ?? null, duplicates: data.duplicates, data: data.quality, excluded, ...analysis, seconds: +seconds.toFixed(3) })}\n`,
    );
    return;
  }
  printReport(analysis, data, excluded, seconds);
}

/**
 * With `--covariate-feature`: the A/B CSV with each unit's feature value at exposure added as a
 * column (see `experiments/feature-covariate.ts`); null without.
 */
async function featureCovariate(options: AnalyzeOptions): Promise<FeatureCovariateCsv | null> {
  if (options.covariateFeature === undefined) {
    if (options.featureRepo !== undefined)
      throw new InvalidArgumentError('--feature-repo', 'is only used with --covariate-feature');
    return null;
  }
  if (options.covariate !== undefined)
    throw new InvalidArgumentError(
      '--covariate-feature',
      'give either --covariate (a column of the CSV) or --covariate-feature, not both',
    );
  if (options.featureRepo === undefined)
    throw new InvalidArgumentError(
      '--feature-repo',
      'is needed with --covariate-feature: the directory of the feature repository (features.yaml)',
    );
  if (options.time === undefined)
    throw new InvalidArgumentError(
      '--time',
      "is needed with --covariate-feature: each unit's covariate is read as of its exposure, the earliest time of its rows",
    );
  const feature = parseFeatureReference(options.covariateFeature, '--covariate-feature');
  return addFeatureCovariate({
    csv: options.csv,
    unit: options.unit,
    time: options.time,
    ...(options.where === undefined ? {} : { where: options.where }),
    repo: await loadFeatureRepository(options.featureRepo),
    feature,
    fields: { feature: '--covariate-feature', unit: '--unit', time: '--time', where: '--where' },
  });
}

const BUCKET_MS = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;

function parseWeights(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const [name, raw] = part.split('=');
    const weight = Number(raw);
    if (name === undefined || name.trim() === '' || raw === undefined || !(weight > 0))
      throw new InvalidArgumentError('--weights', `"${part}" is not name=weight with a weight > 0`);
    out.set(name.trim(), weight);
  }
  return out;
}

/** Plain sentences on what was left out and why, with counts. */
function describeExclusions(data: AbCsvAggregates, options: AnalyzeOptions): string[] {
  const q = data.quality;
  const out: string[] = [];
  const n = (x: number) => x.toLocaleString('en-US');
  if (q.rowsFilteredOut > 0)
    out.push(`${n(q.rowsFilteredOut)} rows not meeting --where ${options.where}`);
  const missing = Object.entries(q.missing).filter(([, v]) => v > 0);
  for (const [column, count] of missing)
    out.push(
      column === 'covariate' && options.covariateFeature !== undefined
        ? `${n(count)} rows whose unit has no value of --covariate-feature ${options.covariateFeature} before its exposure`
        : `${n(count)} rows with no ${column} (--${column} ${options[column as 'unit' | 'variant' | 'metric' | 'covariate' | 'time']})`,
    );
  for (const [column, count] of Object.entries(q.notNumeric))
    if (count > 0)
      out.push(`${n(count)} rows whose ${column} is not a number, true/false or yes/no`);
  if (q.notTime > 0)
    out.push(
      `${n(q.notTime)} rows whose time (--time ${options.time}) is neither a timestamp nor an epoch number`,
    );
  if (q.multiVariantUnits > 0)
    out.push(
      `${n(q.multiVariantUnits)} units seen in more than one variant (${n(q.multiVariantRows)} rows): excluded whole`,
    );
  if (q.duplicateUnits > 0) {
    out.push(
      data.duplicates === 'exclude'
        ? `${n(q.duplicateUnits)} units with several rows in their variant: excluded (--duplicates exclude)`
        : `${n(q.duplicateRows)} extra rows of ${n(q.duplicateUnits)} units with several rows in their variant: combined by --duplicates ${data.duplicates}`,
    );
  }
  return out;
}

function printReport(
  a: MetricAnalysis,
  data: AbCsvAggregates,
  excluded: string[],
  seconds: number,
): void {
  const out = (line = '') => process.stdout.write(`${line.trimEnd()}\n`);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const num = (x: number) =>
    Math.abs(x) >= 1000 || (Math.abs(x) < 0.01 && x !== 0) ? x.toPrecision(4) : x.toFixed(4);
  const interval = (
    i: { estimate: number; ci: [number, number] } | null,
    f: (x: number) => string,
  ) => (i === null ? 'n/a' : `${f(i.estimate)} [${f(i.ci[0])}, ${f(i.ci[1])}]`);
  out(
    `${data.quality.rows.toLocaleString('en-US')} rows, ${data.quality.unitsAnalysed.toLocaleString('en-US')} units analysed (${seconds.toFixed(2)} s)`,
  );
  if (excluded.length > 0) {
    out('excluded:');
    for (const line of excluded) out(`  - ${line}`);
  }
  out();
  out(
    `metric ${a.metric} (${a.kind === 'conversion' ? 'conversion rate' : 'mean'}), control ${a.control}, ${a.alternative}, ${pct(a.confidence)} intervals`,
  );
  for (const v of a.variants) {
    const figure =
      v.rate !== null
        ? `${v.conversions} conversions, rate ${pct(v.rate)}`
        : `mean ${num(v.mean)}, variance ${v.variance === null ? 'n/a' : num(v.variance)}`;
    out(
      `  ${v.variant.padEnd(16)} ${String(v.units).padStart(10)} units (${pct(v.share)}, expected ${pct(v.expectedShare)})  ${figure}`,
    );
  }
  for (const c of a.comparisons) {
    out();
    out(`${c.variant} vs ${a.control} (${c.test}):`);
    out(
      `  difference ${interval(c.difference, a.kind === 'conversion' ? pct : num)}   relative ${interval(c.relative, pct)}`,
    );
    out(
      `  ${c.test.startsWith('two') ? 'z' : 't'} = ${c.statistic.toFixed(4)}${c.df === null ? '' : `, df = ${c.df.toFixed(1)}`}, p = ${c.pValue.toPrecision(4)}${c.significant ? '  (significant)' : ''}`,
    );
    if (c.cuped !== null)
      out(
        `  CUPED (θ = ${c.cuped.theta.toPrecision(4)}, variance ${signedPercent(-c.cuped.varianceReduction, 2)}): difference ${interval(c.cuped.difference, num)}, p = ${c.cuped.pValue.toPrecision(4)}`,
      );
    out(
      `  always-valid p = ${c.sequential.pValue.toPrecision(4)}   P(${c.variant} beats ${a.control}) = ${pct(c.probabilityToBeatControl)}`,
    );
  }
  if (a.timeline.length > 0) printTimeline(a, out);
  out();
  out(
    `sample ratio: χ² = ${a.srm.chi2.toFixed(3)}, p = ${a.srm.pValue.toPrecision(4)}${a.srm.mismatch ? '  MISMATCH' : ' (ok)'}`,
  );
  for (const w of a.warnings) out(`warning: ${w}`);
}

/** The cumulative lift per look, at most {@link TIMELINE_ROWS} rows (evenly spaced, always with the last). */
function printTimeline(a: MetricAnalysis, out: (line?: string) => void): void {
  const treatments = a.comparisons.map((c) => c.variant);
  if (treatments.length === 0) return;
  const step = Math.ceil(a.timeline.length / TIMELINE_ROWS);
  const shown = a.timeline.filter((_, k) => (a.timeline.length - 1 - k) % step === 0);
  const pct = (x: number) => signedPercent(x, 1);
  out();
  out(
    `cumulative relative lift over ${a.control} by first-seen time${step > 1 ? ` (every ${step}th of ${a.timeline.length} looks)` : ''}:`,
  );
  out(
    `  ${'until (UTC)'.padEnd(17)} ${'units'.padStart(10)}  ${treatments.map((t) => t.padEnd(28)).join(' ')}`,
  );
  for (const p of shown) {
    const units = Object.values(p.units).reduce((s, u) => s + u, 0);
    const cells = treatments.map((t) => {
      const lift = p.lift[t];
      return (
        lift === null || lift === undefined
          ? 'n/a'
          : `${pct(lift.estimate)} [${pct(lift.ci[0])}, ${pct(lift.ci[1])}]`
      ).padEnd(28);
    });
    out(
      `  ${p.until.slice(0, 16).replace('T', ' ').padEnd(17)} ${String(units).padStart(10)}  ${cells.join(' ')}`,
    );
  }
}

const TIMELINE_ROWS = 30;
