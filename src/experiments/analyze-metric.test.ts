import { describe, expect, it } from 'vitest';
import { analyzeMetric, type VariantInput } from './analyze-metric.js';
import { sequentialTest } from './stats/sequential-test.js';
import { meanSummary } from './stats/types.js';

const sums = (units: number, converted: number): VariantInput => ({
  units,
  converted,
  sum: converted,
  sumSquares: converted,
});
const variants = [
  { name: 'control', weight: 1 },
  { name: 'treatment', weight: 1 },
];

describe('analyzeMetric timeline', () => {
  it('ends each look one bucket width after its start, also with a single hourly bucket', () => {
    const start = Date.UTC(2026, 2, 1, 10);
    const bucket = new Map([
      ['control', sums(100, 10)],
      ['treatment', sums(100, 15)],
    ]);
    const input = {
      metric: 'clicked',
      kind: 'conversion' as const,
      control: 'control',
      variants,
      sums: bucket,
      timeline: [{ bucketStartMs: start, sums: bucket }],
    };
    expect(analyzeMetric(input, { bucketMs: 3_600_000 }).timeline.map((p) => p.until)).toEqual([
      '2026-03-01T11:00:00.000Z',
    ]);
    // Without the width, a lone bucket is taken as a day.
    expect(analyzeMetric(input).timeline.map((p) => p.until)).toEqual(['2026-03-02T10:00:00.000Z']);
  });

  it('accumulates the looks and takes the always-valid p as their running minimum', () => {
    const days = [
      [sums(500, 50), sums(500, 90)], // a strong early effect…
      [sums(500, 60), sums(500, 40)], // …that later days undo
    ];
    const timeline = days.map(([c, t], d) => ({
      bucketStartMs: d * 86_400_000,
      sums: new Map([
        ['control', c!],
        ['treatment', t!],
      ]),
    }));
    const total = new Map([
      ['control', sums(1000, 110)],
      ['treatment', sums(1000, 130)],
    ]);
    // One mixture scale for every look, as the guarantee needs (by default it is taken from the last look).
    const tau = { tau: 0.03 };
    const withLooks = analyzeMetric(
      {
        metric: 'clicked',
        kind: 'conversion',
        control: 'control',
        variants,
        sums: total,
        timeline,
      },
      tau,
    );
    expect(withLooks.timeline.map((p) => p.units)).toEqual([
      { control: 500, treatment: 500 },
      { control: 1000, treatment: 1000 },
    ]);
    expect(withLooks.timeline[1]!.lift.treatment!.estimate).toBeCloseTo(130 / 110 - 1, 12);
    const once = analyzeMetric(
      { metric: 'clicked', kind: 'conversion', control: 'control', variants, sums: total },
      tau,
    );
    const firstLookOnly = analyzeMetric(
      {
        metric: 'clicked',
        kind: 'conversion',
        control: 'control',
        variants,
        sums: timeline[0]!.sums,
      },
      tau,
    );
    expect(withLooks.comparisons[0]!.sequential.looks).toBe(2);
    expect(withLooks.comparisons[0]!.sequential.pValue).toBeCloseTo(
      Math.min(
        once.comparisons[0]!.sequential.pValue,
        firstLookOnly.comparisons[0]!.sequential.pValue,
      ),
      12,
    );
    expect(withLooks.comparisons[0]!.sequential.pValue).toBeLessThan(
      once.comparisons[0]!.sequential.pValue,
    );
  });

  it('narrows the confidence sequence to the intersection of the looks, and says so when they do not overlap', () => {
    const tau = { tau: 0.03 };
    const dayOf = (c: VariantInput, t: VariantInput, d: number) => ({
      bucketStartMs: d * 86_400_000,
      sums: new Map([
        ['control', c],
        ['treatment', t],
      ]),
    });
    const cumulative = [
      [sums(500, 50), sums(500, 80)],
      [sums(1000, 110), sums(1000, 150)],
    ] as const;
    const timeline = [
      dayOf(sums(500, 50), sums(500, 80), 0),
      dayOf(sums(500, 60), sums(500, 70), 1),
    ];
    const r = analyzeMetric(
      {
        metric: 'clicked',
        kind: 'conversion',
        control: 'control',
        variants,
        sums: new Map([
          ['control', sums(1000, 110)],
          ['treatment', sums(1000, 150)],
        ]),
        timeline,
      },
      tau,
    );
    const cis = cumulative.map(([c, t]) => sequentialTest(meanSummary(c), meanSummary(t), tau).ci);
    expect(r.comparisons[0]!.sequential.ci[0]).toBeCloseTo(Math.max(cis[0]![0], cis[1]![0]), 12);
    expect(r.comparisons[0]!.sequential.ci[1]).toBeCloseTo(Math.min(cis[0]![1], cis[1]![1]), 12);
    expect(r.warnings).toEqual([]);

    // A large effect that reverses: day 1 far ahead, then far behind on ten times the traffic.
    const reversed = [
      dayOf(sums(500, 20), sums(500, 200), 0),
      dayOf(sums(5000, 1000), sums(5000, 100), 1),
    ];
    const moved = analyzeMetric(
      {
        metric: 'clicked',
        kind: 'conversion',
        control: 'control',
        variants,
        sums: new Map([
          ['control', sums(5500, 1020)],
          ['treatment', sums(5500, 300)],
        ]),
        timeline: reversed,
      },
      tau,
    );
    expect(moved.warnings.join('\n')).toMatch(
      /treatment: the confidence sequences of the looks do not overlap/,
    );
    expect(moved.comparisons[0]!.sequential.ci[1]).toBeLessThan(0); // the last look's, still finite
  });
});
