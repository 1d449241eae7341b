/**
 * Item-kNN's fit on 1 and 2 threads (issue 24 item 6): a synthetic catalogue of 100k items and
 * 300k users with Zipf-like item popularity (~6M interactions), K = 800 by default, BM25
 * weighting. Both fits must give identical neighbours; prints the fit seconds, the speed-up, the
 * neighbours kept and the peak resident memory. Last line: JSON with the figures and the machine.
 *
 *   npx tsx bench/knn-threads.ts [--items 100000] [--users 300000] [--per-user 20] [--k 800]
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { Interactions } from '../src/data/interactions.js';
import { ItemKnnRecommender } from '../src/models/itemknn/itemknn-recommender.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '300000' },
    'per-user': { type: 'string', default: '20' },
    k: { type: 'string', default: '800' },
  },
});
const items = Number(values.items);
const users = Number(values.users);
const perUser = Number(values['per-user']);
const k = Number(values.k);

const random = new Random(42);
const rand = () => random.next();
// Numeric ids in typed arrays, so that the process's peak memory is the model's, not the data's.
const counts = new Int32Array(users);
let rows = 0;
for (let u = 0; u < users; u++) {
  // A geometric number of items around perUser, items Zipf-like (rank ∝ u^1.5).
  counts[u] = Math.max(1, Math.round(perUser * -Math.log(1 - rand())));
  rows += counts[u];
}
const userCol = new Float64Array(rows);
const itemCol = new Float64Array(rows);
for (let u = 0, r = 0; u < users; u++)
  for (let j = 0; j < counts[u]; j++, r++) {
    userCol[r] = u;
    itemCol[r] = Math.floor(items * rand() ** 1.5);
  }
const data = Interactions.fromColumns(userCol, itemCol, null, 'binary');
process.stderr.write(`${data.userItems.nnz} interactions, ${data.items.size} items\n`);

/** Fits on `threads` threads; returns the seconds and a checksum of the neighbours (the model is dropped). */
const fitWith = async (threads: number) => {
  const model = new ItemKnnRecommender({ neighbours: k, threads });
  const t0 = performance.now();
  await model.fit(data, { progress: false });
  const seconds = (performance.now() - t0) / 1000;
  const nb = (
    model as unknown as {
      neighbours: { indptr: Int32Array; indices: Int32Array; values: Float32Array };
    }
  ).neighbours;
  let checksum = 0;
  for (let i = 0; i < nb.indices.length; i++)
    checksum = (checksum * 31 + nb.indices[i] + Math.round(nb.values[i] * 1e6)) % 2 ** 31;
  process.stderr.write(`threads ${threads}: ${seconds.toFixed(2)} s\n`);
  return { seconds, checksum, kept: nb.indices.length };
};
// Alternating, twice, best of each: the first fit of a process also warms the JIT up.
const runs: { threads: number; seconds: number; checksum: number; kept: number }[] = [];
for (const threads of [1, 2, 1, 2]) runs.push({ threads, ...(await fitWith(threads)) });
const best = (t: number) => Math.min(...runs.filter((r) => r.threads === t).map((r) => r.seconds));
const one = { seconds: best(1) };
const two = { seconds: best(2) };
const same = new Set(runs.map((r) => `${r.checksum}/${r.kept}`)).size === 1;
console.log(
  JSON.stringify({
    interactions: data.userItems.nnz,
    items: data.items.size,
    k,
    neighboursKept: runs[0].kept,
    runs,
    secondsOneThread: one.seconds,
    secondsTwoThreads: two.seconds,
    speedup: one.seconds / two.seconds,
    identical: same,
    peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      load: loadavg().map((x) => Number(x.toFixed(2))),
    },
  }),
);
