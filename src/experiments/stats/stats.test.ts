import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import { seededRandom } from '../../bandits/bandit-policy.js';
import { compareProportions } from './compare-proportions.js';
import { cuped } from './cuped.js';
import * as distributions from '../../math/special-functions.js';
import { probabilityToBeatControl, probabilityToBeatControlMeans } from './probability-to-beat.js';
import { sampleRatioMismatch } from './sample-ratio-mismatch.js';
import { sequentialPValues, sequentialTest } from './sequential-test.js';
import { meanSummary, type Alternative, type MeanSummary } from './types.js';
import { welchTest } from './welch-test.js';

/** Values computed by scipy (see fixtures/make-reference.py, which records the versions). */
const ref = JSON.parse(
  readFileSync(new URL('./fixtures/scipy-reference.json', import.meta.url), 'utf8'),
);

/** Equal to 1e-7 relative, or 1e-12 absolute near 0: beyond the 4 significant digits asked for. */
function close(actual: number, expected: number, relative = 1e-7): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(
    Math.max(1e-12, relative * Math.abs(expected)),
  );
}

describe('against scipy', () => {
  it('distribution functions', () => {
    expect(ref.source).toMatch(/^scipy /);
    for (const c of ref.distributions)
      close(
        (distributions as unknown as Record<string, (...a: number[]) => number>)[c.fn](...c.args),
        c.value,
        1e-9,
      );
  });

  it('two-proportion z-test: z, p-value, difference and relative intervals', () => {
    for (const c of ref.proportions) {
      const r = compareProportions(c.control, c.treatment, {
        alternative: c.alternative as Alternative,
        confidence: c.confidence,
      });
      close(r.z, c.z);
      close(r.pValue, c.pValue);
      close(r.difference.estimate, c.difference[0]);
      close(r.difference.ci[0], c.difference[1]);
      close(r.difference.ci[1], c.difference[2]);
      close(r.relative!.estimate, c.relative[0]);
      close(r.relative!.ci[0], c.relative[1]);
      close(r.relative!.ci[1], c.relative[2]);
    }
  });

  it("Welch's t-test: t, df, p-value and interval (scipy.stats.ttest_ind, equal_var=False)", () => {
    for (const c of ref.welch) {
      const r = welchTest(c.control, c.treatment, {
        alternative: c.alternative as Alternative,
        confidence: c.confidence,
      });
      close(r.t, c.t);
      close(r.df, c.df);
      close(r.pValue, c.pValue);
      close(r.difference.ci[0], c.ci[0]);
      close(r.difference.ci[1], c.ci[1]);
    }
  });

  it('sample-ratio mismatch (scipy.stats.chisquare)', () => {
    for (const c of ref.srm) {
      const r = sampleRatioMismatch(c.counts, c.weights);
      close(r.chi2, c.chi2);
      close(r.pValue, c.pValue);
    }
  });

  it('CUPED: θ, adjusted means and variances, and the adjusted test (numpy)', () => {
    for (const c of ref.cuped) {
      const r = cuped(c.control, c.treatment);
      close(r.theta, c.theta, 1e-9);
      close(r.control.mean, c.adjusted.control[0], 1e-9);
      close(r.control.variance, c.adjusted.control[1], 1e-9);
      close(r.treatment.mean, c.adjusted.treatment[0], 1e-9);
      close(r.treatment.variance, c.adjusted.treatment[1], 1e-9);
      close(r.varianceReduction, c.varianceReduction, 1e-8);
      close(welchTest(r.control, r.treatment).pValue, c.welchPValue, 1e-7);
      expect(r.varianceReduction).toBeGreaterThan(0);
    }
  });

  it('probability to beat control (Beta posteriors, scipy.integrate.quad)', () => {
    for (const c of ref.beats)
      close(probabilityToBeatControl(c.control, c.treatment), c.value, 1e-7);
  });
});

describe('against a published analysis of a real test', () => {
  it('reproduces the z-test of the Udacity/Kaggle "ab_data" landing-page test after its cleaning', () => {
    // ab_data.csv (294,478 rows): after dropping the rows whose group and landing page disagree
    // and one duplicated user, 145,274 control users with 17,489 conversions and 145,310 treatment
    // users with 17,264. The published analysis (statsmodels proportions_ztest, alternative
    // "larger" for the new page) reports z = -1.3109 and p = 0.9051; rates 0.1204 and 0.1188.
    const r = compareProportions(
      { units: 145_274, conversions: 17_489 },
      { units: 145_310, conversions: 17_264 },
      { alternative: 'greater' },
    );
    expect(r.z.toFixed(4)).toBe('-1.3109');
    expect(r.pValue.toFixed(4)).toBe('0.9051');
    expect(r.control.rate.toFixed(4)).toBe('0.1204');
    expect(r.treatment.rate.toFixed(4)).toBe('0.1188');
    expect(
      compareProportions(
        { units: 145_274, conversions: 17_489 },
        { units: 145_310, conversions: 17_264 },
      ).pValue.toFixed(4),
    ).toBe('0.1899');
  });
});

describe('by reasoning', () => {
  it('gives p = 1 at equal rates, halves the two-sided p in the direction of the effect, and covers the estimate', () => {
    const c = { units: 5000, conversions: 600 };
    expect(compareProportions(c, c).pValue).toBe(1);
    const t = { units: 5000, conversions: 660 };
    const two = compareProportions(c, t).pValue;
    close(compareProportions(c, t, { alternative: 'greater' }).pValue, two / 2, 1e-12);
    close(compareProportions(c, t, { alternative: 'less' }).pValue, 1 - two / 2, 1e-12);
    const r = compareProportions(c, t);
    expect(r.difference.ci[0]).toBeLessThan(r.difference.estimate);
    expect(r.difference.ci[1]).toBeGreaterThan(r.difference.estimate);
    // Swapping the groups flips z.
    close(compareProportions(t, c).z, -r.z, 1e-12);
    // No conversions anywhere: nothing to test, and no NaN.
    expect(
      compareProportions({ units: 10, conversions: 0 }, { units: 12, conversions: 0 }),
    ).toMatchObject({ z: 0, pValue: 1, relative: null });
  });

  it('names the field of bad input', () => {
    expect(() =>
      compareProportions({ units: 10, conversions: 11 }, { units: 10, conversions: 1 }),
    ).toThrow(/control\.conversions/);
    expect(() =>
      compareProportions({ units: 0, conversions: 0 }, { units: 10, conversions: 1 }),
    ).toThrow(/control\.units/);
    expect(() =>
      welchTest({ units: 1, mean: 0, variance: 1 }, { units: 5, mean: 0, variance: 1 }),
    ).toThrow(/control\.units/);
    expect(() =>
      welchTest({ units: 3, mean: 0, variance: -1 }, { units: 5, mean: 0, variance: 1 }),
    ).toThrow(/control\.variance/);
    expect(() =>
      compareProportions(
        { units: 10, conversions: 1 },
        { units: 10, conversions: 1 },
        { confidence: 1 },
      ),
    ).toThrow(InvalidArgumentError);
    expect(() => sampleRatioMismatch([10, 10], [1])).toThrow(/weights/);
    expect(() => meanSummary({ units: 1, sum: 1, sumSquares: 1 })).toThrow(/units/);
  });

  it('handles zero variance in Welch: equal means p 1, different means a certain difference', () => {
    const a = { units: 5, mean: 2, variance: 0 };
    expect(welchTest(a, a).pValue).toBe(1);
    const b = { units: 5, mean: 3, variance: 0 };
    expect(welchTest(a, b)).toMatchObject({ t: Infinity, pValue: 0 });
    expect(welchTest(a, b, { alternative: 'less' }).pValue).toBe(1);
  });

  it('computes the Beta probability for a million units, and symmetrically', () => {
    const p = probabilityToBeatControl(
      { units: 1_000_000, conversions: 100_000 },
      { units: 1_000_000, conversions: 100_400 },
    );
    // Normal approximation of the difference of two nearly normal posteriors.
    const se = Math.sqrt((0.1 * 0.9 + 0.1004 * 0.8996) / 1_000_000);
    close(p, distributions.normalCdf(0.0004 / se), 2e-3);
    const c = { units: 300, conversions: 40 };
    const t = { units: 280, conversions: 47 };
    close(probabilityToBeatControl(c, t) + probabilityToBeatControl(t, c), 1, 1e-10);
    expect(
      probabilityToBeatControlMeans(
        { units: 100, mean: 1, variance: 4 },
        { units: 100, mean: 1, variance: 9 },
      ),
    ).toBe(0.5);
  });
});

describe('sequential test (mSPRT)', () => {
  /** Running means of batches of normal draws, looked at after every batch. */
  function simulate(
    effect: number,
    runs: number,
    looks: number,
    batch: number,
    seed: number,
  ): { msprt: number; naive: number } {
    const random = seededRandom(seed);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    let msprt = 0;
    let naive = 0;
    for (let r = 0; r < runs; r++) {
      const sums = [
        [0, 0, 0],
        [0, 0, 0],
      ];
      const series: { control: MeanSummary; treatment: MeanSummary }[] = [];
      let naiveRejected = false;
      for (let l = 0; l < looks; l++) {
        for (let k = 0; k < batch; k++) {
          for (const [g, mu] of [
            [0, 0],
            [1, effect],
          ] as const) {
            const y = mu + normal();
            sums[g][0]++;
            sums[g][1] += y;
            sums[g][2] += y * y;
          }
        }
        const [control, treatment] = sums.map(([units, sum, sumSquares]) =>
          meanSummary({ units, sum, sumSquares }),
        );
        series.push({ control, treatment });
        if (welchTest(control, treatment).pValue < 0.05) naiveRejected = true;
      }
      if (Math.min(...sequentialPValues(series, { tau: 0.1 })) < 0.05) msprt++;
      if (naiveRejected) naive++;
    }
    return { msprt: msprt / runs, naive: naive / runs };
  }

  it('keeps the error rate under alpha however often one peeks, where a repeated t-test does not', () => {
    const { msprt, naive } = simulate(0, 300, 20, 50, 1);
    expect(msprt).toBeLessThan(0.05 + 0.02); // Monte Carlo slack on 300 runs
    expect(naive).toBeGreaterThan(0.12); // 20 looks at a fixed-horizon test inflate the error ~3×
  });

  it('detects a real effect, with p-values that never rise and a confidence sequence around it', () => {
    expect(simulate(0.3, 100, 20, 50, 2).msprt).toBeGreaterThan(0.9);
    const c = { units: 2000, mean: 0, variance: 1 };
    const t = { units: 2000, mean: 0.2, variance: 1 };
    const r = sequentialTest(c, t, { tau: 0.1 });
    expect(r.pValue).toBeLessThan(0.001);
    expect(r.ci[0]).toBeLessThan(0.2);
    expect(r.ci[1]).toBeGreaterThan(0.2);
    // Wider than the fixed-horizon interval: the price of looking at any time.
    expect(r.ci[1] - r.ci[0]).toBeGreaterThan(
      welchTest(c, t).difference.ci[1] - welchTest(c, t).difference.ci[0],
    );
    // Λ by the formula, by hand.
    const v = 1 / 2000 + 1 / 2000;
    close(
      r.lambda,
      Math.sqrt(v / (v + 0.01)) * Math.exp((0.04 * 0.01) / (2 * v * (v + 0.01))),
      1e-12,
    );
    const ps = sequentialPValues([
      { control: c, treatment: { ...t, mean: 0.3 } },
      { control: c, treatment: t },
    ]);
    expect(ps[1]).toBeLessThanOrEqual(ps[0]);
  });
});
