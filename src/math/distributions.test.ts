import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.js';
import {
  betaSurvival,
  betaVariate,
  gammaVariate,
  lnGamma,
  Normals,
  normalSurvival,
} from './distributions.js';

describe('distributions', () => {
  it('computes ln Γ', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 12);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lnGamma(100.5)).toBeCloseTo(361.4355404677776, 9);
  });

  it('computes the normal survival function, tails included', () => {
    expect(normalSurvival(0)).toBeCloseTo(0.5, 7);
    expect(normalSurvival(1.959963985)).toBeCloseTo(0.025, 7);
    expect(normalSurvival(-1)).toBeCloseTo(0.8413447461, 7);
    expect(normalSurvival(8) / 6.22096057e-16).toBeCloseTo(1, 5);
  });

  it('computes the beta survival function', () => {
    expect(betaSurvival(0.3, 1, 1)).toBeCloseTo(0.7, 12);
    expect(betaSurvival(0.5, 2, 3)).toBeCloseTo(0.3125, 12); // 1 − I_0.5(2,3) = 1 − 11/16
    expect(betaSurvival(0.9, 2, 3)).toBeCloseTo(1 - 0.9963, 10); // 1 − I_0.9(2,3)
    expect(betaSurvival(0.2, 0.5, 0.5)).toBeCloseTo(
      1 - (2 / Math.PI) * Math.asin(Math.sqrt(0.2)),
      10,
    );
    expect(betaSurvival(0, 2, 2)).toBe(1);
    expect(betaSurvival(1, 2, 2)).toBe(0);
    // Large parameters: the normal approximation, continuous with the exact branch.
    expect(betaSurvival(0.5, 5000, 5000)).toBeCloseTo(0.5, 3);
    expect(Math.abs(betaSurvival(0.401, 4000, 6000) - betaSurvival(0.401, 999, 1499))).toBeLessThan(
      0.3,
    );
  });

  it('draws normal, gamma and beta variates with the right moments', () => {
    const source = new Random(3);
    const random = (): number => source.next();
    const normals = new Normals(random);
    const n = 20000;
    const moments = (draw: () => number): [number, number] => {
      let sum = 0;
      let sq = 0;
      for (let k = 0; k < n; k++) {
        const v = draw();
        sum += v;
        sq += v * v;
      }
      const mean = sum / n;
      return [mean, sq / n - mean * mean];
    };
    const [nm, nv] = moments(() => normals.next());
    expect(nm).toBeCloseTo(0, 1);
    expect(nv).toBeCloseTo(1, 1);
    for (const shape of [0.3, 1, 4.5]) {
      const [gm, gv] = moments(() => gammaVariate(shape, normals, random));
      expect(gm / shape).toBeCloseTo(1, 1);
      expect(gv / shape).toBeCloseTo(1, 0);
    }
    const [bm, bv] = moments(() => betaVariate(2, 6, normals, random));
    expect(bm).toBeCloseTo(0.25, 2);
    expect(bv).toBeCloseTo((2 * 6) / (64 * 9), 3);
  });
});
