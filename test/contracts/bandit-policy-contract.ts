import { describe, expect, it } from 'vitest';
import type {
  BanditPolicy,
  DecideInput,
  Feedback,
  PolicyKind,
} from '../../src/bandits/bandit-policy.js';
import { seededRandom } from '../../src/bandits/bandit-policy.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

/** What a policy promises beyond the contract, so the suite knows which answers to expect. */
export interface PolicyTraits {
  /** Whether choices depend on the context (and the context is checked). */
  contextual: boolean;
  /** Whether `actionProbabilities` is exact (else a Monte Carlo estimate). */
  exactProbabilities: boolean;
}

const DIM = 3;
const CANDIDATES = ['a', 'b', 'c', 'd', 'e'];

/** A context with a constant first feature (a bias) and two random ones. */
function context(random: () => number): Float64Array {
  return Float64Array.from([1, random() - 0.5, random() - 0.5]);
}

/**
 * Feedback that makes `a` good (reward 1 w.p. 0.8), `b` middling (0.5) and the others poor (0.2),
 * 20 rounds each, so the policies hold non-trivial state; `e` stays unseen.
 */
function training(seed = 7): Feedback[] {
  const random = seededRandom(seed);
  const rate: Record<string, number> = { a: 0.8, b: 0.5, c: 0.2, d: 0.2 };
  const out: Feedback[] = [];
  for (let round = 0; round < 20; round++) {
    for (const arm of ['a', 'b', 'c', 'd'])
      out.push({ arm, context: context(random), reward: random() < rate[arm] ? 1 : 0 });
  }
  return out;
}

/** Per slot, how often each candidate was chosen over `n` seeded decisions. */
function frequencies(
  policy: BanditPolicy,
  input: DecideInput,
  n: number,
  seed: number,
): Float64Array[] {
  const random = seededRandom(seed);
  const out = Array.from({ length: input.slots }, () => new Float64Array(input.candidates.length));
  for (let k = 0; k < n; k++) {
    const { arms } = policy.select(input, random);
    arms.forEach((arm, s) => (out[s][input.candidates.indexOf(arm)] += 1 / n));
  }
  return out;
}

function expectInvalid(fn: () => unknown, field: string | RegExp): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidArgumentError);
  if (typeof field === 'string') expect((error as InvalidArgumentError).field).toBe(field);
  else expect((error as InvalidArgumentError).field).toMatch(field);
}

/**
 * The conformance suite every {@link BanditPolicy} runs: decision shape and propensities, action
 * probabilities against observed choice frequencies, reproducibility from a seed, snapshot →
 * restore equality, learning toward the rewarded arm, and argument errors. `create` must return
 * a new, empty policy with context length 3 on each call.
 */
export function describeBanditPolicy(
  kind: PolicyKind,
  create: (params?: Record<string, number>) => BanditPolicy,
  traits: PolicyTraits,
): void {
  describe(`BanditPolicy contract: ${kind}`, () => {
    const trained = (): BanditPolicy => {
      const policy = create();
      policy.update(training());
      return policy;
    };
    const input = (slots: number, seed = 3): DecideInput => ({
      context: context(seededRandom(seed)),
      candidates: CANDIDATES,
      slots,
    });

    it('reports its kind and dim', () => {
      const policy = create();
      expect(policy.kind).toBe(kind);
      expect(policy.dim).toBe(DIM);
    });

    it('chooses distinct candidates, one per slot, with propensities in (0, 1]', () => {
      const random = seededRandom(1);
      for (const policy of [create(), trained()]) {
        for (const slots of [1, 2, 5]) {
          for (let k = 0; k < 20; k++) {
            const decision = policy.select(input(slots, k), random);
            expect(decision.arms).toHaveLength(slots);
            expect(new Set(decision.arms).size).toBe(slots);
            for (const arm of decision.arms) expect(CANDIDATES).toContain(arm);
            expect(decision.propensities).toHaveLength(slots);
            for (const p of decision.propensities) {
              expect(p).toBeGreaterThan(0);
              expect(p).toBeLessThanOrEqual(1);
            }
          }
        }
      }
    });

    it('gives the last remaining candidate propensity 1', () => {
      const decision = trained().select(input(CANDIDATES.length), seededRandom(2));
      expect(decision.propensities[CANDIDATES.length - 1]).toBe(1);
    });

    it('gives action probabilities that sum to 1 per slot and match how often select chooses each arm', () => {
      const policy = trained();
      const n = 3000;
      for (const slots of [1, 3]) {
        const probabilities = policy.actionProbabilities(input(slots), seededRandom(11), 4000);
        expect(probabilities).toHaveLength(slots);
        for (const row of probabilities) {
          expect(row).toHaveLength(CANDIDATES.length);
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        }
        // Each arm appears at most once per decision, so its probabilities over slots sum to ≤ 1.
        for (let c = 0; c < CANDIDATES.length; c++)
          expect(probabilities.reduce((sum, row) => sum + row[c], 0)).toBeLessThanOrEqual(1 + 1e-9);
        const observed = frequencies(policy, input(slots), n, 5);
        for (let s = 0; s < slots; s++) {
          for (let c = 0; c < CANDIDATES.length; c++) {
            // 4 standard errors of a frequency from 3000 draws, plus the estimate's own error.
            expect(Math.abs(observed[s][c] - probabilities[s][c])).toBeLessThan(
              traits.exactProbabilities ? 0.037 : 0.05,
            );
          }
        }
      }
    });

    it('reports slot propensities that agree with the action probabilities', () => {
      const policy = trained();
      const probabilities = policy.actionProbabilities(input(1), seededRandom(12), 4000)[0];
      const random = seededRandom(13);
      for (let k = 0; k < 30; k++) {
        const decision = policy.select(input(1), random);
        const expected = probabilities[CANDIDATES.indexOf(decision.arms[0])];
        if (traits.exactProbabilities) expect(decision.propensities[0]).toBeCloseTo(expected, 9);
        else expect(Math.abs(decision.propensities[0] - expected)).toBeLessThan(0.08);
      }
    });

    it('decides the same with the same seed, and differently across seeds when it randomises', () => {
      const policy = trained();
      const run = (seed: number): string[][] => {
        const random = seededRandom(seed);
        return Array.from({ length: 30 }, (_, k) => policy.select(input(2, k), random).arms);
      };
      expect(run(42)).toEqual(run(42));
    });

    it('restores from a JSON snapshot to a policy that decides the same', () => {
      const original = trained();
      const state = JSON.parse(JSON.stringify(original.snapshot()));
      const copy = create({});
      copy.restore(state);
      expect(copy.snapshot()).toEqual(original.snapshot());
      // The copy inverts exactly what the original reached by rank-one steps: equal up to rounding.
      const close = (a: readonly number[] | Float64Array, b: readonly number[] | Float64Array) => {
        expect(a.length).toBe(b.length);
        for (let j = 0; j < a.length; j++) expect(a[j]).toBeCloseTo(b[j], 10);
      };
      for (let seed = 0; seed < 20; seed++) {
        const mine = copy.select(input(3, seed), seededRandom(seed));
        const theirs = original.select(input(3, seed), seededRandom(seed));
        expect(mine.arms).toEqual(theirs.arms);
        close(mine.propensities, theirs.propensities);
      }
      const probabilities = original.actionProbabilities(input(2), seededRandom(9), 500);
      copy
        .actionProbabilities(input(2), seededRandom(9), 500)
        .forEach((row, s) => close(row, probabilities[s]));
      // The copy is independent of the original.
      copy.update([{ arm: 'e', context: context(seededRandom(1)), reward: 1 }]);
      expect(original.snapshot().arms.e).toBeUndefined();
    });

    it('snapshots counts and reward sums per arm', () => {
      const state = trained().snapshot();
      expect(state.kind).toBe(kind);
      expect(state.dim).toBe(DIM);
      expect(Object.keys(state.arms).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(state.arms.a.n).toBe(20);
      const rewards = training()
        .filter((f) => f.arm === 'a')
        .reduce((sum, f) => sum + f.reward, 0);
      expect(state.arms.a.rewardSum).toBe(rewards);
    });

    it('moves its choice toward the rewarded arm', () => {
      const policy = create();
      const random = seededRandom(21);
      const before = policy.actionProbabilities(input(1), seededRandom(1), 4000)[0][2];
      const feedback: Feedback[] = [];
      for (let k = 0; k < 40; k++)
        for (const arm of CANDIDATES)
          feedback.push({ arm, context: context(random), reward: arm === 'c' ? 1 : 0 });
      policy.update(feedback);
      const after = policy.actionProbabilities(input(1), seededRandom(1), 4000)[0][2];
      expect(after).toBeGreaterThan(before);
      expect(after).toBeGreaterThan(0.85);
      expect(policy.select(input(1), seededRandom(4)).arms[0]).toBe('c');
    });

    it('refuses malformed decisions, naming the field', () => {
      const policy = trained();
      const random = seededRandom(1);
      const x = context(random);
      expectInvalid(
        () => policy.select({ context: x, candidates: [], slots: 1 }, random),
        'candidates',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['a', 'b', 'a'], slots: 1 }, random),
        'candidates',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['x', 'y', 'x'], slots: 1 }, random),
        'candidates',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['a', ''], slots: 1 }, random),
        'candidates[1]',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['a', 'b'], slots: 0 }, random),
        'slots',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['a', 'b'], slots: 3 }, random),
        'slots',
      );
      expectInvalid(
        () => policy.select({ context: x, candidates: ['a', 'b'], slots: 1.5 }, random),
        'slots',
      );
      expectInvalid(
        () => policy.actionProbabilities({ context: x, candidates: ['a', 'a'], slots: 1 }, random),
        'candidates',
      );
      if (traits.contextual) {
        expectInvalid(
          () =>
            policy.select({ context: new Float64Array(2), candidates: ['a'], slots: 1 }, random),
          'context',
        );
        expectInvalid(
          () =>
            policy.select(
              { context: Float64Array.from([1, NaN, 0]), candidates: ['a'], slots: 1 },
              random,
            ),
          'context[1]',
        );
      }
    });

    it('refuses malformed feedback without changing its state', () => {
      const policy = trained();
      const before = policy.snapshot();
      const x = context(seededRandom(1));
      expectInvalid(
        () =>
          policy.update([
            { arm: 'a', context: x, reward: 1 },
            { arm: 'b', context: x, reward: Number.NaN },
          ]),
        'feedback[1].reward',
      );
      expectInvalid(() => policy.update([{ arm: '', context: x, reward: 1 }]), 'feedback[0].arm');
      if (kind === 'bts')
        expectInvalid(
          () => policy.update([{ arm: 'a', context: x, reward: 2 }]),
          'feedback[0].reward',
        );
      if (traits.contextual)
        expectInvalid(
          () => policy.update([{ arm: 'a', context: new Float64Array(1), reward: 1 }]),
          'feedback[0].context',
        );
      expect(policy.snapshot()).toEqual(before);
    });

    it('refuses unknown parameters and a snapshot of another kind or dim', () => {
      expectInvalid(() => create({ nonsense: 1 }), 'params.nonsense');
      const policy = create();
      const state = policy.snapshot();
      expectInvalid(
        () => policy.restore({ ...state, kind: kind === 'ucb1' ? 'egreedy' : 'ucb1' }),
        'state.kind',
      );
      expectInvalid(() => policy.restore({ ...state, dim: DIM + 1 }), 'state.dim');
      expectInvalid(
        () => policy.restore({ ...state, arms: { a: { n: -1, rewardSum: 0 } } }),
        'state.arms.a.n',
      );
      if (!traits.exactProbabilities)
        expectInvalid(() => policy.actionProbabilities(input(1), seededRandom(1), 0), 'samples');
    });
  });
}
