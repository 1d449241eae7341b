import { InvalidArgumentError } from '../core/errors.js';
import { CsrMatrix } from '../data/csr-matrix.js';
import { type ExternalId, IdMap } from '../data/id-map.js';
import type { InteractionLog } from '../data/interaction-log.js';
import type { RankedLists } from '../models/ranked-lists.js';
import type { Recommender } from '../models/recommender.js';
import { addUserCurves, emptyCurves } from './ranking-metrics.js';

/** Averaged ranking metrics, keyed `precision@k`, `recall@k`, `ndcg@k`, `map@k`, `coverage`. */
export type MetricTable = Record<string, number>;

/** What {@link evaluateRecommender} returns. */
export interface EvaluationResult {
  k: number;
  /** Users with at least one test item: the denominator of every average. */
  users: number;
  /**
   * Of those, users the model never saw in training and that no {@link ListedUsers} list covers;
   * they count with zero hits.
   */
  coldUsers: number;
  /** Test items absent from training: no model can recommend them, but they count as relevant. */
  unknownTestItems: number;
  metrics: MetricTable;
  /** precision, recall, nDCG and MAP at every cutoff c = 1..k (entry c−1), averaged like `metrics`. */
  curves: { precision: number[]; recall: number[]; ndcg: number[]; map: number[] };
  seconds: number;
  /** With `perUser`: each test user's nDCG@k, in the order of `ids` (ascending external id). */
  perUser?: UserScores;
}

/**
 * Users outside the model's training data whose top-k lists were computed elsewhere (for
 * example from their items by `embedUsers`): list q of `lists` (dense item indices of the
 * model's `data.items`) belongs to `ids[q]`.
 */
export interface ListedUsers {
  ids: readonly ExternalId[];
  lists: RankedLists;
}

/** Per-user figures of an evaluation. */
export interface UserScores {
  /** Every test user, ascending. */
  ids: ExternalId[];
  /** nDCG@k of each; 0 for a user without a list. */
  ndcg: Float64Array;
  /** 1 where the user had a list (known to the model or listed), 0 for a user counted as cold. */
  scored: Uint8Array;
}

/**
 * Scores a fitted model against held-out interactions: each test user gets the model's top-k
 * with their training items excluded, and each list is judged against the user's distinct test
 * items. Coverage is the share of training items that appear in at least one list.
 *
 * @example
 * const result = evaluateRecommender(model, await readInteractionLog('test.csv'), { k: 10 });
 * result.metrics['ndcg@10'];
 */
export function evaluateRecommender(
  model: Recommender,
  test: InteractionLog,
  options: {
    k: number;
    batchSize?: number;
    /** Lists of users the model was not trained on, judged like the others. */
    listed?: ListedUsers;
    /** Also return each user's nDCG@k ({@link EvaluationResult.perUser}). */
    perUser?: boolean;
  },
): EvaluationResult {
  const { k } = options;
  if (!Number.isInteger(k) || k <= 0)
    throw new InvalidArgumentError('k', `must be a positive integer, got ${k}`);
  const started = performance.now();
  const train = model.data;
  const nItems = train.items.size;

  // Test items unknown to training get column ids past the catalogue so they still count.
  const testUsers = IdMap.fromColumn(test.users);
  const itemCols = train.items.indexColumn(test.items);
  const unknownItems = new Map<number | string, number>();
  for (let r = 0; r < itemCols.length; r++) {
    if (itemCols[r] >= 0) continue;
    const id = test.items[r];
    let col = unknownItems.get(id);
    if (col === undefined) unknownItems.set(id, (col = nItems + unknownItems.size));
    itemCols[r] = col;
  }
  const truth = CsrMatrix.fromCoordinates(
    testUsers.size,
    nItems + unknownItems.size,
    testUsers.indexColumn(test.users),
    itemCols,
    null,
  );

  const known: number[] = [];
  const knownTrainIndex: number[] = [];
  for (let t = 0; t < testUsers.size; t++) {
    const u = train.users.indexOf(testUsers.idAt(t));
    if (u >= 0) {
      known.push(t);
      knownTrainIndex.push(u);
    }
  }

  const sums = emptyCurves(k);
  const recommended = new Uint8Array(nItems);
  const hits = new Uint8Array(k);
  const ndcg = new Float64Array(testUsers.size);
  const scored = new Uint8Array(testUsers.size);
  const judge = (t: number, ids: Int32Array): void => {
    hits.fill(0);
    for (let i = 0; i < ids.length; i++) {
      recommended[ids[i]] = 1;
      hits[i] = truth.has(t, ids[i]) ? 1 : 0;
    }
    const before = sums.ndcg[k - 1];
    addUserCurves(hits, truth.rowNnz(t), k, sums);
    ndcg[t] = sums.ndcg[k - 1] - before;
    scored[t] = 1;
  };
  const batch = options.batchSize ?? 1024;
  for (let start = 0; start < known.length; start += batch) {
    const lists = model.recommend(knownTrainIndex.slice(start, start + batch), {
      k,
      excludeSeen: true,
    });
    for (let q = 0; q < lists.count; q++) judge(known[start + q], lists.idsOf(q));
  }
  const listed = options.listed;
  let listedUsers = 0;
  if (listed !== undefined) {
    if (listed.lists.count !== listed.ids.length)
      throw new InvalidArgumentError(
        'listed',
        `${listed.ids.length} ids but ${listed.lists.count} lists`,
      );
    for (let q = 0; q < listed.ids.length; q++) {
      const t = testUsers.indexOf(listed.ids[q]);
      // A listed user without test items has nothing to be judged on; one the model knows is scored once.
      if (t < 0 || scored[t] === 1) continue;
      const ids = listed.lists.idsOf(q);
      judge(t, ids.length > k ? ids.subarray(0, k) : ids);
      listedUsers++;
    }
  }
  const users = testUsers.size;
  let covered = 0;
  for (let i = 0; i < nItems; i++) covered += recommended[i];
  // Cold users count in the denominator with zero hits at every cutoff.
  const mean = (a: Float64Array): number[] => Array.from(a, (x) => x / users);
  const curves = {
    precision: mean(sums.precision),
    recall: mean(sums.recall),
    ndcg: mean(sums.ndcg),
    map: mean(sums.ap),
  };
  return {
    k,
    users,
    coldUsers: users - known.length - listedUsers,
    unknownTestItems: unknownItems.size,
    metrics: {
      [`precision@${k}`]: curves.precision[k - 1],
      [`recall@${k}`]: curves.recall[k - 1],
      [`ndcg@${k}`]: curves.ndcg[k - 1],
      [`map@${k}`]: curves.map[k - 1],
      coverage: covered / nItems,
    },
    curves,
    seconds: (performance.now() - started) / 1000,
    ...(options.perUser ? { perUser: { ids: testUsers.toJSON(), ndcg, scored } } : {}),
  };
}
