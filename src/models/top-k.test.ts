import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.js';
import { selectTopK, selectTopKSet } from './top-k.js';

describe('selectTopK', () => {
  it('returns the best first, ties to the lower index, skipping -Infinity', () => {
    const scores = Float32Array.from([0.5, 2, -Infinity, 2, 1]);
    const ids = new Int32Array(3);
    const vals = new Float32Array(3);
    expect(selectTopK(scores, 3, ids, vals)).toBe(3);
    expect([...ids]).toEqual([1, 3, 4]);
    expect([...vals]).toEqual([2, 2, 1]);
    expect(selectTopK(Float32Array.from([-Infinity, 3]), 3, ids, vals)).toBe(1);
  });
});

describe('selectTopKSet', () => {
  it('selects exactly the set selectTopK selects, on random scores with many ties', () => {
    const rng = new Random(3);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + rng.nextInt(200);
      const k = 1 + rng.nextInt(60);
      // Coarse values force ties; some candidates are excluded with -Infinity.
      const scores = Float32Array.from({ length: n }, () =>
        rng.next() < 0.1 ? -Infinity : Math.floor(rng.next() * 8),
      );
      const candidates = Int32Array.from({ length: n }, (_, i) => i).sort(() => rng.next() - 0.5);
      const heapIds = new Int32Array(k);
      const heapCount = selectTopK(scores, k, heapIds, new Float32Array(k));
      const setIds = new Int32Array(k);
      const setCount = selectTopKSet(scores, candidates, n, k, setIds, 0, {
        values: new Float32Array(n),
        ids: new Int32Array(n),
      });
      expect(setCount).toBe(heapCount);
      expect([...setIds.subarray(0, setCount)]).toEqual(
        [...heapIds.subarray(0, heapCount)].sort((a, b) => a - b),
      );
    }
  });
});
