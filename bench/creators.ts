/**
 * User → creator recommendations (issue 22) on HetRec 2011 Last.fm 2K: users → artists, where
 * each artist is its own creator, so creator lists are artist lists. Read from
 * `../shared/data/hetrec-lastfm-2k` (non-commercial licence: never bundled in the repository).
 *
 * Split: per user, a seeded shuffle of their artists holds out ⌊20 %⌋ (users with fewer than 5
 * artists stay whole in training); the data has no play times, so there is no "latest". Blend
 * weights are chosen on a validation split carved the same way out of training (seed + 1), then
 * the models are refitted on all of training and judged once on the test split.
 *
 * Compared, by recall@10 and nDCG@10 over artists (training artists excluded):
 * - popularity, item-kNN (defaults: BM25, K=800), ALS (defaults) — kiban's models as they are;
 * - creators ← item-kNN, creators ← ALS: the model's top 200 aggregated by creator
 *   (`aggregateByCreator`, the publish step's path; here each creator has one item);
 * - creator-kNN (direct): cosine between creators over users × creators (`cosineNeighbours`,
 *   `neighbourhoodScores`), what the publish step blends in for direct creator interactions;
 * - item-kNN + ALS, item-kNN + friends, item-kNN + ALS + friends: `blendLists` of the top-200
 *   lists with the friend signal (`friendItemScores`: each friend's artists, one vote per friend).
 *
 *   npx tsx bench/creators.ts [--data DIR] [--seed 22]
 *
 * Last line: one JSON object with the figures and the machine.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { CsrMatrix } from '../src/data/csr-matrix.js';
import { Interactions } from '../src/data/interactions.js';
import type { InteractionLog } from '../src/data/interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { addUserCurves, emptyCurves } from '../src/evaluation/ranking-metrics.js';
import { builtinModels } from '../src/models/builtin-models.js';
import {
  aggregateByCreator,
  blendLists,
  cosineNeighbours,
  creatorIndex,
  neighbourhoodScores,
  type PackedScores,
} from '../src/models/creators/creator-lists.js';
import { friendItemScores, friendMatrix } from '../src/models/creators/friend-signal.js';
import type { Recommender } from '../src/models/recommender.js';
import { packRankedLists } from '../src/pipeline/steps/candidate-lists.js';

const { values } = parseArgs({
  options: {
    data: {
      type: 'string',
      default: join(dirname(fileURLToPath(import.meta.url)), '../../shared/data/hetrec-lastfm-2k'),
    },
    seed: { type: 'string', default: '22' },
  },
});
const DATA = values.data;
const SEED = Number(values.seed);
const K = 10;
const CANDIDATES = 200;
const started = performance.now();

/** A tab-separated file with a header line, as string columns. */
async function readTsv(file: string): Promise<string[][]> {
  const text = await readFile(join(DATA, file), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(1).map((l) => l.replace(/\r$/, '').split('\t'));
}

interface Pairs {
  users: string[];
  items: string[];
}

/** Per user, a seeded shuffle holds out ⌊fraction·n⌋ of n ≥ 5 rows; the rest trains. */
function splitPerUser(rows: Pairs, fraction: number, seed: number): { fit: Pairs; held: Pairs } {
  const byUser = new Map<string, number[]>();
  for (let r = 0; r < rows.users.length; r++) {
    const list = byUser.get(rows.users[r]);
    if (list === undefined) byUser.set(rows.users[r], [r]);
    else list.push(r);
  }
  const random = new Random(seed);
  const fit: Pairs = { users: [], items: [] };
  const held: Pairs = { users: [], items: [] };
  for (const user of [...byUser.keys()].sort()) {
    const list = byUser.get(user)!;
    for (let i = list.length - 1; i > 0; i--) {
      const j = random.nextInt(i + 1);
      [list[i], list[j]] = [list[j], list[i]];
    }
    const out = list.length >= 5 ? Math.floor(fraction * list.length) : 0;
    list.forEach((r, i) => {
      const to = i < out ? held : fit;
      to.users.push(rows.users[r]);
      to.items.push(rows.items[r]);
    });
  }
  return { fit, held };
}

function asLog(p: Pairs): InteractionLog {
  return {
    source: 'held-out',
    rows: p.users.length,
    users: p.users,
    items: p.items,
    values: null,
    timestamps: null,
    skipped: 0,
    badRows: [],
  };
}

/** recall@K and nDCG@K of packed lists (rows = training users) against held-out pairs. */
function judge(lists: PackedScores, data: Interactions, held: Pairs): Record<string, number> {
  const truth = new Map<number, Set<string>>();
  for (let r = 0; r < held.users.length; r++) {
    const u = data.users.indexOf(held.users[r]);
    if (u < 0) throw new Error(`held-out user ${held.users[r]} is not in training`);
    let set = truth.get(u);
    if (set === undefined) truth.set(u, (set = new Set()));
    set.add(held.items[r]);
  }
  const sums = emptyCurves(K);
  for (const [u, set] of truth) {
    const hits: number[] = [];
    for (let t = lists.offsets[u]; t < Math.min(lists.offsets[u + 1], lists.offsets[u] + K); t++)
      hits.push(set.has(String(data.items.idAt(lists.ids[t]))) ? 1 : 0);
    addUserCurves(hits, set.size, K, sums);
  }
  return {
    [`recall@${K}`]: sums.recall[K - 1] / truth.size,
    [`ndcg@${K}`]: sums.ndcg[K - 1] / truth.size,
    users: truth.size,
  };
}

interface Signals {
  data: Interactions;
  fitSeconds: Record<string, number>;
  lists: Record<string, PackedScores>;
  itemknn: Recommender;
}

/** Fits the models on `train` and computes every candidate signal (top CANDIDATES per user). */
async function signals(train: Pairs, friends: Pairs): Promise<Signals> {
  const data = Interactions.fromColumns(train.users, train.items);
  const models = builtinModels();
  const all = Int32Array.from({ length: data.users.size }, (_, u) => u);
  const fitSeconds: Record<string, number> = {};
  const lists: Record<string, PackedScores> = {};
  let itemknn: Recommender | undefined;
  for (const kind of ['popularity', 'itemknn', 'als']) {
    const model = models.create(kind, {});
    fitSeconds[kind] = (await model.fit(data, { progress: false })).seconds;
    lists[kind] = packRankedLists(model.recommend(all, { k: CANDIDATES, excludeSeen: true }));
    if (kind === 'itemknn') itemknn = model;
  }
  // Each artist is its own creator here: the catalogue's creator column is the id column.
  const t0 = performance.now();
  const creators = creatorIndex(
    Array.from({ length: data.items.size }, (_, i) => String(data.items.idAt(i))),
  );
  // Users × creators: which creators each user played (their items' creators).
  const userCreators = creatorMatrix(data.userItems, creators.itemCreator, creators.names.length);
  // Creator lists come in dense creator ids (names ascending); judged as the artists they are.
  const artistOf = Int32Array.from(creators.names, (name) => data.items.indexOf(name));
  const asArtists = (p: PackedScores): PackedScores => ({
    ...p,
    ids: p.ids.map((c) => artistOf[c]),
  });
  lists.creatorsFromItemknn = asArtists(
    aggregateByCreator(lists.itemknn, creators, { k: CANDIDATES, exclude: userCreators }),
  );
  fitSeconds.creatorsFromItemknn = (performance.now() - t0) / 1000;
  lists.creatorsFromAls = asArtists(
    aggregateByCreator(lists.als, creators, { k: CANDIDATES, exclude: userCreators }),
  );
  const t1 = performance.now();
  const neighbours = cosineNeighbours(userCreators, 800);
  lists.creatorKnn = asArtists(neighbourhoodScores(userCreators, neighbours, { k: CANDIDATES }));
  fitSeconds.creatorKnn = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const graph = friendMatrix(friends.users, friends.items, data.users);
  lists.friends = friendItemScores(graph, data.userItems, { k: CANDIDATES });
  fitSeconds.friends = (performance.now() - t2) / 1000;
  return { data, fitSeconds, lists, itemknn: itemknn! };
}

/** Users × creators (binary) from users × items and each item's creator. */
function creatorMatrix(userItems: CsrMatrix, itemCreator: Int32Array, n: number): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < userItems.rows; u++)
    for (let e = userItems.indptr[u]; e < userItems.indptr[u + 1]; e++) {
      const c = itemCreator[userItems.indices[e]];
      if (c < 0) continue;
      rows.push(u);
      cols.push(c);
    }
  return CsrMatrix.fromCoordinates(
    userItems.rows,
    n,
    Int32Array.from(rows),
    Int32Array.from(cols),
    null,
  ).map(() => 1);
}

const WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/** The blends, each with its weights; `pick` chooses each weight (tuned, or fixed). */
function blends(
  s: Signals,
  pick: (name: string, make: (w: number) => PackedScores) => number,
): Record<string, { lists: PackedScores; weight: number }> {
  const size = s.data.items.size;
  const mix = (a: PackedScores, b: PackedScores, w: number) =>
    blendLists(a, b, w, { k: CANDIDATES, size, exclude: s.data.userItems });
  const out: Record<string, { lists: PackedScores; weight: number }> = {};
  const add = (name: string, make: (w: number) => PackedScores) => {
    const weight = pick(name, make);
    out[name] = { lists: make(weight), weight };
  };
  add('itemknn+creatorKnn', (w) => mix(s.lists.itemknn, s.lists.creatorKnn, w));
  add('itemknn+als', (w) => mix(s.lists.itemknn, s.lists.als, w));
  add('itemknn+friends', (w) => mix(s.lists.itemknn, s.lists.friends, w));
  const base = out['itemknn+als'].lists;
  add('itemknn+als+friends', (w) => mix(base, s.lists.friends, w));
  return out;
}

const artists = await readTsv('user_artists.dat');
const friendRows = await readTsv('user_friends.dat');
const all: Pairs = { users: artists.map((r) => r[0]), items: artists.map((r) => r[1]) };
const friends: Pairs = { users: friendRows.map((r) => r[0]), items: friendRows.map((r) => r[1]) };
const { fit: train, held: test } = splitPerUser(all, 0.2, SEED);
const { fit: inner, held: validation } = splitPerUser(train, 0.2, SEED + 1);

// Weights chosen on the validation split, with the models fitted on the inner training part.
const tuning = await signals(inner, friends);
const chosen: Record<string, number> = {};
blends(tuning, (name, make) => {
  let best = WEIGHTS[0];
  let bestRecall = -1;
  for (const w of WEIGHTS) {
    const recall = judge(make(w), tuning.data, validation)[`recall@${K}`];
    if (recall > bestRecall) [best, bestRecall] = [w, recall];
  }
  chosen[name] = best;
  return best;
});

const final = await signals(train, friends);
const results: Record<string, Record<string, number>> = {};
for (const name of [
  'popularity',
  'itemknn',
  'als',
  'creatorsFromItemknn',
  'creatorsFromAls',
  'creatorKnn',
  'friends',
])
  results[name] = {
    ...judge(final.lists[name], final.data, test),
    fitSeconds: final.fitSeconds[name],
  };
for (const [name, { lists, weight }] of Object.entries(blends(final, (n) => chosen[n])))
  results[name] = { ...judge(lists, final.data, test), weight };
// The evaluation helper's figure for item-kNN, to show the bench's own judge agrees with it.
const reference = evaluateRecommender(final.itemknn, asLog(test), { k: K }).metrics;

console.log(
  `Last.fm 2K: ${final.data.users.size} users, ${final.data.items.size} artists, ${final.data.nnz} training / ${test.users.length} test pairs (seed ${SEED})`,
);
console.log(`${'model'.padEnd(24)}${'recall@10'.padStart(11)}${'ndcg@10'.padStart(11)}  weight`);
for (const [name, r] of Object.entries(results))
  console.log(
    `${name.padEnd(24)}${r[`recall@${K}`].toFixed(4).padStart(11)}${r[`ndcg@${K}`].toFixed(4).padStart(11)}  ${r.weight ?? ''}`,
  );
console.log(
  `evaluateRecommender(itemknn): recall@10 ${reference[`recall@${K}`].toFixed(4)}, ndcg@10 ${reference[`ndcg@${K}`].toFixed(4)}`,
);
const itemknnRecall = results.itemknn[`recall@${K}`];
const best = Object.entries(results).sort((a, b) => b[1][`recall@${K}`] - a[1][`recall@${K}`])[0];
console.log(
  `best: ${best[0]} at ${(best[1][`recall@${K}`] / itemknnRecall).toFixed(3)}× item-kNN's recall@10`,
);
console.log(
  JSON.stringify({
    bench: 'creators',
    dataset: 'hetrec-lastfm-2k user_artists (artists as creators) + user_friends',
    split: { kind: 'per-user seeded random', test: 0.2, validation: 0.2, seed: SEED },
    users: final.data.users.size,
    artists: final.data.items.size,
    trainPairs: final.data.nnz,
    testPairs: test.users.length,
    results,
    reference: { itemknn: reference },
    best: best[0],
    seconds: (performance.now() - started) / 1000,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      load: loadavg().map((l) => Number(l.toFixed(2))),
      node: process.version,
    },
  }),
);
