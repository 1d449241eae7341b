/**
 * BPR Hogwild (issue 24 item 6): 1 against 2 threads of the WebAssembly kernel, two parts:
 * 1. the bundled MovieLens split, 30 epochs, seeds 1..--seeds: nDCG@10 on the test split and
 *    fit seconds of each;
 * 2. large planted data with a test split ({@link plantedSplit}: 200k users, 50k items, 3M
 *    interactions, low-rank taste clusters and popularity skew by default), --big-epochs epochs,
 *    seeds 1..--big-seeds, 1 and 2 threads alternating: nDCG@10 of the held-out items and fit
 *    seconds; the speed-up is best of each.
 * Last line: JSON with the figures, the load average after each fit and the machine.
 *
 *   npx tsx bench/bpr-threads.ts [--seeds 3] [--epochs 30] [--big 3000000] [--big-seeds 2]
 *     [--big-epochs 10] [--users 200000] [--items 50000]
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import type { InteractionLog } from '../src/data/interaction-log.js';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { BprRecommender } from '../src/models/bpr/bpr-recommender.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '30' },
    big: { type: 'string', default: '3000000' },
    'big-seeds': { type: 'string', default: '2' },
    'big-epochs': { type: 'string', default: '10' },
    users: { type: 'string', default: '200000' },
    items: { type: 'string', default: '50000' },
  },
});

/** Taste clusters of the planted data. */
const CLUSTERS = 50;
/** Every this many users, one user has their last interaction held out for the test split. */
const TEST_EVERY = 8;

/**
 * Synthetic implicit feedback with a known structure, and a test split. Items fall into
 * {@link CLUSTERS} taste clusters at random; lower item ids are more popular, within a cluster
 * and overall. Each user has a main and a second cluster and a number of interactions drawn from
 * an exponential distribution (at least 3, mean `interactions / nUsers`); each interaction comes
 * from the main cluster (60%), the second (25%) or the whole catalogue by popularity (15%), the
 * item's rank within its pool drawn as ⌊pool · r²⌋ for uniform r. Every {@link TEST_EVERY}-th
 * user's last interaction is held out for the test split (and kept out of training).
 */
function plantedSplit(
  nUsers: number,
  nItems: number,
  interactions: number,
  seed: number,
): { train: Interactions; test: InteractionLog } {
  const rng = new Random(seed);
  // Items of each cluster, ascending (so by popularity).
  const clusterOf = new Int32Array(nItems);
  const clusterSize = new Int32Array(CLUSTERS + 1);
  for (let i = 0; i < nItems; i++) {
    clusterOf[i] = rng.nextInt(CLUSTERS);
    clusterSize[clusterOf[i] + 1]++;
  }
  for (let c = 0; c < CLUSTERS; c++) clusterSize[c + 1] += clusterSize[c];
  const clusterStart = clusterSize.slice();
  const clusterItems = new Int32Array(nItems);
  for (let i = 0; i < nItems; i++) clusterItems[clusterStart[clusterOf[i]]++] = i;
  const fromCluster = (c: number): number => {
    const start = clusterSize[c];
    return clusterItems[start + Math.floor((clusterSize[c + 1] - start) * rng.next() ** 3)];
  };
  const mean = interactions / nUsers;
  const users: number[] = [];
  const items: number[] = [];
  const testUsers: number[] = [];
  const testItems: number[] = [];
  const drawn: number[] = [];
  for (let u = 0; u < nUsers; u++) {
    const main = rng.nextInt(CLUSTERS);
    const second = rng.nextInt(CLUSTERS);
    const n = 3 + Math.floor(-Math.log(1 - rng.next()) * (mean - 3));
    drawn.length = 0;
    for (let k = 0; k < n; k++) {
      const r = rng.next();
      drawn.push(
        r < 0.7
          ? fromCluster(main)
          : r < 0.9
            ? fromCluster(second)
            : Math.floor(nItems * rng.next() ** 2),
      );
    }
    const held = u % TEST_EVERY === 0 ? drawn[n - 1] : -1;
    if (held >= 0) {
      testUsers.push(u);
      testItems.push(held);
    }
    for (let k = 0; k < (held >= 0 ? n - 1 : n); k++) {
      if (drawn[k] === held) continue;
      users.push(u);
      items.push(drawn[k]);
    }
  }
  const train = Interactions.fromColumns(Float64Array.from(users), Float64Array.from(items));
  const test: InteractionLog = {
    source: 'planted',
    rows: testUsers.length,
    users: Float64Array.from(testUsers),
    items: Float64Array.from(testItems),
    values: null,
    timestamps: null,
    skipped: 0,
    badRows: [],
  };
  return { train, test };
}

const load = () => Number(loadavg()[0].toFixed(2));
interface Run {
  threads: number;
  seed: number;
  ndcg: number;
  seconds: number;
  load: number;
}
const fitAndScore = async (
  train: Interactions,
  test: InteractionLog,
  params: Record<string, number | string>,
  label: string,
): Promise<Run> => {
  const model = new BprRecommender({ kernel: 'wasm', ...params });
  const t0 = performance.now();
  await model.fit(train, { progress: false });
  const seconds = (performance.now() - t0) / 1000;
  const ndcg = evaluateRecommender(model, test, { k: 10 }).metrics['ndcg@10'];
  const run = {
    threads: Number(params.threads),
    seed: Number(params.seed),
    ndcg,
    seconds,
    load: load(),
  };
  process.stderr.write(
    `${label} seed ${run.seed} threads ${run.threads}: ndcg@10 ${ndcg.toFixed(4)}, ${seconds.toFixed(2)} s, load ${run.load}\n`,
  );
  return run;
};
const mean = (runs: Run[], threads: number, key: 'ndcg' | 'seconds') => {
  const xs = runs.filter((r) => r.threads === threads).map((r) => r[key]);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
const best = (runs: Run[], threads: number) =>
  Math.min(...runs.filter((r) => r.threads === threads).map((r) => r.seconds));

const train = Interactions.fromLog(
  await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
);
const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
const runs: Run[] = [];
for (let seed = 1; seed <= Number(values.seeds); seed++)
  for (const threads of [1, 2])
    runs.push(
      await fitAndScore(train, test, { threads, seed, epochs: Number(values.epochs) }, 'small'),
    );

const t0 = performance.now();
const planted = plantedSplit(Number(values.users), Number(values.items), Number(values.big), 1);
const generateSeconds = (performance.now() - t0) / 1000;
const bigRuns: Run[] = [];
for (let seed = 1; seed <= Number(values['big-seeds']); seed++)
  for (const threads of [1, 2])
    bigRuns.push(
      await fitAndScore(
        planted.train,
        planted.test,
        { threads, seed, epochs: Number(values['big-epochs']) },
        'planted',
      ),
    );

console.log(
  JSON.stringify({
    small: {
      runs,
      ndcgOneThread: mean(runs, 1, 'ndcg'),
      ndcgTwoThreads: mean(runs, 2, 'ndcg'),
      qualityRatio: mean(runs, 2, 'ndcg') / mean(runs, 1, 'ndcg'),
      secondsOneThread: mean(runs, 1, 'seconds'),
      secondsTwoThreads: mean(runs, 2, 'seconds'),
    },
    planted: {
      users: planted.train.users.size,
      items: planted.train.items.size,
      interactions: planted.train.userItems.nnz,
      testUsers: planted.test.rows,
      epochs: Number(values['big-epochs']),
      generateSeconds,
      runs: bigRuns,
      ndcgOneThread: mean(bigRuns, 1, 'ndcg'),
      ndcgTwoThreads: mean(bigRuns, 2, 'ndcg'),
      qualityRatio: mean(bigRuns, 2, 'ndcg') / mean(bigRuns, 1, 'ndcg'),
      secondsOneThread: best(bigRuns, 1),
      secondsTwoThreads: best(bigRuns, 2),
      speedup: best(bigRuns, 1) / best(bigRuns, 2),
    },
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      load: loadavg().map((x) => Number(x.toFixed(2))),
    },
  }),
);
