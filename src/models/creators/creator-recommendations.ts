/**
 * The creator lists of a published version (issue 22), from a model's candidate lists, the
 * catalogue's creator of each item and the training pairs: what `pipeline/steps/publish-creators`
 * writes as `user-creators` and `related-creators`.
 *
 * @module
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import {
  aggregateByCreator,
  blendLists,
  CREATOR_AGGREGATION_DEFAULTS,
  type CreatorIndex,
  cosineNeighbours,
  creatorIndex,
  neighbourhoodScores,
  type PackedScores,
} from './creator-lists.js';

/** Defaults of {@link creatorRecommendations}. */
export const CREATOR_RECOMMENDATION_DEFAULTS = Object.freeze({
  /** Creators per user list. */
  userK: 50,
  /** Creators per related list. */
  relatedK: 50,
  /** Creators in the popular list. */
  popularK: 100,
  /** See {@link CREATOR_AGGREGATION_DEFAULTS}. */
  sizePower: CREATOR_AGGREGATION_DEFAULTS.sizePower,
  /** Share of the direct-interaction score in a user's blend (users who have direct interactions). */
  directWeight: 0.5,
  /** Share of the creator cosine in a creator's related list (the rest: aggregated related items). */
  cosineWeight: 0.5,
  /** Creator neighbours kept per creator for the cosine. */
  neighbours: 100,
});

/** What {@link creatorRecommendations} is made from; every id dense. */
export interface CreatorInputs {
  /** The creator of each dense item (`readItemCatalogue(…).creators`), null for none. */
  creators: readonly (string | null)[];
  /** The external id of each dense item, as text: an item named like a creator is that creator. */
  itemIds: readonly string[];
  /** Training pairs: `pairs.users[e]` interacted with `pairs.items[e]` with weight `values[e]`. */
  pairs: { users: Int32Array; items: Int32Array; values: Float32Array | null };
  /** Number of dense users. */
  users: number;
  /** Candidate lists: one per dense user, best items first. */
  userLists: PackedScores;
  /** Candidate lists: one per dense item, most related items first. */
  relatedLists: PackedScores;
}

/** Options of {@link creatorRecommendations}; see {@link CREATOR_RECOMMENDATION_DEFAULTS}. */
export type CreatorOptions = Partial<{
  -readonly [K in keyof typeof CREATOR_RECOMMENDATION_DEFAULTS]: number;
}>;

/** What {@link creatorRecommendations} returns: lists in dense creator ids of `index`. */
export interface CreatorRecommendations {
  index: CreatorIndex;
  /** One list per dense user. */
  users: PackedScores;
  /** One list per dense creator. */
  related: PackedScores;
  /**
   * One list: the creators the most users touched (through an item or directly), scored by that
   * count, ties to the lower creator id: the fallback for users without a list.
   */
  popular: PackedScores;
  /** Training pairs that were direct creator interactions (an item id naming a creator). */
  directPairs: number;
}

/**
 * User → creator and creator → creator lists:
 * - **derived**: each user's candidate items aggregated per creator ({@link aggregateByCreator}:
 *   max-scaled item scores summed per creator, divided by (creator's items)^sizePower);
 * - **direct**: a training pair whose item has no creator in the catalogue but whose id is a
 *   creator's name (events such as follow, support, play logged against the creator) is a direct
 *   creator interaction (and such an item, in candidate lists, stands for its creator); a user
 *   with any gets the creator-kNN score of those creators (cosine
 *   between creators over who touched them, {@link neighbourhoodScores}), blended with the derived
 *   list at `directWeight` ({@link blendLists}: each side max-scaled);
 * - creators the user already touched — through an item of theirs or directly — are never
 *   recommended to them.
 * - related creators: the creator's items' related lists aggregated per creator (itself left
 *   out), blended at `cosineWeight` with creator cosine over who touched them;
 * - popular creators: by the number of users who touched them.
 *
 * @throws InvalidArgumentError when the inputs disagree on the number of items or users.
 */
export function creatorRecommendations(
  input: CreatorInputs,
  options: CreatorOptions = {},
): CreatorRecommendations {
  const o = { ...CREATOR_RECOMMENDATION_DEFAULTS, ...options };
  const nItems = input.creators.length;
  if (input.itemIds.length !== nItems || input.relatedLists.offsets.length - 1 !== nItems)
    throw new InvalidArgumentError(
      'creators',
      `has ${nItems} items, itemIds ${input.itemIds.length} and relatedLists ${input.relatedLists.offsets.length - 1}: give one per dense item`,
    );
  if (input.userLists.offsets.length - 1 !== input.users)
    throw new InvalidArgumentError(
      'userLists',
      `holds ${input.userLists.offsets.length - 1} lists for ${input.users} users`,
    );
  const index = creatorIndex(input.creators);
  const nCreators = index.names.length;
  // Items standing for a creator (no creator of their own, named like one).
  const direct = new Int32Array(nItems).fill(-1);
  for (let i = 0; i < nItems; i++)
    if (index.itemCreator[i] < 0) direct[i] = index.indexOf(input.itemIds[i]);
  // Aggregation reads such an item as its creator too: a model recommending the item "C" (or
  // relating it to others) speaks of creator C. It counts as one of C's items.
  const itemCreator = Int32Array.from(index.itemCreator, (c, i) => (c >= 0 ? c : direct[i]));
  const itemCounts = new Int32Array(nCreators);
  for (let i = 0; i < nItems; i++) if (itemCreator[i] >= 0) itemCounts[itemCreator[i]]++;
  const aggregation = { itemCreator, itemCounts };

  const { users: pu, items: pi, values: pv } = input.pairs;
  const touchedRows: number[] = [];
  const touchedCols: number[] = [];
  const directRows: number[] = [];
  const directCols: number[] = [];
  const directValues: number[] = [];
  for (let e = 0; e < pu.length; e++) {
    const i = pi[e];
    const c = itemCreator[i];
    if (c < 0) continue;
    touchedRows.push(pu[e]);
    touchedCols.push(c);
    if (direct[i] >= 0) {
      directRows.push(pu[e]);
      directCols.push(c);
      directValues.push(pv === null ? 1 : pv[e]);
    }
  }
  const touched = CsrMatrix.fromCoordinates(
    input.users,
    nCreators,
    Int32Array.from(touchedRows),
    Int32Array.from(touchedCols),
    null,
  ).map(() => 1);
  const neighbours = cosineNeighbours(touched, o.neighbours);

  let users = aggregateByCreator(input.userLists, aggregation, {
    k: o.userK,
    sizePower: o.sizePower,
    exclude: touched,
  });
  if (directRows.length > 0) {
    const profile = CsrMatrix.fromCoordinates(
      input.users,
      nCreators,
      Int32Array.from(directRows),
      Int32Array.from(directCols),
      Float32Array.from(directValues),
    );
    const fromDirect = neighbourhoodScores(profile, neighbours, { k: o.userK, exclude: touched });
    users = blendLists(users, fromDirect, o.directWeight, {
      k: o.userK,
      size: nCreators,
      exclude: touched,
    });
  }
  const relatedItems = aggregateByCreator(input.relatedLists, aggregation, {
    k: o.relatedK,
    sizePower: o.sizePower,
    outputOf: itemCreator,
    outputs: nCreators,
    excludeSelf: true,
  });
  const related = blendLists(relatedItems, neighbours, o.cosineWeight, {
    k: o.relatedK,
    size: nCreators,
  });
  return {
    index,
    users,
    related,
    popular: popularCreators(touched, o.popularK),
    directPairs: directRows.length,
  };
}

/** The `k` columns of `touched` with the most rows, best first, scored by that count. */
function popularCreators(touched: CsrMatrix, k: number): PackedScores {
  const counts = new Int32Array(touched.cols);
  for (let e = 0; e < touched.nnz; e++) counts[touched.indices[e]]++;
  const order = Int32Array.from({ length: touched.cols }, (_, c) => c).filter((c) => counts[c] > 0);
  order.sort((a, b) => counts[b] - counts[a] || a - b);
  const ids = order.slice(0, k);
  return {
    offsets: Int32Array.of(0, ids.length),
    ids,
    scores: Float32Array.from(ids, (c) => counts[c]),
  };
}
