import { describe, expect, it } from 'vitest';
import { CsrMatrix } from '../../data/csr-matrix.js';
import { IdMap } from '../../data/id-map.js';
import {
  aggregateByCreator,
  blendLists,
  cosineNeighbours,
  creatorIndex,
  neighbourhoodScores,
  type PackedScores,
} from './creator-lists.js';
import { friendItemScores, friendMatrix } from './friend-signal.js';

/** Packed lists from per-query [id, score] pairs, in the order given. */
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

/** Each query's list as [id, score] pairs, scores rounded to 4 places. */
function unpack(p: PackedScores): [number, number][][] {
  const out: [number, number][][] = [];
  for (let q = 0; q < p.offsets.length - 1; q++) {
    const list: [number, number][] = [];
    for (let t = p.offsets[q]; t < p.offsets[q + 1]; t++)
      list.push([p.ids[t], Math.round(p.scores[t] * 1e4) / 1e4]);
    out.push(list);
  }
  return out;
}

/** A binary rows × cols matrix from each row's columns. */
function binary(rows: number[][], cols: number): CsrMatrix {
  const r = rows.flatMap((cs, i) => cs.map(() => i));
  return CsrMatrix.fromCoordinates(
    rows.length,
    cols,
    Int32Array.from(r),
    Int32Array.from(rows.flat()),
    null,
  );
}

describe('creatorIndex', () => {
  it('numbers creators by name and maps each item, none as -1', () => {
    const index = creatorIndex(['b', 'a', 'b', null]);
    expect(index.names).toEqual(['a', 'b']);
    expect([...index.itemCreator]).toEqual([1, 0, 1, -1]);
    expect([...index.itemCounts]).toEqual([1, 2]);
    expect(index.indexOf('b')).toBe(1);
    expect(index.indexOf('zz')).toBe(-1);
  });
});

describe('aggregateByCreator', () => {
  // Items 0 and 2 by creator b (1), item 1 by a (0), item 3 by nobody.
  const creators = creatorIndex(['b', 'a', 'b', null]);

  it('sums max-scaled item scores per creator; sizePower divides by the creator item count', () => {
    // Contributions 1 (b), 0.9 (a), 0.1 (b), and item 3 without a creator.
    const lists = packed([
      [
        [0, 4],
        [1, 3.6],
        [3, 2],
        [2, 0.4],
      ],
    ]);
    expect(unpack(aggregateByCreator(lists, creators, { sizePower: 0 }))).toEqual([
      [
        [1, 1.1],
        [0, 0.9],
      ],
    ]);
    // b's 1.1 over its 2 items is 0.55: a wins once prolific creators are normalised.
    expect(unpack(aggregateByCreator(lists, creators, { sizePower: 1 }))).toEqual([
      [
        [0, 0.9],
        [1, 0.55],
      ],
    ]);
    expect(unpack(aggregateByCreator(lists, creators, { sizePower: 1, k: 1 }))).toEqual([
      [[0, 0.9]],
    ]);
  });

  it('leaves out the creators of exclude, per row', () => {
    const lists = packed([
      [
        [0, 1],
        [1, 1],
      ],
      [
        [0, 1],
        [1, 1],
      ],
    ]);
    const exclude = binary([[1], []], 2);
    const out = unpack(aggregateByCreator(lists, creators, { sizePower: 0, exclude }));
    expect(out).toEqual([
      [[0, 1]],
      [
        [0, 1],
        [1, 1],
      ],
    ]);
  });

  it('ranks lists without a positive score by 1/(rank+1), and drops negative scores otherwise', () => {
    const negative = packed([
      [
        [1, -1],
        [0, -2],
      ],
    ]);
    // a (item 1) at rank 1 gets 1, b (item 0) at rank 2 gets 1/2.
    expect(unpack(aggregateByCreator(negative, creators, { sizePower: 0 }))).toEqual([
      [
        [0, 1],
        [1, 0.5],
      ],
    ]);
    const mixed = packed([
      [
        [1, 2],
        [0, -5],
      ],
    ]);
    expect(unpack(aggregateByCreator(mixed, creators, { sizePower: 0 }))).toEqual([[[0, 1]]]);
  });

  it('makes creator → creator lists from related-item lists, without the creator itself', () => {
    // Related lists of items 0..3: item 0 (b) → items 1 (a), 2 (b); item 2 (b) → item 1 (a).
    const related = packed([
      [
        [1, 0.5],
        [2, 0.5],
      ],
      [[0, 1]],
      [[1, 0.8]],
      [[0, 1]],
    ]);
    const out = aggregateByCreator(related, creators, {
      sizePower: 0,
      outputOf: creators.itemCreator,
      outputs: 2,
      excludeSelf: true,
    });
    // a: item 1's list → b (1). b: item 0 → a (1) and b (self, dropped); item 2 → a (1).
    expect(unpack(out)).toEqual([[[1, 1]], [[0, 2]]]);
  });

  it('refuses a bad k, sizePower or outputOf', () => {
    const lists = packed([[[0, 1]]]);
    expect(() => aggregateByCreator(lists, creators, { k: 0 })).toThrow(/k: must be a positive/);
    expect(() => aggregateByCreator(lists, creators, { sizePower: -1 })).toThrow(/sizePower/);
    expect(() =>
      aggregateByCreator(lists, creators, { outputOf: Int32Array.of(0, 1), outputs: 2 }),
    ).toThrow(/outputOf/);
  });
});

describe('blendLists', () => {
  it('mixes max-scaled scores over the union of both lists', () => {
    const a = packed([
      [
        [0, 2],
        [1, 1],
      ],
    ]);
    const b = packed([
      [
        [2, 4],
        [1, 4],
      ],
    ]);
    // x=0: 0.5·1; y=1: 0.5·0.5 + 0.5·1; z=2: 0.5·1 — ties go to the lower id.
    expect(unpack(blendLists(a, b, 0.5, { k: 5, size: 3 }))).toEqual([
      [
        [1, 0.75],
        [0, 0.5],
        [2, 0.5],
      ],
    ]);
    expect(unpack(blendLists(a, b, 0, { k: 5, size: 3 }))).toEqual([
      [
        [0, 1],
        [1, 0.5],
      ],
    ]);
    expect(unpack(blendLists(a, b, 0.5, { k: 5, size: 3, exclude: binary([[1]], 3) }))).toEqual([
      [
        [0, 0.5],
        [2, 0.5],
      ],
    ]);
  });

  it('refuses lists of other queries and weights outside [0, 1]', () => {
    const one = packed([[[0, 1]]]);
    const two = packed([[[0, 1]], [[0, 1]]]);
    expect(() => blendLists(one, two, 0.5, { k: 1, size: 1 })).toThrow(/same queries/);
    expect(() => blendLists(one, one, 1.5, { k: 1, size: 1 })).toThrow(/weight/);
  });
});

describe('cosineNeighbours and neighbourhoodScores', () => {
  // Users × creators: u0 {0,1}, u1 {0,1}, u2 {1,2}.
  const rows = binary([[0, 1], [0, 1], [1, 2], []], 3);

  it('ranks creators by cosine over the users, never the creator itself', () => {
    const nb = unpack(cosineNeighbours(rows, 5));
    const c01 = Math.round((2 / Math.sqrt(6)) * 1e4) / 1e4;
    const c12 = Math.round((1 / Math.sqrt(3)) * 1e4) / 1e4;
    expect(nb).toEqual([
      [[1, c01]],
      [
        [0, c01],
        [2, c12],
      ],
      [[1, c12]],
    ]);
  });

  it('scores a profile through the neighbours, leaving out its own creators', () => {
    const nb = cosineNeighbours(rows, 5);
    const profile = binary([[0], [1], [], [2]], 3);
    const out = unpack(neighbourhoodScores(profile, nb, { k: 5 }));
    const c01 = Math.round((2 / Math.sqrt(6)) * 1e4) / 1e4;
    const c12 = Math.round((1 / Math.sqrt(3)) * 1e4) / 1e4;
    expect(out).toEqual([
      [[1, c01]],
      [
        [0, c01],
        [2, c12],
      ],
      [],
      [[1, c12]],
    ]);
    const excluded = unpack(
      neighbourhoodScores(profile, nb, { k: 5, exclude: binary([[], [0]], 3) }),
    );
    expect(excluded[1]).toEqual([[2, c12]]);
  });
});

describe('friend signal', () => {
  it('builds a symmetric friend matrix, skipping unknown users and self-pairs', () => {
    const users = IdMap.fromColumn(['u0', 'u1', 'u2']);
    const m = friendMatrix(['u0', 'u0', 'u1', 'u9', 'u2'], ['u1', 'u2', 'u0', 'u0', 'u2'], users);
    expect([...m.indptr]).toEqual([0, 2, 3, 4]);
    expect([...m.indices]).toEqual([1, 2, 0, 0]);
    expect([...m.values]).toEqual([1, 1, 1, 1]);
    const directed = friendMatrix(['u0'], ['u1'], users, { symmetric: false });
    expect(directed.has(0, 1)).toBe(true);
    expect(directed.has(1, 0)).toBe(false);
  });

  it("scores a user's items by friends' votes, one vote per friend, own items left out", () => {
    // u0 has friends u1 {0, 1} and u2 {1}, and already has item 2.
    const userItems = binary([[2], [0, 1], [1]], 3);
    const friends = binary([[1, 2], [0], [0]], 3);
    const out = unpack(friendItemScores(friends, userItems, { k: 5 }));
    // u0: item 1 = 1/2 + 1 = 1.5, item 0 = 1/2 → scaled by the best; u1 gets u0's item 2 only.
    expect(out[0]).toEqual([
      [1, 1],
      [0, 0.3333],
    ]);
    expect(out[1]).toEqual([[2, 1]]);
    expect(out[2]).toEqual([[2, 1]]);
  });
});
