/**
 * ALS at scale: trains implicit ALS on a synthetic power-law data set (default 10 million
 * interactions, 1M users × 100k items) and reports seconds per iteration and peak memory.
 *
 *   npx tsx bench/als-scale.ts [--users 1000000] [--items 100000] [--nnz 10000000]
 *                              [--factors 64] [--iterations 3] [--threads 0]
 *
 * User activity and item popularity both follow power laws (a few heavy users, a long tail of
 * items), as real logs do. Last line: JSON with the figures and the machine.
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { CsrMatrix } from '../src/data/csr-matrix.js';
import { IdMap } from '../src/data/id-map.js';
import { Interactions } from '../src/data/interactions.js';
import { AlsRecommender } from '../src/models/als/als-recommender.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '100000' },
    nnz: { type: 'string', default: '10000000' },
    factors: { type: 'string', default: '64' },
    iterations: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
  },
});
const nUsers = Number(values.users);
const nItems = Number(values.items);
const nnz = Number(values.nnz);

let peakRss = 0;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const sampler = setInterval(sample, 50);

const t0 = performance.now();
const rng = new Random(1);
const rows = new Int32Array(nnz);
const cols = new Int32Array(nnz);
for (let e = 0; e < nnz; e++) {
  // Inverse-transform sampling of power laws: density ∝ x^(1/a − 1) on (0, 1].
  rows[e] = Math.min(nUsers - 1, Math.floor(nUsers * rng.next() ** 1.5));
  cols[e] = Math.min(nItems - 1, Math.floor(nItems * rng.next() ** 3));
}
const matrix = CsrMatrix.fromCoordinates(nUsers, nItems, rows, cols, null).map(() => 1);
const ids = (n: number): IdMap => IdMap.fromSortedIds(Array.from({ length: n }, (_, i) => i));
const data = new Interactions(ids(nUsers), ids(nItems), matrix);
const buildSeconds = (performance.now() - t0) / 1000;
console.log(
  `data: ${nUsers} users × ${nItems} items, ${data.nnz} distinct pairs from ${nnz} draws, built in ${buildSeconds.toFixed(1)} s`,
);

const iterationSeconds: number[] = [];
const model = new AlsRecommender({
  factors: Number(values.factors),
  iterations: Number(values.iterations),
  threads: Number(values.threads),
});
const report = await model.fit(data, {
  progress: false,
  loss: false,
  onIteration: (r) => {
    iterationSeconds.push(r.seconds);
    sample();
    console.log(`iteration ${r.iteration}/${r.iterations}: ${r.seconds.toFixed(2)} s`);
  },
});
clearInterval(sampler);
sample();
const perIteration = iterationSeconds.reduce((a, b) => a + b, 0) / iterationSeconds.length;
console.log(
  `fit ${report.seconds.toFixed(1)} s, ${perIteration.toFixed(2)} s per iteration, peak RSS ${(peakRss / 2 ** 30).toFixed(2)} GiB`,
);
console.log(
  JSON.stringify({
    bench: 'als-scale',
    users: nUsers,
    items: nItems,
    draws: nnz,
    pairs: data.nnz,
    factors: Number(values.factors),
    iterations: report.iterations,
    secondsPerIteration: perIteration,
    iterationSeconds,
    fitSeconds: report.seconds,
    peakRssGiB: peakRss / 2 ** 30,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
  }),
);
