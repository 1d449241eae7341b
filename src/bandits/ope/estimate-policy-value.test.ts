import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import { Random } from '../../core/random.js';
import { percentileInterval } from './bootstrap.js';
import { estimatePolicyValue } from './estimate-policy-value.js';

/**
 * Four rounds, two actions, one slot. Hand computation:
 *   w = π_e(a_i)/π_b(a_i) = 0.8/0.5, 0.2/0.5, 0.5/0.25, 0.1/0.75 = 1.6, 0.4, 2, 2/15      Σw = 62/15
 *   Σ w r = 1.6 + 2 = 3.6                      → IPS = 0.9, SNIPS = 3.6 / (62/15) = 27/31
 *   q̂(x_i, π_e) = 0.54, 0.54, 0.55, 0.47      → DM = 2.1 / 4 = 0.525
 *   Σ w (r − q̂(a_i)) = 0.64 − 0.12 + 0.6 − 2/75 = 82/75
 *   DR = (2.1 + 82/75) / 4 = 0.798333…,  SNDR = 0.525 + (82/75) / (62/15) = 0.525 + 41/155
 */
const tiny = {
  rows: 4,
  actions: ['a', 'b'],
  action: Int32Array.of(0, 1, 1, 0),
  reward: Float64Array.of(1, 0, 1, 0),
  propensity: Float64Array.of(0.5, 0.5, 0.25, 0.75),
  round: Int32Array.of(0, 1, 2, 3),
};
const target = Float64Array.of(0.8, 0.2, 0.8, 0.2, 0.5, 0.5, 0.1, 0.9);
const q = Float64Array.of(0.6, 0.3, 0.6, 0.3, 0.4, 0.7, 0.2, 0.5);

describe('estimatePolicyValue', () => {
  it('matches hand-computed IPS, SNIPS, DM, DR and SNDR on a tiny log', () => {
    const { estimates, observed, weights } = estimatePolicyValue(tiny, target, q, { resamples: 0 });
    expect(estimates.ips?.value).toBeCloseTo(0.9, 12);
    expect(estimates.snips?.value).toBeCloseTo(27 / 31, 12);
    expect(estimates.dm?.value).toBeCloseTo(0.525, 12);
    expect(estimates.dr?.value).toBeCloseTo((2.1 + 82 / 75) / 4, 12);
    expect(estimates.sndr?.value).toBeCloseTo(0.525 + 41 / 155, 12);
    expect(observed.value).toBe(0.5);
    expect(weights.mean).toBeCloseTo(62 / 60, 12);
    expect(weights.max).toBe(2);
    expect(weights.effectiveSampleSize).toBeCloseTo(
      (62 / 15) ** 2 / (1.6 ** 2 + 0.4 ** 2 + 4 + (2 / 15) ** 2),
      12,
    );
    expect(estimates.ips?.ci.every(Number.isNaN)).toBe(true);
  });

  it('gives IPS and SNIPS exactly the logged mean, interval included, when the target is the behaviour policy', () => {
    const behaviour = Float64Array.of(0.5, 0.5, 0.5, 0.5, 0.75, 0.25, 0.75, 0.25);
    const { estimates, observed } = estimatePolicyValue(tiny, behaviour, q, { resamples: 50 });
    for (const name of ['ips', 'snips'] as const) {
      expect(estimates[name]?.value).toBeCloseTo(0.5, 12);
      expect(estimates[name]?.ci[0]).toBeCloseTo(observed.ci[0], 12);
      expect(estimates[name]?.ci[1]).toBeCloseTo(observed.ci[1], 12);
    }
    // DR adds the mean of q̂(x, π_b) − q̂(x, a_i): (0.45 − 0.6 + 0.45 − 0.3 + 0.475 − 0.7 + 0.275 − 0.2) / 4
    expect(estimates.dr?.value).toBeCloseTo(
      0.5 + (0.45 - 0.6 + 0.45 - 0.3 + 0.475 - 0.7 + 0.275 - 0.2) / 4,
      12,
    );
  });

  it('replays only the rows whose drawn action matches the logged one', () => {
    // A deterministic target: replay keeps rows 0 and 3 (action a) and averages their rewards.
    const det = Float64Array.of(1, 0, 1, 0, 1, 0, 1, 0);
    const r = estimatePolicyValue(tiny, det, null, { estimators: ['replay', 'ips'], resamples: 0 });
    expect(r.replayMatches).toBe(2);
    expect(r.estimates.replay?.value).toBe(0.5);
    expect(r.estimates.ips?.value).toBeCloseTo(1 / 0.5 / 4, 12);
  });

  it('resamples whole rounds: the rows of a round move together', () => {
    // Two rounds of two rows; each round's rewards sum to 1, so every resample's mean is 0.5.
    const log = {
      rows: 4,
      actions: ['a', 'b'],
      action: Int32Array.of(0, 1, 0, 1),
      reward: Float64Array.of(1, 0, 0, 1),
      propensity: new Float64Array(4).fill(0.5),
      round: Int32Array.of(0, 0, 1, 1),
    };
    const uniform = new Float64Array(8).fill(0.5);
    const r = estimatePolicyValue(log, uniform, null, { estimators: ['ips'], resamples: 100 });
    expect(r.rounds).toBe(2);
    expect(r.estimates.ips?.ci).toEqual([0.5, 0.5]);
  });

  it('refuses arrays of the wrong shape, a missing reward model and target rows not summing to 1', () => {
    expect(() => estimatePolicyValue(tiny, target.subarray(1), q)).toThrow(
      /target: expected 4 × 2 = 8/,
    );
    expect(() => estimatePolicyValue(tiny, target, null)).toThrow(
      /rewardModel: needed by dm, dr, sndr/,
    );
    expect(() => estimatePolicyValue(tiny, target, null, { estimators: ['ips'] })).not.toThrow();
    const bad = target.slice();
    bad[2] = 0.7;
    expect(() => estimatePolicyValue(tiny, bad, q)).toThrow(InvalidArgumentError);
    expect(() => estimatePolicyValue(tiny, bad, q)).toThrow(/row 1: probabilities sum to 0.9/);
    expect(() => estimatePolicyValue(tiny, target, q, { estimators: ['foo' as never] })).toThrow(
      /unknown estimator "foo"/,
    );
  });

  it('has bootstrap intervals that cover a known policy value about 95% of the time', () => {
    // Uniform logging over 3 actions with click rates μ; target π. True value V = Σ π μ = 0.59.
    // q̂ is deliberately wrong (its DM value is 0.51): DR stays unbiased, DM does not.
    const mu = [0.2, 0.5, 0.7];
    const pi = [0.1, 0.3, 0.6];
    const qhat = [0.3, 0.4, 0.6];
    const truth = 0.59;
    const n = 1000;
    const trials = 40;
    const covered: Record<string, number> = { ips: 0, snips: 0, dr: 0, sndr: 0, dm: 0 };
    const random = new Random(7);
    for (let t = 0; t < trials; t++) {
      const log = {
        rows: n,
        actions: ['x', 'y', 'z'],
        action: new Int32Array(n),
        reward: new Float64Array(n),
        propensity: new Float64Array(n).fill(1 / 3),
        round: Int32Array.from({ length: n }, (_, i) => i),
      };
      for (let i = 0; i < n; i++) {
        const a = random.nextInt(3);
        log.action[i] = a;
        log.reward[i] = random.next() < mu[a] ? 1 : 0;
      }
      const tgt = new Float64Array(n * 3);
      const qq = new Float64Array(n * 3);
      for (let i = 0; i < n; i++)
        for (let a = 0; a < 3; a++) [tgt[i * 3 + a], qq[i * 3 + a]] = [pi[a], qhat[a]];
      const { estimates } = estimatePolicyValue(log, tgt, qq, { resamples: 200, seed: t });
      for (const name of Object.keys(covered)) {
        const ci = estimates[name as 'ips']!.ci;
        if (ci[0] <= truth && truth <= ci[1]) covered[name]++;
      }
    }
    for (const name of ['ips', 'snips', 'dr', 'sndr'])
      expect(covered[name], name).toBeGreaterThanOrEqual(34);
    expect(covered.dm).toBe(0);
  });
});

describe('percentileInterval', () => {
  it('interpolates between order statistics like numpy.percentile', () => {
    // numpy.percentile(range(1, 11), [2.5, 97.5]) == [1.225, 9.775]
    const values = Float64Array.from({ length: 10 }, (_, i) => 10 - i);
    expect(percentileInterval(values, 0.95)).toEqual([
      expect.closeTo(1.225, 12),
      expect.closeTo(9.775, 12),
    ]);
    expect(percentileInterval(Float64Array.of(Number.NaN, 2, Number.NaN), 0.9)).toEqual([2, 2]);
    expect(() => percentileInterval(values, 1)).toThrow(/level: must be in \(0, 1\)/);
  });
});
