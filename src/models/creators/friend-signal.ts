/**
 * The friend graph as an extra recommendation signal (issue 22): what a user's friends interact
 * with, as packed ranked lists that {@link blendLists} mixes into a model's candidate lists.
 *
 * @module
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import type { ExternalIdColumn, IdMap } from '../../data/id-map.js';
import { blendLists, type PackedScores } from './creator-lists.js';

/**
 * The users × users friend matrix of `users` (dense training ids) from external id pairs: pairs
 * naming a user outside `users`, and self-pairs, are skipped; duplicates count once. With
 * `symmetric` (the default) every pair is also read backwards, so `a → b` makes b a friend of a
 * and a of b.
 *
 * @throws InvalidArgumentError when the two columns differ in length.
 */
export function friendMatrix(
  from: ExternalIdColumn,
  to: ExternalIdColumn,
  users: IdMap,
  options: { symmetric?: boolean } = {},
): CsrMatrix {
  if (from.length !== to.length)
    throw new InvalidArgumentError(
      'to',
      `has ${to.length} ids and from has ${from.length}; give one pair per row`,
    );
  const a = users.indexColumn(from);
  const b = users.indexColumn(to);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let e = 0; e < a.length; e++) {
    if (a[e] < 0 || b[e] < 0 || a[e] === b[e]) continue;
    rows.push(a[e]);
    cols.push(b[e]);
    if (options.symmetric !== false) {
      rows.push(b[e]);
      cols.push(a[e]);
    }
  }
  const summed = CsrMatrix.fromCoordinates(
    users.size,
    users.size,
    Int32Array.from(rows),
    Int32Array.from(cols),
    null,
  );
  return summed.map(() => 1);
}

/** Defaults of {@link friendItemScores}. */
export const FRIEND_SIGNAL_DEFAULTS = Object.freeze({
  /** Items kept per user. */
  k: 200,
});

/**
 * Each user's items scored by their friends: Σ over friends f of `userItems[f, j]` / (f's row
 * sum), so every friend casts one vote split over their items, whatever their number; the `k`
 * best per user, best first, without the user's own items (`userItems` row), scaled so that each
 * user's best scores 1. A user without friends gets an empty list.
 *
 * @param friends - users × users, e.g. from {@link friendMatrix}
 * @param userItems - users × items (the training matrix: binary or weighted)
 */
export function friendItemScores(
  friends: CsrMatrix,
  userItems: CsrMatrix,
  options: { k?: number } = {},
): PackedScores {
  const k = options.k ?? FRIEND_SIGNAL_DEFAULTS.k;
  if (!Number.isInteger(k) || k <= 0)
    throw new InvalidArgumentError('k', `must be a positive integer, got ${k}`);
  if (friends.rows !== userItems.rows || friends.cols !== userItems.rows)
    throw new InvalidArgumentError(
      'friends',
      `is ${friends.rows}×${friends.cols}, and userItems has ${userItems.rows} users: give a users × users matrix`,
    );
  const rowSums = new Float32Array(userItems.rows);
  for (let u = 0; u < userItems.rows; u++)
    for (let e = userItems.indptr[u]; e < userItems.indptr[u + 1]; e++)
      rowSums[u] += userItems.values[e];
  // Friends' votes become one weighted profile row per user; blending with nothing scores it.
  const votes: number[] = [];
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < friends.rows; u++)
    for (let e = friends.indptr[u]; e < friends.indptr[u + 1]; e++) {
      const f = friends.indices[e];
      if (rowSums[f] <= 0) continue;
      for (let t = userItems.indptr[f]; t < userItems.indptr[f + 1]; t++) {
        rows.push(u);
        cols.push(userItems.indices[t]);
        votes.push((friends.values[e] * userItems.values[t]) / rowSums[f]);
      }
    }
  const scored = CsrMatrix.fromCoordinates(
    userItems.rows,
    userItems.cols,
    Int32Array.from(rows),
    Int32Array.from(cols),
    Float32Array.from(votes),
  );
  const empty: PackedScores = {
    offsets: new Int32Array(userItems.rows + 1),
    ids: new Int32Array(0),
    scores: new Float32Array(0),
  };
  const packed: PackedScores = {
    offsets: scored.indptr,
    ids: scored.indices,
    scores: scored.values,
  };
  // Blending with empty lists at weight 0 ranks each row and drops the user's own items.
  return blendLists(packed, empty, 0, { k, size: userItems.cols, exclude: userItems });
}
