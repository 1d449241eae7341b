/**
 * User → creator recommendations (issue 22) on HetRec 2011 Last.fm 2K: users → artists, where
 * each artist is its own creator, so creator lists are artist lists. Read from
 * `../shared/data/hetrec-lastfm-2k` (non-commercial licence: never bundled in the repository).
 *
 * Split: per user, a seeded shuffle of their artists holds out ⌊20 %⌋ (users with fewer than 5
 * artists stay whole in training); the data has no play times, so there is no "latest". Blend
 * weights are chosen on a validation split carved the same way out of training (seed + 1000),
 * then the models are refitted on all of training and judged once on the test split. Each seed
 * of `--seeds` is one such split; the table shows mean ± sd over them.
 *
 * Compared, by recall@10 and nDCG@10 over artists (training artists excluded):
 * - popularity, item-kNN (defaults: BM25, K=800), ALS (defaults): kiban's models as they are;
 * - creatorKnn: creator-kNN (cosine between creators over who played them, `cosineNeighbours`,
 *   `neighbourhoodScores`), what the publish step uses for direct creator interactions;
 * - friends: the friend signal alone (`friendItemScores`: each friend's artists, one vote per
 *   friend);
 * - item-kNN + creatorKnn / + friends / + ALS / + ALS + friends: `blendLists` of top-200 lists;
 * - creators<-X: the publish step's own path (`creatorRecommendations`: X's top 200 aggregated
 *   per creator, touched creators excluded) over item-kNN, ALS and the item-kNN + ALS + friends
 *   blend; here each artist is its own creator, so the aggregation keeps X's ranking.
 *
 *   npx tsx bench/creators.ts [--data DIR] [--seeds 22,23,24]
 *
 * Last line: one JSON object with the figures and the machine.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { Interactions } from '../src/data/interactions.js';
import type { InteractionLog } from '../src/data/interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { addUserCurves, emptyCurves } from '../src/evaluation/ranking-metrics.js';
import { builtinModels } from '../src/models/builtin-models.js';
import {
  blendLists,
  cosineNeighbours,
  neighbourhoodScores,
  type PackedScores,
} from '../src/models/creators/creator-lists.js';
import { creatorRecommendations } from '../src/models/creators/creator-recommendations.js';
import { friendItemScores, friendMatrix } from '../src/models/creators/friend-signal.js';
import type { Recommender } from '../src/models/recommender.js';
import { packRankedLists } from '../src/pipeline/steps/candidate-lists.js';

const { values } = parseArgs({
  options: {
    data: {
      type: 'string',
      default: join(dirname(fileURLToPath(import.meta.url)), '../../shared/data/hetrec-lastfm-2k'),
    },
    seeds: { type: 'string', default: '22,23,24' },
  },
});
const DATA = values.data;
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
  // Direct creator-kNN: cosine between creators over the users who played them.
  const t1 = performance.now();
  const neighbours = cosineNeighbours(
    data.userItems.map(() => 1),
    800,
  );
  lists.creatorKnn = neighbourhoodScores(
    data.userItems.map(() => 1),
    neighbours,
    {
      k: CANDIDATES,
    },
  );
  fitSeconds.creatorKnn = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const graph = friendMatrix(friends.users, friends.items, data.users);
  lists.friends = friendItemScores(graph, data.userItems, { k: CANDIDATES });
  fitSeconds.friends = (performance.now() - t2) / 1000;
  return { data, fitSeconds, lists, itemknn: itemknn! };
}

const WEIGHTS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

/**
 * Creator lists the publish step's way (`creatorRecommendations`: candidate lists aggregated per
 * creator, the user's creators excluded), with each artist its own creator (the catalogue's
 * creator column is its id column), mapped back to dense artist ids to be judged.
 */
function creatorsOf(s: Signals, candidates: PackedScores): PackedScores {
  const { data } = s;
  const itemIds = Array.from({ length: data.items.size }, (_, i) => String(data.items.idAt(i)));
  const m = data.userItems;
  const users = new Int32Array(m.nnz);
  for (let u = 0; u < m.rows; u++) users.fill(u, m.indptr[u], m.indptr[u + 1]);
  const made = creatorRecommendations(
    {
      creators: itemIds,
      itemIds,
      pairs: { users, items: m.indices, values: null },
      users: data.users.size,
      userLists: candidates,
      // Related creators are not judged here.
      relatedLists: {
        offsets: new Int32Array(data.items.size + 1),
        ids: new Int32Array(0),
        scores: new Float32Array(0),
      },
    },
    { userK: CANDIDATES },
  );
  const artistOf = Int32Array.from(made.index.names, (name) => data.items.indexOf(name));
  return { ...made.users, ids: made.users.ids.map((c) => artistOf[c]) };
}

/** The blends, each with its weight; `pick` chooses each weight (tuned, or fixed). */
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
  add('itemknn+friends', (w) => mix(s.lists.itemknn, s.lists.friends, w));
  add('itemknn+als', (w) => mix(s.lists.itemknn, s.lists.als, w));
  const base = out['itemknn+als'].lists;
  add('itemknn+als+friends', (w) => mix(base, s.lists.friends, w));
  return out;
}

const artists = await readTsv('user_artists.dat');
const friendRows = await readTsv('user_friends.dat');
const all: Pairs = { users: artists.map((r) => r[0]), items: artists.map((r) => r[1]) };
const friends: Pairs = { users: friendRows.map((r) => r[0]), items: friendRows.map((r) => r[1]) };

type Row = Record<string, number>;

/** One seed: weights tuned on validation, then every row judged on the test split. */
async function runSeed(seed: number): Promise<{ rows: Record<string, Row>; sizes: Row }> {
  const { fit: train, held: test } = splitPerUser(all, 0.2, seed);
  const { fit: inner, held: validation } = splitPerUser(train, 0.2, seed + 1000);
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
  const rows: Record<string, Row> = {};
  for (const name of ['popularity', 'itemknn', 'als', 'creatorKnn', 'friends'])
    rows[name] = {
      ...judge(final.lists[name], final.data, test),
      fitSeconds: final.fitSeconds[name],
    };
  const mixed = blends(final, (n) => chosen[n]);
  for (const [name, { lists, weight }] of Object.entries(mixed))
    rows[name] = { ...judge(lists, final.data, test), weight };
  // The creator recommender (the publish step's path) over three candidate sources.
  const t0 = performance.now();
  rows['creators<-itemknn'] = judge(creatorsOf(final, final.lists.itemknn), final.data, test);
  rows['creators<-itemknn'].fitSeconds = (performance.now() - t0) / 1000;
  rows['creators<-als'] = judge(creatorsOf(final, final.lists.als), final.data, test);
  rows['creators<-itemknn+als+friends'] = {
    ...judge(creatorsOf(final, mixed['itemknn+als+friends'].lists), final.data, test),
    weight: mixed['itemknn+als+friends'].weight,
  };
  // The evaluation helper's figure for item-kNN: the bench's own judge must agree with it.
  const reference = evaluateRecommender(final.itemknn, asLog(test), { k: K }).metrics;
  if (Math.abs(reference[`recall@${K}`] - rows.itemknn[`recall@${K}`]) > 1e-9)
    throw new Error(`judge disagrees with evaluateRecommender on item-kNN (seed ${seed})`);
  return {
    rows,
    sizes: {
      users: final.data.users.size,
      artists: final.data.items.size,
      trainPairs: final.data.nnz,
      testPairs: test.users.length,
    },
  };
}

const seeds = values.seeds.split(',').map(Number);
const perSeed: Record<string, Record<string, Row>> = {};
let sizes: Row = {};
for (const seed of seeds) {
  const run = await runSeed(seed);
  perSeed[seed] = run.rows;
  sizes = run.sizes;
  console.error(`seed ${seed} done`);
}
const names = Object.keys(perSeed[seeds[0]]);
const mean = (name: string, metric: string): number =>
  seeds.reduce((t, seed) => t + (perSeed[seed][name][metric] ?? 0), 0) / seeds.length;
const sd = (name: string, metric: string): number => {
  const m = mean(name, metric);
  return Math.sqrt(
    seeds.reduce((t, seed) => t + (perSeed[seed][name][metric] - m) ** 2, 0) /
      Math.max(1, seeds.length - 1),
  );
};
const summary: Record<string, Row> = {};
for (const name of names)
  summary[name] = {
    [`recall@${K}`]: mean(name, `recall@${K}`),
    [`recall@${K}.sd`]: sd(name, `recall@${K}`),
    [`ndcg@${K}`]: mean(name, `ndcg@${K}`),
    [`ndcg@${K}.sd`]: sd(name, `ndcg@${K}`),
    ratioToItemknn: mean(name, `recall@${K}`) / mean('itemknn', `recall@${K}`),
  };

console.log(
  `Last.fm 2K: ${sizes.users} users, ${sizes.artists} artists, ${sizes.trainPairs} training / ${sizes.testPairs} test pairs; seeds ${seeds.join(', ')} (mean ± sd)`,
);
console.log(
  `${'model'.padEnd(32)}${'recall@10'.padStart(18)}${'ndcg@10'.padStart(18)}${'× item-kNN'.padStart(12)}  weights`,
);
for (const name of names) {
  const r = summary[name];
  const weights = seeds.map((seed) => perSeed[seed][name].weight).filter((w) => w !== undefined);
  console.log(
    `${name.padEnd(32)}${`${r[`recall@${K}`].toFixed(4)} ± ${r[`recall@${K}.sd`].toFixed(4)}`.padStart(18)}${`${r[`ndcg@${K}`].toFixed(4)} ± ${r[`ndcg@${K}.sd`].toFixed(4)}`.padStart(18)}${r.ratioToItemknn.toFixed(3).padStart(12)}  ${weights.join(', ')}`,
  );
}
console.log(
  JSON.stringify({
    bench: 'creators',
    dataset: 'hetrec-lastfm-2k user_artists (artists as creators) + user_friends',
    split: { kind: 'per-user seeded random', test: 0.2, validation: 0.2, seeds },
    ...sizes,
    summary,
    perSeed,
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
