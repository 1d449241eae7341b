import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readDecisionLogLines, type DecisionLogLine } from './decision-log.js';

/** A reward rate with its 95% Wilson score interval; all null without feedback. */
export interface RewardRate {
  /** Impressions (chosen arms) with feedback. */
  n: number;
  /** Sum of their rewards, each clamped to [0, 1]. */
  rewardSum: number;
  /** `rewardSum / n`, or null when n is 0. */
  rate: number | null;
  low: number | null;
  high: number | null;
}

/** One time bucket of a {@link BanditReport}. */
export interface BanditReportBucket {
  /** ISO-8601 start of the bucket (inclusive); it ends `bucketMs` later (exclusive). */
  start: string;
  decisions: number;
  /** Impressions: chosen arms over every slot (equals `decisions` for single-slot decisions). */
  impressions: number;
  /** Per arm of {@link BanditReport.arms}, in that order: how many times it was chosen. */
  chosen: number[];
  /** Per arm, `chosen / impressions` (0 in an empty bucket). */
  shares: number[];
  /** The reward rate of the bandit over the decisions made in this bucket. */
  reward: RewardRate;
}

/** Totals of one arm over the whole report. */
export interface BanditReportArm extends RewardRate {
  arm: string;
  chosen: number;
  /** Share of every impression. */
  share: number;
}

/** Arm selection shares and reward rates over time for one bandit. */
export interface BanditReport {
  bandit: string;
  /** ISO-8601 start of the first bucket and end of the last, or null without decisions. */
  from: string | null;
  to: string | null;
  /** Bucket width in ms (0 without decisions). */
  bucketMs: number;
  decisions: number;
  impressions: number;
  /** Every arm chosen at least once, most chosen first (ties by id). */
  arms: string[];
  buckets: BanditReportBucket[];
  /** Per arm of `arms`, in that order. */
  totals: BanditReportArm[];
  /** The bandit's reward rate over the whole period. */
  overall: RewardRate;
  /** Rewards outside [0, 1] that were clamped into it. */
  clampedRewards: number;
}

/** Options of {@link buildBanditReport}. */
export interface BanditReportOptions {
  /** The most buckets the report may have. @defaultValue 48 */
  maxBuckets?: number;
}

/** Bucket widths tried in order (ms); wider spans use whole weeks. */
const NICE_WIDTHS = [1, 5, 10, 15, 30]
  .map((s) => s * 1000)
  .concat(
    [1, 2, 5, 10, 15, 30].map((m) => m * 60_000),
    [1, 2, 3, 6, 12].map((h) => h * 3_600_000),
    [1, 2, 7].map((d) => d * 86_400_000),
  );

/** z of a two-sided 95% interval. */
const Z95 = 1.959963984540054;

/**
 * The 95% Wilson score interval of a rate from `successes` out of `n`. Successes may be
 * fractional (the sum of rewards in [0, 1]): the interval then uses the mean reward as the
 * proportion, which is the usual approximation for bounded rewards. Null bounds when n is 0.
 *
 * @example
 * wilsonInterval(5, 10); // { low: 0.2366, high: 0.7634 } (rounded)
 */
export function wilsonInterval(
  successes: number,
  n: number,
  z = Z95,
): { low: number | null; high: number | null } {
  if (!(n > 0)) return { low: null, high: null };
  const p = Math.min(1, Math.max(0, successes / n));
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // The interval always contains p; at p = 0 or 1 rounding would leave the bound a hair inside.
  return {
    low: Math.max(0, Math.min(p, center - half)),
    high: Math.min(1, Math.max(p, center + half)),
  };
}

/** The smallest nice bucket width (ms) giving at most `maxBuckets` epoch-aligned buckets from `first` to `last` (ms). */
export function chooseBucketMs(first: number, last: number, maxBuckets = 48): number {
  const count = (w: number) => Math.floor(last / w) - Math.floor(first / w) + 1;
  for (const w of NICE_WIDTHS) if (count(w) <= maxBuckets) return w;
  const week = 7 * 86_400_000;
  let weeks = Math.max(1, Math.ceil((last - first) / week / Math.max(1, maxBuckets - 1)));
  while (count(weeks * week) > maxBuckets) weeks++;
  return weeks * week;
}

/** The reward rate of `n` impressions with rewards summing to `rewardSum`, with its Wilson interval. */
export function rewardRateOf(n: number, rewardSum: number): RewardRate {
  return { n, rewardSum, rate: n > 0 ? rewardSum / n : null, ...wilsonInterval(rewardSum, n) };
}

/** The report of a bandit with no decisions in range. */
export function emptyBanditReport(bandit: string): BanditReport {
  return {
    bandit,
    from: null,
    to: null,
    bucketMs: 0,
    decisions: 0,
    impressions: 0,
    arms: [],
    buckets: [],
    totals: [],
    overall: rewardRateOf(0, 0),
    clampedRewards: 0,
  };
}

/** One time bucket's counts while a report is aggregated (arms by index into the report's arms). */
export interface BucketTally {
  decisions: number;
  impressions: number;
  chosen: number[];
  /** Impressions with a reward, and the sum of their (clamped) rewards. */
  n: number;
  rewardSum: number;
}

/** See {@link reportFrame}. */
export interface ReportFrame {
  arms: string[];
  armIndex: Map<string, number>;
  bucketMs: number;
  /** Index of the first bucket since the epoch (its start is `firstBucket × bucketMs`). */
  firstBucket: number;
  rows: BucketTally[];
  /** Per arm: rewarded impressions and the sum of their rewards. */
  armN: number[];
  armSum: number[];
}

/**
 * The frame of a report over decisions between `first` and `last` (epoch ms): its arms, most
 * chosen first (ties by name), their index, the bucket width and empty tallies for every bucket
 * and arm. Filled by the caller, then made a report by {@link assembleBanditReport}.
 */
export function reportFrame(
  chosenTotal: ReadonlyMap<string, number>,
  first: number,
  last: number,
  maxBuckets: number,
): ReportFrame {
  const arms = [...chosenTotal.keys()].sort(
    (a, b) => chosenTotal.get(b)! - chosenTotal.get(a)! || (a < b ? -1 : a > b ? 1 : 0),
  );
  const bucketMs = chooseBucketMs(first, last, maxBuckets);
  const firstBucket = Math.floor(first / bucketMs);
  const count = Math.floor(last / bucketMs) - firstBucket + 1;
  return {
    arms,
    armIndex: new Map(arms.map((arm, i) => [arm, i])),
    bucketMs,
    firstBucket,
    rows: Array.from(
      { length: count },
      (): BucketTally => ({
        decisions: 0,
        impressions: 0,
        chosen: new Array<number>(arms.length).fill(0),
        n: 0,
        rewardSum: 0,
      }),
    ),
    armN: new Array<number>(arms.length).fill(0),
    armSum: new Array<number>(arms.length).fill(0),
  };
}

/** The report from a filled {@link reportFrame}. */
export function assembleBanditReport(
  bandit: string,
  frame: ReportFrame,
  chosenTotal: ReadonlyMap<string, number>,
  counts: { decisions: number; clamped: number },
): BanditReport {
  const { arms, bucketMs, firstBucket, rows, armN, armSum } = frame;
  const impressions = rows.reduce((s, r) => s + r.impressions, 0);
  const buckets: BanditReportBucket[] = rows.map((row, i) => ({
    start: new Date((firstBucket + i) * bucketMs).toISOString(),
    decisions: row.decisions,
    impressions: row.impressions,
    chosen: row.chosen,
    shares: row.chosen.map((c) => (row.impressions > 0 ? c / row.impressions : 0)),
    reward: rewardRateOf(row.n, row.rewardSum),
  }));
  return {
    bandit,
    from: buckets[0].start,
    to: new Date((firstBucket + rows.length) * bucketMs).toISOString(),
    bucketMs,
    decisions: counts.decisions,
    impressions,
    arms,
    buckets,
    totals: arms.map((arm, a) => ({
      arm,
      chosen: chosenTotal.get(arm)!,
      share: chosenTotal.get(arm)! / impressions,
      ...rewardRateOf(armN[a], armSum[a]),
    })),
    overall: rewardRateOf(
      armN.reduce((t, v) => t + v, 0),
      armSum.reduce((t, v) => t + v, 0),
    ),
    clampedRewards: counts.clamped,
  };
}

/**
 * Aggregates the decision-log lines of every server process (in any order) into a report on
 * bandit `bandit`: per time bucket (by decision time, epoch-aligned, width chosen so there are at
 * most `maxBuckets`), how often each arm was chosen and its share, and the bandit's reward rate
 * over the bucket's decisions with a 95% Wilson interval; plus per-arm totals. Every chosen arm
 * of a multi-slot decision is an impression. Feedback is joined by decision id; decisions without
 * feedback count in the shares but not in the rates, and each reward is clamped to [0, 1] (a
 * non-binary reward counts as a fractional success; clamped ones are counted). Lines of other
 * bandits, feedback without its decision, and decisions with an unparseable time are ignored.
 * Pure: no I/O.
 */
export function buildBanditReport(
  bandit: string,
  lines: Iterable<DecisionLogLine>,
  options: BanditReportOptions = {},
): BanditReport {
  const maxBuckets = options.maxBuckets ?? 48;
  const decisions: { time: number; arms: string[]; decisionId: string }[] = [];
  const feedback = new Map<string, number[]>();
  for (const line of lines) {
    if (line.bandit !== bandit) continue;
    if (line.type === 'feedback') feedback.set(line.decisionId, line.rewards);
    else {
      const time = Date.parse(line.time);
      if (!Number.isNaN(time))
        decisions.push({ time, arms: line.arms, decisionId: line.decisionId });
    }
  }
  if (decisions.length === 0) return emptyBanditReport(bandit);

  let first = Infinity;
  let last = -Infinity;
  const chosenTotal = new Map<string, number>();
  for (const d of decisions) {
    first = Math.min(first, d.time);
    last = Math.max(last, d.time);
    for (const arm of d.arms) chosenTotal.set(arm, (chosenTotal.get(arm) ?? 0) + 1);
  }
  const frame = reportFrame(chosenTotal, first, last, maxBuckets);
  const { armIndex, bucketMs, firstBucket, rows, armN, armSum } = frame;
  let clamped = 0;
  for (const d of decisions) {
    const row = rows[Math.floor(d.time / bucketMs) - firstBucket];
    row.decisions++;
    const rewards = feedback.get(d.decisionId);
    d.arms.forEach((arm, j) => {
      const a = armIndex.get(arm)!;
      row.impressions++;
      row.chosen[a]++;
      const r = rewards?.[j];
      if (typeof r !== 'number' || !Number.isFinite(r)) return;
      const v = Math.min(1, Math.max(0, r));
      if (v !== r) clamped++;
      row.n++;
      row.rewardSum += v;
      armN[a]++;
      armSum[a] += v;
    });
  }
  return assembleBanditReport(bandit, frame, chosenTotal, { decisions: decisions.length, clamped });
}

/**
 * Reads every `.jsonl` decision log in `dir` (one per server process; a missing directory is an
 * empty log) and builds the report of `bandit` ({@link buildBanditReport}).
 * @throws DataError naming file and line for a malformed line.
 */
export async function readBanditReport(
  dir: string,
  bandit: string,
  options: BanditReportOptions = {},
): Promise<BanditReport> {
  const info = await stat(dir).catch(() => null);
  const files =
    info?.isDirectory() === true
      ? (await readdir(dir))
          .filter((f) => f.endsWith('.jsonl'))
          .sort()
          .map((f) => join(dir, f))
      : [];
  const lines: DecisionLogLine[] = [];
  for await (const line of readDecisionLogLines(files))
    if (line.bandit === bandit) lines.push(line);
  return buildBanditReport(bandit, lines, options);
}
