/**
 * BPR Hogwild (issue 24 item 6): the bundled MovieLens split trained on 1 and 2 threads of the
 * WebAssembly kernel, for several seeds; nDCG@10 on the test split and fit seconds of each, the
 * speed-up and the quality ratio. Last line: JSON with the figures and the machine.
 *
 *   npx tsx bench/bpr-threads.ts [--seeds 3] [--epochs 30]
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { BprRecommender } from '../src/models/bpr/bpr-recommender.js';

const { values } = parseArgs({
  options: { seeds: { type: 'string', default: '3' }, epochs: { type: 'string', default: '30' } },
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
console.log(
  JSON.stringify({
    runs,
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
