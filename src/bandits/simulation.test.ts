import { describe, expect, it } from 'vitest';
import { createPolicy, POLICY_KINDS } from './create-policy.js';
import { LinearEnvironment, simulateRegret } from './simulation.js';

describe('regret simulation (10 arms, 6 features, known best arm per context)', () => {
  const env = new LinearEnvironment({ arms: 10, dim: 6, seed: 5, best: 3 });
  const rounds = 3000;
  const random = simulateRegret('random', env, { rounds, seed: 1 });
  const results = Object.fromEntries(
    POLICY_KINDS.map((kind) => [
      kind,
      simulateRegret(
        createPolicy(kind, { dim: 6, params: kind === 'linucb' ? { alpha: 0.5 } : {} }),
        env,
        { rounds, seed: 1 },
      ),
    ]),
  );

  it('gives random choice a large regret', () => {
    expect(random.regret).toBeGreaterThan(0.2 * rounds);
    expect(random.bestShare).toBeLessThan(0.15);
  });

  for (const kind of ['linucb', 'lints'] as const) {
    it(`${kind} reaches clearly lower regret than random, and than the non-contextual policies`, () => {
      const result = results[kind];
      expect(result.regret).toBeLessThan(0.35 * random.regret);
      expect(result.bestShare).toBeGreaterThan(0.45);
      for (const other of ['egreedy', 'ucb1', 'bts'] as const)
        expect(result.regret).toBeLessThan(0.6 * results[other].regret);
    });
  }

  it('has every policy beat random', () => {
    for (const kind of POLICY_KINDS)
      expect(results[kind].regret, kind).toBeLessThan(0.9 * random.regret);
  });
});
