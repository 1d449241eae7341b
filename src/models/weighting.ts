import type { CsrMatrix } from '../data/csr-matrix.js';

/** Which weighting to apply, with BM25's constants. */
export interface WeightingParams {
  weighting: 'none' | 'tfidf' | 'bm25';
  bm25K1: number;
  bm25B: number;
}

/**
 * Re-weights a user×item matrix, reading users as documents and items as terms, so that
 * items everyone has (low IDF) and users who have everything (long documents) count less.
 * - tfidf: x · log(N / nᵢ)
 * - bm25: x(K1+1) / (K1·((1−B) + B·|u|/avg|u|) + x) · (log N − log(1 + nᵢ))
 * where N is the number of users and nᵢ the number of users of item i.
 */
export function weightInteractions(userItems: CsrMatrix, params: WeightingParams): CsrMatrix {
  if (params.weighting === 'none') return userItems;
  const nUsers = userItems.rows;
  const df = new Float64Array(userItems.cols);
  for (let e = 0; e < userItems.nnz; e++) df[userItems.indices[e]]++;
  if (params.weighting === 'tfidf') {
    return userItems.map((x, _u, i) => x * Math.log(nUsers / df[i]));
  }
  const { bm25K1: k1, bm25B: b } = params;
  const lengths = new Float64Array(nUsers);
  let total = 0;
  for (let u = 0; u < nUsers; u++) {
    for (let e = userItems.indptr[u]; e < userItems.indptr[u + 1]; e++)
      lengths[u] += userItems.values[e];
    total += lengths[u];
  }
  const avg = total / nUsers;
  return userItems.map((x, u, i) => {
    const idf = Math.log(nUsers) - Math.log1p(df[i]);
    return ((x * (k1 + 1)) / (k1 * (1 - b + (b * lengths[u]) / avg) + x)) * idf;
  });
}
