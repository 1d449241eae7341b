/**
 * Selects the k best entries of `scores` into `outIds`/`outScores` (best first) and returns how
 * many were found. Higher scores win; equal scores go to the lower index, so results are
 * deterministic. Entries equal to -Infinity are never selected, which is how callers exclude
 * candidates. Runs in O(n log k) with a binary heap held in the output arrays themselves.
 * With `candidates`, only `scores[candidates[0..candidateCount)]` are considered (sparse use).
 */
export function selectTopK(
  scores: Float32Array | Float64Array,
  k: number,
  outIds: Int32Array,
  outScores: Float32Array,
  outOffset = 0,
  candidates: Int32Array | null = null,
  candidateCount = 0,
): number {
  // Min-heap on (score, -index): the root is the worst entry kept so far.
  let size = 0;
  const ids = outIds;
  const vals = outScores;
  const o = outOffset;
  const n = candidates === null ? scores.length : candidateCount;
  for (let c = 0; c < n; c++) {
    const j = candidates === null ? c : candidates[c];
    // Compared as stored (Float32) so that ties are judged on the values callers read back.
    const s = Math.fround(scores[j]);
    if (s === -Infinity || s !== s) continue;
    if (size < k) {
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (worse(s, j, vals[o + p], ids[o + p])) {
          vals[o + i] = vals[o + p];
          ids[o + i] = ids[o + p];
          i = p;
        } else break;
      }
      vals[o + i] = s;
      ids[o + i] = j;
    } else if (worse(vals[o], ids[o], s, j)) {
      siftDown(vals, ids, o, size, s, j);
    }
  }
  // Heap-sort in place: repeatedly move the worst to the end.
  for (let end = size - 1; end > 0; end--) {
    const s = vals[o + end];
    const j = ids[o + end];
    vals[o + end] = vals[o];
    ids[o + end] = ids[o];
    siftDown(vals, ids, o, end, s, j);
  }
  return size;
}

/** Whether (sa, a) ranks below (sb, b). */
function worse(sa: number, a: number, sb: number, b: number): boolean {
  return sa < sb || (sa === sb && a > b);
}

function siftDown(vals: Float32Array, ids: Int32Array, o: number, size: number, s: number, j: number): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    let c = l;
    if (r < size && worse(vals[o + r], ids[o + r], vals[o + l], ids[o + l])) c = r;
    if (worse(vals[o + c], ids[o + c], s, j)) {
      vals[o + i] = vals[o + c];
      ids[o + i] = ids[o + c];
      i = c;
    } else break;
  }
  vals[o + i] = s;
  ids[o + i] = j;
}
