import { describe, expect, it } from 'vitest';
import { describeBanditPolicy } from '../../test/contracts/bandit-policy-contract.js';
import { InvalidArgumentError } from '../core/errors.js';
import { seededRandom, type PolicyKind } from './bandit-policy.js';
import { createPolicy, POLICY_KINDS } from './create-policy.js';
import { greedyRankMarginals } from './epsilon-greedy-policy.js';

const TRAITS: Record<PolicyKind, { contextual: boolean; exactProbabilities: boolean }> = {
  egreedy: { contextual: false, exactProbabilities: true },
  ucb1: { contextual: false, exactProbabilities: true },
  bts: { contextual: false, exactProbabilities: false },
  linucb: { contextual: true, exactProbabilities: true },
  lints: { contextual: true, exactProbabilities: false },
};

for (const kind of POLICY_KINDS)
  describeBanditPolicy(
    kind,
    (params) => createPolicy(kind, { dim: 3, ...(params ? { params } : {}) }),
    TRAITS[kind],
  );

describe('createPolicy', () => {
  it('refuses an unknown kind, a bad dim and out-of-range parameters', () => {
    expect(() => createPolicy('nope' as PolicyKind, { dim: 1 })).toThrow(InvalidArgumentError);
    expect(() => createPolicy('linucb', { dim: 0 })).toThrow(/dim/);
    expect(() => createPolicy('ucb1', { dim: -1 })).toThrow(/dim/);
    expect(() => createPolicy('egreedy', { dim: 0, params: { epsilon: 1.5 } })).toThrow(
      /params.epsilon/,
    );
    expect(() => createPolicy('linucb', { dim: 2, params: { lambda: 0 } })).toThrow(
      /params.lambda/,
    );
    expect(() => createPolicy('bts', { dim: 0, params: { draws: 2.5 } })).toThrow(/params.draws/);
  });

  it('applies defaults and reports them in the snapshot', () => {
    expect(createPolicy('linucb', { dim: 2 }).snapshot().params).toEqual({ alpha: 1, lambda: 1 });
    expect(createPolicy('egreedy', { dim: 0, params: { epsilon: 0.2 } }).snapshot().params).toEqual(
      { epsilon: 0.2, initial: 0 },
    );
  });

  it('lets non-contextual policies ignore the context', () => {
    const policy = createPolicy('ucb1', { dim: 0 });
    expect(
      policy.select(
        { context: new Float64Array(0), candidates: ['a', 'b'], slots: 2 },
        seededRandom(1),
      ).arms,
    ).toHaveLength(2);
  });
});

describe('greedyRankMarginals', () => {
  /** ε-greedy over strict ranks, by enumerating every path (exact, exponential: small m only). */
  function bruteForce(m: number, slots: number, epsilon: number): number[][] {
    const out = Array.from({ length: slots }, () => new Array<number>(m).fill(0));
    const walk = (removed: boolean[], slot: number, weight: number): void => {
      if (slot === slots) return;
      const remaining = removed.flatMap((r, i) => (r ? [] : [i]));
      const best = remaining[0];
      for (const i of remaining) {
        const p = epsilon / remaining.length + (i === best ? 1 - epsilon : 0);
        out[slot][i] += weight * p;
        const next = removed.slice();
        next[i] = true;
        walk(next, slot + 1, weight * p);
      }
    };
    walk(new Array<boolean>(m).fill(false), 0, 1);
    return out;
  }

  it('matches an exhaustive enumeration', () => {
    for (const [m, slots, epsilon] of [
      [5, 5, 0.3],
      [6, 3, 0.7],
      [4, 2, 1],
      [4, 4, 0],
      [7, 4, 0.1],
    ] as const) {
      const exact = greedyRankMarginals(m, slots, epsilon);
      const expected = bruteForce(m, slots, epsilon);
      for (let s = 0; s < slots; s++)
        for (let r = 0; r < m; r++) expect(exact[s][r]).toBeCloseTo(expected[s][r], 12);
    }
  });
});
