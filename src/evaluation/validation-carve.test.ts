import { describe, expect, it } from 'vitest';
import type { InteractionLog } from '../data/interaction-log.js';
import { carveValidation } from './validation-carve.js';

/** User 1: 20 rows whose timestamps run backwards in file order, two of them tied at the latest. */
function log(withTimestamps = true): InteractionLog {
  const users: string[] = [];
  const items: string[] = [];
  const timestamps: number[] = [];
  for (let i = 0; i < 20; i++) {
    users.push('1');
    items.push(`i${i}`);
    timestamps.push(i < 2 ? 500 : 100 - i);
  }
  users.push('2');
  items.push('only');
  timestamps.push(1);
  return {
    source: 'mem',
    rows: users.length,
    users,
    items,
    values: null,
    timestamps: withTimestamps ? Float64Array.from(timestamps) : null,
    skipped: 0,
    badRows: [],
  };
}

describe('carveValidation', () => {
  it('temporal: holds out each user’s latest ~10% by timestamp, ties in file order', () => {
    const { fit, holdout } = carveValidation(log(), { kind: 'temporal' });
    // 20 rows: 18 fit, 2 held out; both tied-latest rows (file order i0, i1) are held out.
    expect(holdout.items).toEqual(['i0', 'i1']);
    expect(fit.rows).toBe(19);
    // A user with one row keeps it for fitting.
    expect(fit.items).toContain('only');
    const three = carveValidation(log(), { kind: 'temporal', holdout: 0.15 });
    // ⌊0.85·20⌋ = 17 kept: the latest three are i0, i1 (500), then i2 (98).
    expect(three.holdout.items).toEqual(['i0', 'i1', 'i2']);
  });

  it('random: a seeded choice of the same size, reproducible', () => {
    const a = carveValidation(log(), { kind: 'random', seed: 1 });
    const b = carveValidation(log(), { kind: 'random', seed: 1 });
    expect(a.holdout.items).toEqual(b.holdout.items);
    expect(a.holdout.rows).toBe(2);
    const seeds = new Set(
      [1, 2, 3, 4, 5].map((seed) =>
        carveValidation(log(), { kind: 'random', seed }).holdout.items.join(),
      ),
    );
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('refuses a temporal carve without timestamps and a share outside (0, 1)', () => {
    expect(() => carveValidation(log(false), { kind: 'temporal' })).toThrow(
      /kind: a temporal carve needs timestamps/,
    );
    expect(() => carveValidation(log(), { holdout: 1 })).toThrow(/holdout: must lie strictly/);
    expect(carveValidation(log(false), { kind: 'random' }).holdout.rows).toBe(2);
  });
});
