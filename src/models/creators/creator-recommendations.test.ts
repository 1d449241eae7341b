import { describe, expect, it } from 'vitest';
import type { PackedScores } from './creator-lists.js';
import { creatorRecommendations } from './creator-recommendations.js';

function packed(lists: [number, number][][]): PackedScores {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, q) => {
    offsets[q + 1] = offsets[q] + l.length;
  });
  return {
    offsets,
    ids: Int32Array.from(lists.flat(), ([id]) => id),
    scores: Float32Array.from(lists.flat(), ([, s]) => s),
  };
}

function names(p: PackedScores, q: number, creators: readonly string[]): string[] {
  return Array.from(p.ids.subarray(p.offsets[q], p.offsets[q + 1]), (c) => creators[c]);
}

describe('creatorRecommendations', () => {
  // Items i0 (X), i1 (Y), i2 (W) and "W": an item named like creator W, with no creator of its
  // own, so events on it are direct interactions with W.
  const input = {
    creators: ['X', 'Y', 'W', null],
    itemIds: ['i0', 'i1', 'i2', 'W'],
    // user 0 follows W; user 1 has i1 (Y) and i2 (W); user 2 has i0 (X).
    pairs: {
      users: Int32Array.of(0, 1, 1, 2),
      items: Int32Array.of(3, 1, 2, 0),
      values: null,
    },
    users: 3,
    // The model prefers i0 (X) for user 0, then i1 (Y).
    userLists: packed([
      [
        [0, 1],
        [1, 0.2],
      ],
      [[0, 1]],
      [[1, 1]],
    ]),
    relatedLists: packed([[[1, 1]], [[0, 1]], [], []]),
  };

  it('blends the derived list with creator-kNN of the direct interactions', () => {
    const derived = creatorRecommendations(input, { directWeight: 0 });
    const { names: creators } = derived.index;
    expect(creators).toEqual(['W', 'X', 'Y']);
    expect(derived.directPairs).toBe(1);
    // Derived only: X (1) before Y (0.2); W, followed, is never recommended.
    expect(names(derived.users, 0, creators)).toEqual(['X', 'Y']);
    // W's neighbour is Y (both touched by user 1): half and half puts Y (0.1 + 0.5) before X (0.5).
    const blended = creatorRecommendations(input);
    expect(names(blended.users, 0, creators)).toEqual(['Y', 'X']);
    expect(blended.users.scores[0]).toBeCloseTo(0.6, 5);
    // Users without direct interactions keep the derived order, touched creators left out.
    expect(names(blended.users, 1, creators)).toEqual(['X']);
    expect(names(blended.users, 2, creators)).toEqual(['Y']);
  });

  it('relates creators through related items and through who touched them', () => {
    const { related, index } = creatorRecommendations(input);
    const creators = index.names;
    // X ↔ Y through the related items; W ↔ Y through user 1.
    expect(names(related, index.indexOf('X'), creators)).toEqual(['Y']);
    expect(names(related, index.indexOf('W'), creators)).toEqual(['Y']);
    expect(new Set(names(related, index.indexOf('Y'), creators))).toEqual(new Set(['X', 'W']));
  });

  it('ranks popular creators by the users who touched them, directly or through items', () => {
    const { popular, index } = creatorRecommendations(input);
    // W: users 0 (follow) and 1; X: user 2; Y: user 1 — ties to the lower id.
    expect(names(popular, 0, index.names)).toEqual(['W', 'X', 'Y']);
    expect([...popular.scores]).toEqual([2, 1, 1]);
    const top = creatorRecommendations(input, { popularK: 1 }).popular;
    expect(names(top, 0, index.names)).toEqual(['W']);
  });

  it('reads a candidate item named like a creator as that creator', () => {
    // User 2 (who touched only X) is recommended the item "W": that is creator W.
    const lists = packed([[], [], [[3, 1]]]);
    const { users, index } = creatorRecommendations({ ...input, userLists: lists });
    expect(names(users, 2, index.names)).toEqual(['W']);
    // The related list of the item "W" counts for creator W.
    const related = packed([[], [], [], [[0, 1]]]);
    const made = creatorRecommendations({ ...input, relatedLists: related }, { cosineWeight: 0 });
    expect(names(made.related, made.index.indexOf('W'), made.index.names)).toEqual(['X']);
  });

  it('refuses inputs of different sizes', () => {
    expect(() => creatorRecommendations({ ...input, itemIds: ['i0'] })).toThrow(
      /one per dense item/,
    );
    expect(() => creatorRecommendations({ ...input, users: 5 })).toThrow(/userLists/);
  });
});
