import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import {
  assignUnit,
  layerBucket,
  matchesTargeting,
  variantOf,
  type AssignableExperiment,
} from './assign.js';
import { BUCKETS, normaliseDefinition } from './experiment.js';
import { allocateRange } from './layer-ranges.js';
import { murmur3 } from '../core/murmur3.js';

function running(
  name: string,
  definition: unknown,
  layerRange: [number, number] = [0, BUCKETS],
): AssignableExperiment {
  return {
    ...normaliseDefinition(name, definition),
    status: 'running',
    startAt: null,
    stopAt: null,
    layerRange,
  };
}

/** Chi-square statistic of observed counts against expected shares. */
function chiSquare(counts: number[], shares: number[]): number {
  const n = counts.reduce((s, c) => s + c, 0);
  return counts.reduce((s, c, j) => s + (c - n * shares[j]) ** 2 / (n * shares[j]), 0);
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 test vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('Hello, world!')).toBe(0xc0363e43);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
  });
});

describe('assignUnit', () => {
  const units = Array.from({ length: 100_000 }, (_, k) => `user-${k}`);

  it('gives a unit the same variant every time, and another salt reshuffles units', () => {
    const a = running('hero', {
      variants: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1 },
      ],
    });
    const first = units.slice(0, 2000).map((u) => assignUnit([a], u)[0].variant);
    const again = units.slice(0, 2000).map((u) => assignUnit([a], u)[0].variant);
    expect(again).toEqual(first);
    const resalted = running('hero', { variants: a.variants, salt: 'hero-2' });
    const moved = units.slice(0, 2000).filter((u, k) => variantOf(resalted, u) !== first[k]).length;
    expect(moved).toBeGreaterThan(800); // about half move with a new salt
    expect(moved).toBeLessThan(1200);
  });

  it('respects the weights within statistical tolerance', () => {
    const e = running('split', {
      variants: [
        { name: 'control', weight: 50 },
        { name: 'b', weight: 30 },
        { name: 'c', weight: 20 },
      ],
    });
    const counts = [0, 0, 0];
    for (const u of units) counts[['control', 'b', 'c'].indexOf(assignUnit([e], u)[0].variant)]++;
    // χ² with 2 degrees of freedom: 13.8 is the 0.999 quantile.
    expect(chiSquare(counts, [0.5, 0.3, 0.2])).toBeLessThan(13.8);
  });

  it('keeps the experiments of one layer mutually exclusive, and takes each one its traffic share', () => {
    const left = running(
      'left',
      {
        variants: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 1 },
        ],
        layer: 'home',
        traffic: 0.3,
      },
      [0, 3000],
    );
    const right = running(
      'right',
      {
        variants: [
          { name: 'x', weight: 1 },
          { name: 'y', weight: 1 },
        ],
        layer: 'home',
        traffic: 0.5,
      },
      [3000, 8000],
    );
    const other = running('other', {
      variants: [
        { name: 'p', weight: 1 },
        { name: 'q', weight: 1 },
      ],
      layer: 'search',
    });
    const inLeft = new Set<string>();
    const inRight = new Set<string>();
    let inOther = 0;
    for (const u of units) {
      for (const a of assignUnit([left, right, other], u)) {
        if (a.experiment === 'left') inLeft.add(u);
        if (a.experiment === 'right') inRight.add(u);
        if (a.experiment === 'other') inOther++;
      }
    }
    expect([...inLeft].filter((u) => inRight.has(u))).toEqual([]);
    expect(
      chiSquare(
        [inLeft.size, inRight.size, units.length - inLeft.size - inRight.size],
        [0.3, 0.5, 0.2],
      ),
    ).toBeLessThan(13.8);
    // Another layer is independent: every unit is in it, whichever "home" experiment it is in.
    expect(inOther).toBe(units.length);
    const bothLayers = units.filter((u) => inLeft.has(u)).map((u) => variantOf(other, u));
    expect(
      Math.abs(bothLayers.filter((v) => v === 'p').length / bothLayers.length - 0.5),
    ).toBeLessThan(0.02);
  });

  it('assigns only running experiments inside their window, and only targeted units', () => {
    const base = running('t', {
      variants: [
        { name: 'a', weight: 1 },
        { name: 'b', weight: 1 },
      ],
      targeting: [
        { attribute: 'country', op: 'in', value: ['JP', 'KR'] },
        { attribute: 'age', op: 'gte', value: 18 },
      ],
    });
    expect(assignUnit([base], 'u1', { country: 'JP', age: '30' })).toHaveLength(1);
    expect(assignUnit([base], 'u1', { country: 'US', age: 30 })).toEqual([]);
    expect(assignUnit([base], 'u1', { country: 'JP', age: 'old' })).toEqual([]);
    expect(assignUnit([base], 'u1', { country: 'JP' })).toEqual([]);
    const now = new Date('2026-12-01T00:00:00Z');
    expect(
      assignUnit([{ ...base, status: 'draft' }], 'u1', { country: 'JP', age: 30 }, now),
    ).toEqual([]);
    expect(
      assignUnit(
        [{ ...base, startAt: '2026-12-02T00:00:00Z' }],
        'u1',
        { country: 'JP', age: 30 },
        now,
      ),
    ).toEqual([]);
    expect(
      assignUnit(
        [{ ...base, stopAt: new Date('2026-11-30T00:00:00Z') }],
        'u1',
        { country: 'JP', age: 30 },
        now,
      ),
    ).toEqual([]);
    expect(
      assignUnit(
        [{ ...base, startAt: '2026-11-30T00:00:00Z', stopAt: '2026-12-02T00:00:00Z' }],
        'u1',
        { country: 'JP', age: 30 },
        now,
      ),
    ).toHaveLength(1);
    expect(matchesTargeting([{ attribute: 'beta', op: 'exists' }], { beta: false })).toBe(true);
    expect(
      matchesTargeting([{ attribute: 'plan', op: 'neq', value: 'free' }], { plan: 'pro' }),
    ).toBe(true);
    expect(
      matchesTargeting([{ attribute: 'plan', op: 'nin', value: ['free'] }], { plan: 'free' }),
    ).toBe(false);
    expect(() => assignUnit([base], '')).toThrow(InvalidArgumentError);
  });

  it('hashes layer buckets the documented way', () => {
    expect(layerBucket('home', 'user-1')).toBe(murmur3('layer:home:user-1') % BUCKETS);
  });
});

describe('normaliseDefinition', () => {
  it('applies defaults and names the bad field', () => {
    expect(
      normaliseDefinition('e', {
        variants: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 3 },
        ],
      }),
    ).toMatchObject({ control: 'a', salt: 'e', layer: 'e', traffic: 1, targeting: [] });
    const bad: [unknown, RegExp][] = [
      [{ variants: [{ name: 'a', weight: 1 }] }, /variants: must list at least two/],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'a', weight: 1 },
          ],
        },
        /variants\[1\]\.name: "a" appears twice/,
      ],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 0 },
          ],
        },
        /variants\[1\]\.weight: must be a number > 0/,
      ],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 1 },
          ],
          control: 'c',
        },
        /control: "c" is not one of the variants/,
      ],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 1 },
          ],
          traffic: 1.5,
        },
        /traffic: must be a share/,
      ],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 1 },
          ],
          targeting: [{ attribute: 'x', op: 'like', value: 1 }],
        },
        /targeting\[0\]\.op: must be one of/,
      ],
      [
        {
          variants: [
            { name: 'a', weight: 1 },
            { name: 'b', weight: 1 },
          ],
          colour: 'red',
        },
        /colour: is not a field of an experiment/,
      ],
    ];
    for (const [definition, message] of bad)
      expect(() => normaliseDefinition('e', definition)).toThrow(message);
  });
});

describe('allocateRange', () => {
  it('takes the first gap that fits, keeps an earlier range where it can, and says when the layer is full', () => {
    expect(allocateRange(3000, [])).toEqual([0, 3000]);
    expect(
      allocateRange(2000, [
        [0, 3000],
        [5000, 10000],
      ]),
    ).toEqual([3000, 5000]);
    expect(
      allocateRange(2001, [
        [0, 3000],
        [5000, 10000],
      ]),
    ).toBeNull();
    expect(allocateRange(4000, [[0, 3000]], [3000, 5000])).toEqual([3000, 7000]);
    expect(allocateRange(1000, [[3000, 5000]], [8000, 9500])).toEqual([8000, 9000]);
  });
});
