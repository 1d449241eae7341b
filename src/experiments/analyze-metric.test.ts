import { describe, expect, it } from 'vitest';
import { analyzeMetric, type VariantInput } from './analyze-metric.js';

const sums = (units: number, converted: number): VariantInput => ({ units, converted, sum: converted, sumSquares: converted });
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
    const input = { metric: 'clicked', kind: 'conversion' as const, control: 'control', variants, sums: bucket, timeline: [{ bucketStartMs: start, sums: bucket }] };
    expect(analyzeMetric(input, { bucketMs: 3_600_000 }).timeline.map((p) => p.until)).toEqual(['2026-03-01T11:00:00.000Z']);
    // Without the width, a lone bucket is taken as a day.
    expect(analyzeMetric(input).timeline.map((p) => p.until)).toEqual(['2026-03-02T10:00:00.000Z']);
  });

  it('accumulates the looks and takes the always-valid p as their running minimum', () => {
    const days = [
      [sums(500, 50), sums(500, 90)], // a strong early effect…
      [sums(500, 60), sums(500, 40)], // …that later days undo
    ];
    const timeline = days.map(([c, t], d) => ({ bucketStartMs: d * 86_400_000, sums: new Map([['control', c!], ['treatment', t!]]) }));
    const total = new Map([
      ['control', sums(1000, 110)],
      ['treatment', sums(1000, 130)],
    ]);
    // One mixture scale for every look, as the guarantee needs (by default it is taken from the last look).
    const tau = { tau: 0.03 };
    const withLooks = analyzeMetric({ metric: 'clicked', kind: 'conversion', control: 'control', variants, sums: total, timeline }, tau);
    expect(withLooks.timeline.map((p) => p.units)).toEqual([
      { control: 500, treatment: 500 },
      { control: 1000, treatment: 1000 },
    ]);
    expect(withLooks.timeline[1]!.lift.treatment!.estimate).toBeCloseTo(130 / 110 - 1, 12);
    const once = analyzeMetric({ metric: 'clicked', kind: 'conversion', control: 'control', variants, sums: total }, tau);
    const firstLookOnly = analyzeMetric({ metric: 'clicked', kind: 'conversion', control: 'control', variants, sums: timeline[0]!.sums }, tau);
    expect(withLooks.comparisons[0]!.sequential.looks).toBe(2);
    expect(withLooks.comparisons[0]!.sequential.pValue).toBeCloseTo(Math.min(once.comparisons[0]!.sequential.pValue, firstLookOnly.comparisons[0]!.sequential.pValue), 12);
    expect(withLooks.comparisons[0]!.sequential.pValue).toBeLessThan(once.comparisons[0]!.sequential.pValue);
  });
});
