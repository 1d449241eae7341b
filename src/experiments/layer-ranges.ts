import { BUCKETS } from './experiment.js';

/**
 * A free range of `size` buckets in a layer whose `taken` ranges ([start, end), any order) belong
 * to other experiments: the first gap that fits, or null when none does. `prefer` (an earlier
 * range of the same experiment) is kept, or grown or shrunk at its end, when that fits, so units
 * already in the experiment stay in it.
 */
export function allocateRange(
  size: number,
  taken: readonly (readonly [number, number])[],
  prefer?: readonly [number, number],
): [number, number] | null {
  if (!Number.isInteger(size) || size < 1 || size > BUCKETS) return null;
  const sorted = [...taken].sort((a, b) => a[0] - b[0]);
  const free = (start: number, end: number): boolean =>
    end <= BUCKETS && sorted.every(([s, e]) => end <= s || start >= e);
  if (prefer !== undefined && free(prefer[0], prefer[0] + size))
    return [prefer[0], prefer[0] + size];
  let cursor = 0;
  for (const [s, e] of sorted) {
    if (s - cursor >= size) return [cursor, cursor + size];
    cursor = Math.max(cursor, e);
  }
  return BUCKETS - cursor >= size ? [cursor, cursor + size] : null;
}
