import { describe, expect, it } from 'vitest';
import { seededRandom, type Feedback } from './bandit-policy.js';
import { createPolicy } from './create-policy.js';
import { LinearArms } from './linear-arms.js';
import { feedbackIncrements } from './sufficient-statistics.js';

const D = 5;

function observations(count: number, seed: number): Feedback[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, k) => ({
    arm: `arm${k % 3}`,
    context: Float64Array.from({ length: D }, () => random() * 2 - 1),
    reward: random() < 0.4 ? 1 : 0,
  }));
}

describe('LinearArms rank-one updates', () => {
  it('give the same inverse, θ and scores as the direct solve after every observation', () => {
    const incremental = new LinearArms(D, 0.7);
    const direct = new LinearArms(D, 0.7);
    incremental.initArm(0);
    direct.initArm(0);
    const z = new Float64Array(incremental.rowLength);
    const x = Float64Array.from([0.3, -1, 0.5, 0.25, 2]);
    incremental.products(x, z);
    for (const f of observations(200, 3)) {
      incremental.add(0, f.context, f.reward);
      incremental.rankOne(0, f.context, f.reward);
      direct.add(0, f.context, f.reward);
      direct.refresh(0);
      for (let j = 0; j < D * D; j++) expect(incremental.invA[j]).toBeCloseTo(direct.invA[j], 10);
      for (let j = 0; j < D; j++) expect(incremental.theta[j]).toBeCloseTo(direct.theta[j], 10);
      const [m1, s1, m2, s2] = [
        new Float64Array(1),
        new Float64Array(1),
        new Float64Array(1),
        new Float64Array(1),
      ];
      incremental.estimateAll(Int32Array.of(0), z, m1, s1);
      direct.estimateAll(Int32Array.of(0), z, m2, s2);
      expect(m1[0]).toBeCloseTo(m2[0], 10);
      expect(s1[0]).toBeCloseTo(s2[0], 10);
    }
  });
});

describe.each(['linucb', 'lints'] as const)('%s with incremental updates', (kind) => {
  it('scores arms as a policy solved directly from the same statistics', () => {
    const updated = createPolicy(kind, { dim: D, params: { lambda: 0.5 } });
    // Feedback one observation at a time: rank-one steps (and the periodic exact inversion).
    for (const f of observations(300, 5)) updated.update([f]);
    const solved = createPolicy(kind, { dim: D, params: { lambda: 0.5 } });
    solved.restore(JSON.parse(JSON.stringify(updated.snapshot())));
    const random = seededRandom(8);
    for (let k = 0; k < 20; k++) {
      const input = {
        context: Float64Array.from({ length: D }, () => random() * 2 - 1),
        candidates: ['arm0', 'arm1', 'arm2', 'new'],
        slots: 2,
      };
      const a = updated.select(input, seededRandom(k));
      const b = solved.select(input, seededRandom(k));
      expect(a.arms).toEqual(b.arms);
      a.propensities.forEach((p, s) => expect(p).toBeCloseTo(b.propensities[s], 10));
    }
  });

  it('recomputes an inverse from store totals only for arms whose totals changed', () => {
    const policy = createPolicy(kind, { dim: D });
    const first = feedbackIncrements(kind, D, observations(30, 1));
    expect(policy.setTotals(first)).toBe(3);
    expect(policy.setTotals(first)).toBe(0);
    // This process's own feedback applied by rank-one steps, then the store's totals (summed in
    // another order) arrive: equal up to rounding, so no arm is inverted again.
    const more = observations(9, 2);
    policy.update(more);
    const totals = feedbackIncrements(
      kind,
      D,
      more,
      new Map([...first].map(([arm, v]) => [arm, v.slice()])),
    );
    expect(policy.setTotals(totals)).toBe(0);
    // Another process's feedback on arm1 only.
    const other = feedbackIncrements(
      kind,
      D,
      observations(3, 9).map((f) => ({ ...f, arm: 'arm1' })),
      new Map([...totals].map(([arm, v]) => [arm, v.slice()])),
    );
    expect(policy.setTotals(other)).toBe(1);
    expect(policy.snapshot().arms.arm1.n).toBe(other.get('arm1')![0]);
    expect(() => policy.setTotals([['arm0', new Float64Array(3)]])).toThrow(/totals\.arm0/);
  });
});
