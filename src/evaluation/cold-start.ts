import { InvalidArgumentError } from '../core/errors.js';
import { Random } from '../core/random.js';
import { CsrMatrix } from '../data/csr-matrix.js';
import { type ExternalId, IdMap } from '../data/id-map.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { Interactions } from '../data/interactions.js';
import { DenseScorer } from '../models/dense-scorer.js';
import { RankedLists } from '../models/ranked-lists.js';
import type { Recommender, UserEmbeddingModel } from '../models/recommender.js';
import { selectTopK } from '../models/top-k.js';
import { type EvaluationResult, evaluateRecommender } from './evaluate.js';

/** What {@link holdOutColdUsers} returns. */
export interface ColdStartSplit {
  /** The training data without the cold users (items only they had are gone too). */
  warm: Interactions;
  /** The users held out of training, ascending by external id. */
  cold: {
    ids: ExternalId[];
    /** Each cold user's training items as dense indices of `warm.items` (items unknown there left out). */
    items: Int32Array[];
    /** Each cold user's number of distinct training items, unknown ones included. */
    interactions: Int32Array;
  };
  fraction: number;
  seed: number;
}

/**
 * Edges of the interaction-count buckets that warm and cold users are matched in: bucket b holds
 * users with `edges[b] ≤ count < edges[b + 1]` training items (the last bucket is open).
 */
export const COLD_START_BUCKETS: readonly number[] = Object.freeze([
  0, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024,
]);

/** One interaction-count bucket of {@link ColdStartEvaluation.buckets}. */
export interface ColdStartBucket {
  /** Training items from (inclusive). */
  from: number;
  /** Training items up to (exclusive); null for the open last bucket. */
  to: number | null;
  warmUsers: number;
  coldUsers: number;
  /** Mean nDCG@k of the bucket's warm / cold test users; null without any. */
  warmNdcg: number | null;
  coldNdcg: number | null;
}

/** What {@link evaluateColdStart} returns. */
export interface ColdStartEvaluation {
  /** Every test user: warm ones through `recommend`, cold ones through their embedded vectors. */
  result: EvaluationResult;
  fraction: number;
  seed: number;
  /** Warm test users (trained on) and their mean nDCG@k. */
  warm: { users: number; ndcg: number };
  /** Cold test users (held out, embedded from their training items) and their mean nDCG@k. */
  cold: { users: number; ndcg: number };
  /**
   * Warm users' nDCG@k matched to the cold users' interaction counts: each bucket's warm mean
   * weighted by the bucket's share of cold users (cold users in a bucket without warm users are
   * left out of both sides).
   */
  matchedWarmNdcg: number;
  /** Mean nDCG@k of the cold users in buckets that have warm users. */
  matchedColdNdcg: number;
  /** matchedColdNdcg / matchedWarmNdcg: the cold-start goal asks for ≥ 0.9. NaN when undefined. */
  ratio: number;
  buckets: ColdStartBucket[];
}

/** Whether a model embeds users from their items (has `embedUsers`), as the graph models do. */
export function embedsUsers(model: Recommender): model is UserEmbeddingModel {
  return typeof (model as Partial<UserEmbeddingModel>).embedUsers === 'function';
}

/**
 * Holds a seeded share of the training users out of the training data, to evaluate how a model
 * serves users it was not trained on: `round(fraction · users)` users (at least 1) drawn by a
 * seeded shuffle, their rows removed (and with them any item only they had). The result is the
 * same for the same data, fraction and seed.
 *
 * @param fraction - share of users to hold out, in (0, 1)
 * @throws InvalidArgumentError for a fraction outside (0, 1) or one that leaves no warm user.
 */
export function holdOutColdUsers(
  train: Interactions,
  fraction: number,
  seed: number,
): ColdStartSplit {
  if (!(fraction > 0 && fraction < 1))
    throw new InvalidArgumentError('fraction', `must be in (0, 1), got ${fraction}`);
  const nUsers = train.users.size;
  const count = Math.max(1, Math.round(fraction * nUsers));
  if (count >= nUsers)
    throw new InvalidArgumentError('fraction', `${fraction} of ${nUsers} users leaves none warm`);
  const order = Int32Array.from({ length: nUsers }, (_, u) => u);
  const rng = new Random(seed);
  for (let i = nUsers - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const isCold = new Uint8Array(nUsers);
  for (let x = 0; x < count; x++) isCold[order[x]] = 1;

  const { indptr, indices, values } = train.userItems;
  const itemKept = new Uint8Array(train.items.size);
  for (let u = 0; u < nUsers; u++)
    if (!isCold[u]) for (let e = indptr[u]; e < indptr[u + 1]; e++) itemKept[indices[e]] = 1;
  // Old item index → warm item index (-1 when gone); ascending, so rows stay sorted.
  const itemMap = new Int32Array(train.items.size).fill(-1);
  const itemIds: ExternalId[] = [];
  for (let i = 0; i < itemKept.length; i++)
    if (itemKept[i]) {
      itemMap[i] = itemIds.length;
      itemIds.push(train.items.idAt(i));
    }

  const userIds: ExternalId[] = [];
  const coldIds: ExternalId[] = [];
  const coldItems: Int32Array[] = [];
  const coldCounts: number[] = [];
  const ptr: number[] = [0];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const row = indices.subarray(indptr[u], indptr[u + 1]);
    if (isCold[u]) {
      coldIds.push(train.users.idAt(u));
      coldItems.push(Int32Array.from(row, (i) => itemMap[i]).filter((i) => i >= 0));
      coldCounts.push(row.length);
      continue;
    }
    userIds.push(train.users.idAt(u));
    for (let e = indptr[u]; e < indptr[u + 1]; e++) {
      cols.push(itemMap[indices[e]]);
      vals.push(values[e]);
    }
    ptr.push(cols.length);
  }
  const matrix = new CsrMatrix(
    userIds.length,
    itemIds.length,
    Int32Array.from(ptr),
    Int32Array.from(cols),
    Float32Array.from(vals),
  );
  return {
    warm: new Interactions(IdMap.fromSortedIds(userIds), IdMap.fromSortedIds(itemIds), matrix),
    cold: { ids: coldIds, items: coldItems, interactions: Int32Array.from(coldCounts) },
    fraction,
    seed,
  };
}

/**
 * Top-k lists of users given by their items (dense indices of `model.data.items`), from the
 * vectors `embedUsers` gives them: item j scores the dot product with `itemFactors()` row j (plus
 * the model's `itemBiases()` where it has them); the user's own items are left out. Best first;
 * equal scores go to the lower index.
 */
export function recommendFromItems(
  model: UserEmbeddingModel,
  users: readonly Int32Array[],
  k: number,
): RankedLists {
  const items = model.itemFactors();
  const withBias = model as UserEmbeddingModel & { itemBiases?: () => Float32Array };
  const bias = typeof withBias.itemBiases === 'function' ? withBias.itemBiases() : null;
  const scorer = new DenseScorer(items, bias);
  const vectors = model.embedUsers(users);
  const lists = new RankedLists(users.length, k);
  const scores = new Float32Array(items.rows);
  for (let q = 0; q < users.length; q++) {
    scorer.score(vectors.data, q * vectors.cols, scores);
    for (const i of users[q]) scores[i] = Number.NEGATIVE_INFINITY;
    lists.lengths[q] = selectTopK(scores, k, lists.ids, lists.scores, q * k);
  }
  return lists;
}

/**
 * Evaluates a model fitted on `split.warm` (see {@link holdOutColdUsers}) on warm and cold users
 * alike: warm users get `recommend`, cold users are embedded from their training items only
 * ({@link recommendFromItems}). Reports nDCG@k for each group and the cold/warm ratio with warm
 * users matched to the cold users' interaction counts ({@link COLD_START_BUCKETS}).
 *
 * @example
 * const split = holdOutColdUsers(train, 0.1, 42);
 * await model.fit(split.warm);
 * evaluateColdStart(model, testLog, split, { k: 10 }).ratio; // ≥ 0.9 is the goal
 */
export function evaluateColdStart(
  model: UserEmbeddingModel,
  test: InteractionLog,
  split: ColdStartSplit,
  options: { k: number },
): ColdStartEvaluation {
  const { k } = options;
  const lists = recommendFromItems(model, split.cold.items, k);
  const result = evaluateRecommender(model, test, {
    k,
    listed: { ids: split.cold.ids, lists },
    perUser: true,
  });
  return summarizeColdStart(result, model.data, split);
}

/**
 * The warm/cold figures of an evaluation made with `perUser` whose held-out users (`split.cold`)
 * were scored as `listed` users, `data` being what the model trained on (`split.warm`): for
 * lists produced elsewhere, such as a peer's, scored by {@link evaluateRecommender}.
 * @throws InvalidArgumentError when `result` has no per-user figures.
 */
export function summarizeColdStart(
  result: EvaluationResult,
  data: Interactions,
  split: ColdStartSplit,
): ColdStartEvaluation {
  if (result.perUser === undefined)
    throw new InvalidArgumentError('result', 'needs per-user figures (evaluate with perUser)');
  const per = result.perUser!;
  const coldCount = new Map<ExternalId, number>();
  split.cold.ids.forEach((id, q) => coldCount.set(id, split.cold.interactions[q]));
  const edges = COLD_START_BUCKETS;
  const bucketOf = (count: number): number => {
    let b = 0;
    while (b + 1 < edges.length && count >= edges[b + 1]) b++;
    return b;
  };
  const sums = { warm: new Float64Array(edges.length), cold: new Float64Array(edges.length) };
  const counts = { warm: new Int32Array(edges.length), cold: new Int32Array(edges.length) };
  const { indptr } = data.userItems;
  for (let t = 0; t < per.ids.length; t++) {
    if (!per.scored[t]) continue;
    const id = per.ids[t];
    const cold = coldCount.get(id);
    let group: 'warm' | 'cold';
    let b: number;
    if (cold !== undefined) {
      group = 'cold';
      b = bucketOf(cold);
    } else {
      const u = data.users.indexOf(id);
      if (u < 0) continue;
      group = 'warm';
      b = bucketOf(indptr[u + 1] - indptr[u]);
    }
    sums[group][b] += per.ndcg[t];
    counts[group][b]++;
  }
  const total = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);
  const mean = (s: number, n: number): number => (n === 0 ? 0 : s / n);
  let matchedCold = 0;
  let matchedWarm = 0;
  let matchedUsers = 0;
  const buckets: ColdStartBucket[] = [];
  for (let b = 0; b < edges.length; b++) {
    const nw = counts.warm[b];
    const nc = counts.cold[b];
    if (nc > 0 && nw > 0) {
      matchedCold += sums.cold[b];
      matchedWarm += nc * (sums.warm[b] / nw);
      matchedUsers += nc;
    }
    if (nw > 0 || nc > 0)
      buckets.push({
        from: edges[b],
        to: b + 1 < edges.length ? edges[b + 1] : null,
        warmUsers: nw,
        coldUsers: nc,
        warmNdcg: nw > 0 ? sums.warm[b] / nw : null,
        coldNdcg: nc > 0 ? sums.cold[b] / nc : null,
      });
  }
  const matchedWarmNdcg = mean(matchedWarm, matchedUsers);
  const matchedColdNdcg = mean(matchedCold, matchedUsers);
  return {
    result,
    fraction: split.fraction,
    seed: split.seed,
    warm: { users: total(counts.warm), ndcg: mean(total(sums.warm), total(counts.warm)) },
    cold: { users: total(counts.cold), ndcg: mean(total(sums.cold), total(counts.cold)) },
    matchedWarmNdcg,
    matchedColdNdcg,
    ratio: matchedUsers === 0 || matchedWarmNdcg === 0 ? Number.NaN : matchedCold / matchedWarm,
    buckets,
  };
}
