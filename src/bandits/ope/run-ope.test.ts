import { beforeAll, describe, expect, it } from 'vitest';
import type { DecideInput, Feedback } from '../bandit-policy.js';
import { POLICY_KINDS } from '../create-policy.js';
import type { BanditLog } from './bandit-log.js';
import { readObdLog } from './read-obd-log.js';
import { runOpe } from './run-ope.js';
import { targetProbabilities, trainPolicy, UNIFORM_POLICY } from './target-policy.js';

const MEN = 'datasets/open-bandit-random/men/men.csv';

/**
 * DM and DR of the uniform policy on rows 7,001–10,000 of the bundled men log, with the reward
 * model fitted on rows 1–7,000 at l2 = 100 (C = 0.01). Computed offline with scikit-learn 1.2.1
 * (LogisticRegression(C=0.01, tol=1e-10), lbfgs) on the same features rebuilt in Python with
 * numpy: one-hot user features (sorted categories), the affinity to the item, item_feature_0,
 * one-hot item_feature_1..3, one-hot item, one-hot position.
 */
const SKLEARN_MEN_L2_100 = { dm: 0.003999527426131625, dr: 0.006007690628996447 };

let men: BanditLog;
beforeAll(async () => {
  men = await readObdLog(MEN);
});

describe('runOpe on the bundled Open Bandit men log', () => {
  it('estimates the uniform random (logging) policy at its observed click rate', () => {
    const r = runOpe(men, { policy: 'uniform', rewardModel: { l2: 100 } });
    expect(r.trainRows).toBe(7000);
    expect(r.evalRows).toBe(3000);
    // 18 clicks in the last 3,000 impressions.
    expect(r.observed.value).toBeCloseTo(18 / 3000, 15);
    expect(r.weights).toEqual({ mean: 1, max: 1, effectiveSampleSize: 3000 });
    // Target = behaviour: every weight is 1, so IPS and SNIPS are the observed rate, interval included.
    for (const name of ['ips', 'snips'] as const) {
      expect(r.estimates[name]?.value).toBeCloseTo(r.observed.value, 15);
      expect(r.estimates[name]?.ci[0]).toBeCloseTo(r.observed.ci[0], 15);
      expect(r.estimates[name]?.ci[1]).toBeCloseTo(r.observed.ci[1], 15);
    }
    for (const name of ['ips', 'snips', 'dr', 'sndr'] as const) {
      const { ci } = r.estimates[name]!;
      expect(ci[0]).toBeLessThanOrEqual(r.observed.value);
      expect(ci[1]).toBeGreaterThanOrEqual(r.observed.value);
    }
    expect(r.estimates.dm?.value).toBeCloseTo(SKLEARN_MEN_L2_100.dm, 8);
    expect(r.estimates.dr?.value).toBeCloseTo(SKLEARN_MEN_L2_100.dr, 8);
    // With unit weights SNDR is DR.
    expect(r.estimates.sndr?.value).toBeCloseTo(r.estimates.dr!.value, 15);
    expect(r.rewardModel).toMatchObject({ link: 'logit', features: 91, l2: 100, converged: true });
  });

  it('trains every kiban policy on the first 70% and evaluates it on the rest', () => {
    for (const policy of POLICY_KINDS) {
      const r = runOpe(men, {
        policy,
        estimators: ['ips', 'snips', 'dr', 'sndr', 'replay'],
        resamples: 50,
        samples: 30,
        rewardModel: { l2: 100 },
      });
      expect(r.training, policy).toEqual({ mode: 'all', updates: 7000 });
      // Uniform logging covers every action, so the weights average about 1.
      expect(r.weights.mean, policy).toBeGreaterThan(0.85);
      expect(r.weights.mean, policy).toBeLessThan(1.15);
      for (const e of Object.values(r.estimates)) {
        expect(e.value, policy).toBeGreaterThanOrEqual(-0.01);
        expect(e.value, policy).toBeLessThan(0.05);
        expect(e.ci[0], policy).toBeLessThanOrEqual(e.value + 1e-12);
        expect(e.ci[1], policy).toBeGreaterThanOrEqual(e.value - 1e-12);
      }
      expect(r.replayMatches, policy).toBeGreaterThan(0);
    }
  });

  it('refuses a split with nothing to evaluate or nothing to train on, and unknown policies', () => {
    expect(() => runOpe(men, { policy: 'uniform', trainFraction: 1 })).toThrow(
      /trainFraction: must be in \[0, 1\), got 1/,
    );
    expect(() => runOpe(men, { policy: 'uniform', trainFraction: 0 })).toThrow(
      /trainFraction: 0 leaves no rows to train the reward model on/,
    );
    expect(() => runOpe(men, { policy: 'linucb', trainFraction: 0, estimators: ['ips'] })).toThrow(
      /no rows to train the linucb policy on/,
    );
    expect(() => runOpe(men, { policy: 'nope' as never })).toThrow(/policy: unknown policy "nope"/);
    expect(() => runOpe(men, { policy: 'uniform', params: { alpha: 1 } })).toThrow(
      /params: the uniform policy takes no parameters/,
    );
    const all = runOpe(men, {
      policy: 'uniform',
      trainFraction: 0,
      estimators: ['ips'],
      resamples: 0,
    });
    expect(all.estimates.ips?.value).toBeCloseTo(0.0046, 15);
  });
});

describe('targetProbabilities and trainPolicy', () => {
  /** Two rounds over actions a, b, c; round 0 offers {a, c} with two slots, round 1 all three. */
  const log: BanditLog = {
    source: 'tiny',
    rows: 3,
    actions: ['a', 'b', 'c'],
    positions: 2,
    action: Int32Array.of(0, 2, 1),
    position: Int32Array.of(0, 1, 0),
    reward: Float64Array.of(1, 0, 1),
    propensity: Float64Array.of(0.5, 1, 1 / 3),
    round: Int32Array.of(0, 0, 1),
    slots: Int32Array.of(2, 2, 1),
    contextDim: 1,
    context: Float64Array.of(5, 5, 7),
    contextNames: ['x'],
    actionContextStart: -1,
    actionFeatureDim: 0,
    actionFeatures: new Float64Array(0),
    actionFeatureNames: [],
    candidates: Uint8Array.of(1, 0, 1, 1, 0, 1, 1, 1, 1),
  };

  it('asks the policy once per round and maps candidate probabilities to actions at the logged slot', () => {
    const asked: DecideInput[] = [];
    const policy = {
      actionProbabilities(input: DecideInput): Float64Array[] {
        asked.push(input);
        const m = input.candidates.length;
        // Slot s puts all mass on candidate s.
        return Array.from({ length: input.slots }, (_, s) =>
          Float64Array.from({ length: m }, (_, c) => (c === s ? 1 : 0)),
        );
      },
    };
    const p = targetProbabilities(log, policy, { random: Math.random });
    expect(asked.map((i) => [i.candidates, i.slots, i.context[0]])).toEqual([
      [['a', 'c'], 2, 5],
      [['a', 'b', 'c'], 1, 7],
    ]);
    expect([...p]).toEqual([1, 0, 0, 0, 0, 1, 1, 0, 0]);
    expect(
      [...targetProbabilities(log, UNIFORM_POLICY, { random: Math.random })].map(
        (x) => +x.toFixed(4),
      ),
    ).toEqual([0.5, 0, 0.5, 0.5, 0, 0.5, 0.3333, 0.3333, 0.3333]);
  });

  it('updates on every row, or in replay mode only where the policy chose the logged action at that slot', () => {
    const updates: Feedback[] = [];
    const policy = {
      select: (input: DecideInput) => ({
        arms: [...input.candidates].reverse().slice(0, input.slots),
      }),
      update: (feedback: readonly Feedback[]) => updates.push(...feedback),
    };
    expect(trainPolicy(log, policy, { random: Math.random })).toBe(3);
    expect(updates.map((f) => [f.arm, f.reward, f.context[0]])).toEqual([
      ['a', 1, 5],
      ['c', 0, 5],
      ['b', 1, 7],
    ]);
    updates.length = 0;
    // Round 0 chooses [c, a]: neither logged row matches (a at slot 0, c at slot 1); round 1 chooses [c]: b does not match.
    expect(trainPolicy(log, policy, { random: Math.random, mode: 'replay' })).toBe(0);
    const agreeing = {
      ...policy,
      select: (input: DecideInput) => ({ arms: input.candidates.slice(0, input.slots) }),
    };
    expect(trainPolicy(log, agreeing, { random: Math.random, mode: 'replay' })).toBe(2);
    expect(updates.map((f) => f.arm)).toEqual(['a', 'c']);
  });
});
