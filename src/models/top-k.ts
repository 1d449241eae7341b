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
    if (s === -Infinity || Number.isNaN(s)) continue;
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

function siftDown(
  vals: Float32Array,
  ids: Int32Array,
  o: number,
  size: number,
  s: number,
  j: number,
): void {
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

/**
 * The same selection as {@link selectTopK} (higher scores win, equal scores go to the lower
 * index, -Infinity and NaN never selected) over `scores[candidates[0..count)]`, but returned as
 * a set of indices in ascending index order rather than best first. Runs in expected O(count)
 * by quickselect, which beats the heap when k is a large share of the candidates.
 *
 * @param scratch - working memory of at least `count` entries each
 * @returns how many indices were written to `outIds[outOffset..]` (at most k)
 */
export function selectTopKSet(
  scores: Float32Array,
  candidates: Int32Array,
  count: number,
  k: number,
  outIds: Int32Array,
  outOffset: number,
  scratch: { values: Float32Array; ids: Int32Array },
): number {
  const values = scratch.values;
  let n = 0;
  for (let c = 0; c < count; c++) {
    const s = scores[candidates[c]];
    if (s !== -Infinity && !Number.isNaN(s)) values[n++] = s;
  }
  let written = outOffset;
  if (n <= k) {
    for (let c = 0; c < count; c++) {
      const s = scores[candidates[c]];
      if (s !== -Infinity && !Number.isNaN(s)) outIds[written++] = candidates[c];
    }
  } else {
    const threshold = kthLargest(values, n, k);
    let above = 0;
    for (let c = 0; c < count; c++) {
      const j = candidates[c];
      if (scores[j] > threshold) outIds[written + above++] = j;
    }
    // Fill the remaining places with the lowest indices scoring exactly the threshold.
    const ties = scratch.ids;
    let nTies = 0;
    for (let c = 0; c < count; c++) {
      const j = candidates[c];
      if (scores[j] === threshold) ties[nTies++] = j;
    }
    const sorted = ties.subarray(0, nTies).sort();
    written += above;
    for (let t = 0; written - outOffset < k; t++) outIds[written++] = sorted[t];
  }
  outIds.subarray(outOffset, written).sort();
  return written - outOffset;
}

/** The k-th largest of `a[0..n)` (1-based k), reordering `a` (Hoare quickselect). */
function kthLargest(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target];
}
