import { describe, expect, it } from 'vitest';
import { seededRandom, type Feedback } from './bandit-policy.js';
import { createPolicy, POLICY_KINDS } from './create-policy.js';

const D = 3;
const EXACT = new Set(['egreedy', 'ucb1', 'linucb']);

describe.each(POLICY_KINDS)('%s slot marginals', (kind) => {
  it('give each chosen arm the marginal probability of its slot (what the decision log keeps)', () => {
    const contextual = kind === 'linucb' || kind === 'lints';
    const policy = createPolicy(kind, {
      dim: contextual ? D : 0,
      params: kind === 'egreedy' ? { epsilon: 0.3 } : {},
    });
    const random = seededRandom(2);
    const feedback: Feedback[] = [];
    for (let k = 0; k < 60; k++)
      feedback.push({
        arm: `a${k % 4}`,
        context: Float64Array.from({ length: D }, () => random()),
        reward: random() < 0.2 + (k % 4) * 0.15 ? 1 : 0,
      });
    // Two arms tie (never seen), so exchangeable arms share their marginals.
    policy.update(
      contextual ? feedback : feedback.map((f) => ({ ...f, context: new Float64Array(0) })),
    );
    const input = {
      context: Float64Array.from([0.5, 0.2, 0.9]),
      candidates: ['a0', 'a1', 'a2', 'a3', 'x', 'y'],
      slots: 3,
    };
    const exact = policy.actionProbabilities(input, seededRandom(5), 40_000);
    for (let seed = 0; seed < 8; seed++) {
      const { arms, propensities } = policy.select(input, seededRandom(seed));
      const marginals = policy.slotMarginals(input, arms, seededRandom(100 + seed));
      expect(marginals).toHaveLength(3);
      arms.forEach((arm, s) => {
        const expected = exact[s][input.candidates.indexOf(arm)];
        if (EXACT.has(kind)) expect(marginals[s]).toBeCloseTo(expected, 12);
        else expect(Math.abs(marginals[s] - expected)).toBeLessThan(0.05 + 0.2 * expected);
        expect(marginals[s]).toBeGreaterThan(0);
        expect(marginals[s]).toBeLessThanOrEqual(1);
      });
      // Slot 0's marginal is its propensity.
      if (EXACT.has(kind)) expect(marginals[0]).toBeCloseTo(propensities[0], 12);
    }
  });
});
