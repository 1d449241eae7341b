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

let s = 42;
const rand = () => {
  s = (s * 1103515245 + 12345) % 2 ** 31;
  return s / 2 ** 31;
};
const userCol: string[] = [];
const itemCol: string[] = [];
for (let u = 0; u < users; u++) {
  // 1 + a geometric number of items around perUser, items Zipf-like (rank ∝ u^2.5).
  const n = Math.max(1, Math.round(perUser * -Math.log(1 - rand())));
  for (let j = 0; j < n; j++) {
    userCol.push(`u${u}`);
    itemCol.push(`i${Math.floor(items * rand() ** 2.5)}`);
  }
}
const data = Interactions.fromColumns(userCol, itemCol, null, 'binary');
process.stderr.write(`${data.userItems.nnz} interactions, ${data.items.size} items\n`);

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
  process.stderr.write(`threads ${threads}: ${seconds.toFixed(2)} s\n`);
  return { seconds, nb };
};
const one = await fitWith(1);
const two = await fitWith(2);
let same = one.nb.indices.length === two.nb.indices.length;
for (let i = 0; same && i < one.nb.indices.length; i++)
  same = one.nb.indices[i] === two.nb.indices[i] && one.nb.values[i] === two.nb.values[i];
console.log(
  JSON.stringify({
    interactions: data.userItems.nnz,
    items: data.items.size,
    k,
    neighboursKept: one.nb.indices.length,
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
