import { describe, expect, it } from 'vitest';
import { buildBanditReport, chooseBucketMs, wilsonInterval } from './bandit-report.js';
import type { DecisionLogLine } from './decision-log.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function decision(id: string, atS: number, arms: string[], bandit = 'home'): DecisionLogLine {
  return {
    type: 'decision',
    decisionId: id,
    bandit,
    policy: 'ucb1',
    version: 0,
    time: new Date(T0 + atS * 1000).toISOString(),
    context: [],
    candidates: ['a', 'b'],
    arms,
    positions: arms.map((_, j) => j),
    propensities: arms.map(() => 0.5),
  };
}
function feedback(id: string, arms: string[], rewards: number[], bandit = 'home'): DecisionLogLine {
  return {
    type: 'feedback',
    decisionId: id,
    bandit,
    time: new Date(T0).toISOString(),
    arms,
    rewards,
  };
}

describe('wilsonInterval', () => {
  it('matches hand-computed 95% intervals', () => {
    const half = wilsonInterval(5, 10);
    expect(half.low).toBeCloseTo(0.236593, 5);
    expect(half.high).toBeCloseTo(0.763407, 5);
    const none = wilsonInterval(0, 4);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(0.489891, 5);
    const all = wilsonInterval(1, 1);
    expect(all.low).toBeCloseTo(1 / (1 + 1.959963984540054 ** 2), 9);
    expect(all.high).toBeCloseTo(1, 9);
    expect(wilsonInterval(0, 0)).toEqual({ low: null, high: null });
  });

  it('always contains the rate, exactly at 0 and 1 (rounding once left 1 − 1e-16 as the upper bound of an all-rewarded log)', () => {
    for (let n = 1; n <= 200; n++) {
      expect(wilsonInterval(n, n).high).toBe(1);
      expect(wilsonInterval(0, n).low).toBe(0);
      for (const k of [1, Math.floor(n / 3), n - 1]) {
        const { low, high } = wilsonInterval(k, n);
        expect(low!).toBeLessThanOrEqual(k / n);
        expect(high!).toBeGreaterThanOrEqual(k / n);
      }
    }
  });
});

describe('chooseBucketMs', () => {
  it('picks the smallest nice width with at most maxBuckets aligned buckets', () => {
    expect(chooseBucketMs(T0, T0 + 70_000, 2)).toBe(60_000);
    expect(chooseBucketMs(T0, T0 + 70_000, 48)).toBe(5_000); // 15 buckets of 5 s
    expect(chooseBucketMs(T0, T0, 48)).toBe(1_000);
    expect(chooseBucketMs(T0, T0 + 30 * 86_400_000, 48)).toBe(86_400_000);
    const years = chooseBucketMs(T0, T0 + 3 * 365 * 86_400_000, 48);
    expect(
      Math.floor((T0 + 3 * 365 * 86_400_000) / years) - Math.floor(T0 / years) + 1,
    ).toBeLessThanOrEqual(48);
  });
});

describe('buildBanditReport', () => {
  const lines: DecisionLogLine[] = [
    decision('d1', 0, ['a']),
    decision('d2', 10, ['b']),
    feedback('d1', ['a'], [1]),
    feedback('d2', ['b'], [0]),
    decision('d3', 30, ['a']),
    feedback('d3', ['a'], [1]),
    decision('d4', 70, ['a']), // no feedback
    decision('d5', 80, ['b']),
    feedback('d5', ['b'], [2]), // clamped to 1
    decision('x1', 5, ['c'], 'other'),
    feedback('x1', ['c'], [1], 'other'),
    feedback('ghost', ['a'], [1]), // orphan feedback: ignored
  ];

  it('buckets arm shares and reward rates with hand-computed numbers', () => {
    const report = buildBanditReport('home', lines, { maxBuckets: 2 });
    expect(report.bucketMs).toBe(60_000);
    expect(report.from).toBe('2026-01-01T00:00:00.000Z');
    expect(report.to).toBe('2026-01-01T00:02:00.000Z');
    expect(report.decisions).toBe(5);
    expect(report.impressions).toBe(5);
    expect(report.arms).toEqual(['a', 'b']);
    expect(report.clampedRewards).toBe(1);
    expect(report.buckets).toHaveLength(2);
    const [b0, b1] = report.buckets;
    expect(b0.start).toBe('2026-01-01T00:00:00.000Z');
    expect(b0.chosen).toEqual([2, 1]);
    expect(b0.shares[0]).toBeCloseTo(2 / 3, 12);
    expect(b0.shares[1]).toBeCloseTo(1 / 3, 12);
    expect(b0.reward.n).toBe(3);
    expect(b0.reward.rewardSum).toBe(2);
    expect(b0.reward.rate).toBeCloseTo(2 / 3, 12);
    expect(b1.start).toBe('2026-01-01T00:01:00.000Z');
    expect(b1.decisions).toBe(2);
    expect(b1.shares).toEqual([0.5, 0.5]);
    expect(b1.reward.n).toBe(1);
    expect(b1.reward.rate).toBe(1);
    expect(b1.reward.low).toBeCloseTo(1 / (1 + 1.959963984540054 ** 2), 9);
    expect(report.totals).toEqual([
      expect.objectContaining({ arm: 'a', chosen: 3, share: 0.6, n: 2, rewardSum: 2, rate: 1 }),
      expect.objectContaining({ arm: 'b', chosen: 2, share: 0.4, n: 2, rewardSum: 1, rate: 0.5 }),
    ]);
    expect(report.overall.n).toBe(4);
    expect(report.overall.rate).toBe(0.75);
  });

  it('counts each slot of a multi-slot decision as an impression, leaves empty buckets empty, and reports nothing without decisions', () => {
    const report = buildBanditReport(
      'home',
      [decision('m', 0, ['a', 'b']), feedback('m', ['a', 'b'], [1, 0]), decision('n', 150, ['b'])],
      { maxBuckets: 3 },
    );
    expect(report.bucketMs).toBe(60_000);
    expect(report.buckets.map((b) => b.impressions)).toEqual([2, 0, 1]);
    expect(report.buckets[0].shares).toEqual([0.5, 0.5]);
    expect(report.buckets[1].shares).toEqual([0, 0]);
    expect(report.buckets[1].reward).toEqual({
      n: 0,
      rewardSum: 0,
      rate: null,
      low: null,
      high: null,
    });
    expect(report.buckets[0].reward.rate).toBe(0.5);
    expect(report.arms).toEqual(['b', 'a']);
    const none = buildBanditReport('nobody', lines);
    expect(none).toMatchObject({ decisions: 0, buckets: [], totals: [], from: null, bucketMs: 0 });
  });
});
