import { describe, expect, it } from 'vitest';
import { seededRandom, type Feedback } from './bandit-policy.js';
import { createPolicy, POLICY_KINDS } from './create-policy.js';
import {
  addStatistics,
  feedbackIncrements,
  restoreFromTotals,
  statisticsWidth,
} from './sufficient-statistics.js';

function feedback(n: number, seed: number): Feedback[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, k) => ({
    arm: `arm${k % 3}`,
    context: Float64Array.from([1, random(), random() - 0.5]),
    reward: random() < 0.5 ? 1 : 0,
  }));
}

describe('sufficient statistics', () => {
  it('has 2 numbers per arm, plus d² + d for the linear kinds', () => {
    expect(statisticsWidth('bts', 20)).toBe(2);
    expect(statisticsWidth('linucb', 20)).toBe(422);
  });

  for (const kind of POLICY_KINDS) {
    it(`${kind}: totals merged from batches in any order restore the state updates build`, () => {
      const all = feedback(60, 1);
      const direct = createPolicy(kind, { dim: 3 });
      direct.update(all);
      // Two "processes" each sum their own half; the store adds both.
      const first = feedbackIncrements(kind, 3, all.slice(30));
      const second = feedbackIncrements(kind, 3, all.slice(0, 30));
      const totals = new Map<string, Float64Array>();
      for (const part of [first, second]) {
        for (const [arm, v] of part) {
          const t = totals.get(arm);
          if (t === undefined) totals.set(arm, v.slice());
          else addStatistics(t, v);
        }
      }
      const merged = createPolicy(kind, { dim: 3 });
      restoreFromTotals(merged, totals);
      const a = direct.snapshot();
      const b = merged.snapshot();
      expect(Object.keys(b.arms).sort()).toEqual(Object.keys(a.arms).sort());
      for (const arm of Object.keys(a.arms)) {
        expect(b.arms[arm].n).toBe(a.arms[arm].n);
        expect(b.arms[arm].rewardSum).toBe(a.arms[arm].rewardSum);
        for (const key of ['A', 'b'] as const) {
          (a.arms[arm][key] ?? []).forEach((v, j) =>
            expect(b.arms[arm][key]?.[j]).toBeCloseTo(v, 9),
          );
        }
      }
    });
  }

  it('refuses bad feedback before adding anything', () => {
    const into = new Map<string, Float64Array>();
    expect(() =>
      feedbackIncrements(
        'linucb',
        3,
        [
          { arm: 'a', context: new Float64Array(3), reward: 1 },
          { arm: 'b', context: new Float64Array(2), reward: 1 },
        ],
        into,
      ),
    ).toThrow(/feedback\[1\].context/);
    expect(into.size).toBe(0);
  });
});
