/**
 * BPR Hogwild (issue 24 item 6), two parts:
 * 1. quality: the bundled MovieLens split trained on 1 and 2 threads of the WebAssembly kernel,
 *    for several seeds; nDCG@10 on the test split and fit seconds of each;
 * 2. speed: 5M synthetic interactions (300k users, 100k items, Zipf-like items), 5 epochs, on 1
 *    and 2 threads alternating, best of 2 each.
 * Last line: JSON with the figures and the machine.
 *
 *   npx tsx bench/bpr-threads.ts [--seeds 3] [--epochs 30] [--big 5000000]
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { BprRecommender } from '../src/models/bpr/bpr-recommender.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '30' },
    big: { type: 'string', default: '5000000' },
  },
});
const train = Interactions.fromLog(
  await readInteractionLog('datasets/ml-latest-small/splits/train.csv'),
);
const test = await readInteractionLog('datasets/ml-latest-small/splits/test.csv');
const runs: { threads: number; seed: number; ndcg: number; seconds: number }[] = [];
for (let seed = 1; seed <= Number(values.seeds); seed++)
  for (const threads of [1, 2]) {
    const model = new BprRecommender({
      threads,
      seed,
      epochs: Number(values.epochs),
      kernel: 'wasm',
    });
    const t0 = performance.now();
    await model.fit(train, { progress: false });
    const seconds = (performance.now() - t0) / 1000;
    const ndcg = evaluateRecommender(model, test, { k: 10 }).metrics['ndcg@10'];
    runs.push({ threads, seed, ndcg, seconds });
    process.stderr.write(
      `seed ${seed} threads ${threads}: ndcg@10 ${ndcg.toFixed(4)}, ${seconds.toFixed(2)} s\n`,
    );
  }
const mean = (threads: number, key: 'ndcg' | 'seconds') => {
  const xs = runs.filter((r) => r.threads === threads).map((r) => r[key]);
  return xs.reduce((a, b) => a + b, 0) / xs.length;
};
const random = new Random(1);
const n = Number(values.big);
const bigUsers = new Float64Array(n);
const bigItems = new Float64Array(n);
for (let i = 0; i < n; i++) {
  bigUsers[i] = Math.floor(random.next() * 300_000);
  bigItems[i] = Math.floor(100_000 * random.next() ** 1.5);
}
const big = Interactions.fromColumns(bigUsers, bigItems, null, 'binary');
const bigRuns: { threads: number; seconds: number }[] = [];
for (const threads of [1, 2, 1, 2]) {
  const model = new BprRecommender({ threads, epochs: 5, kernel: 'wasm' });
  const t0 = performance.now();
  await model.fit(big, { progress: false });
  bigRuns.push({ threads, seconds: (performance.now() - t0) / 1000 });
  process.stderr.write(`big, threads ${threads}: ${bigRuns.at(-1)?.seconds.toFixed(2)} s\n`);
}
const bestBig = (t: number) =>
  Math.min(...bigRuns.filter((r) => r.threads === t).map((r) => r.seconds));
console.log(
  JSON.stringify({
    runs,
    big: {
      interactions: big.userItems.nnz,
      runs: bigRuns,
      secondsOneThread: bestBig(1),
      secondsTwoThreads: bestBig(2),
      speedup: bestBig(1) / bestBig(2),
    },
    ndcgOneThread: mean(1, 'ndcg'),
    ndcgTwoThreads: mean(2, 'ndcg'),
    qualityRatio: mean(2, 'ndcg') / mean(1, 'ndcg'),
    secondsOneThread: mean(1, 'seconds'),
    secondsTwoThreads: mean(2, 'seconds'),
    speedup: mean(1, 'seconds') / mean(2, 'seconds'),
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      load: loadavg().map((x) => Number(x.toFixed(2))),
    },
  }),
);
