/**
 * Fits and evaluates every kiban model with its defaults on the bundled MovieLens split, then
 * runs the Python/numpy reference (bench/peers/recs_peer.py: popularity, item-kNN K=50, ALS with
 * exact solves) on the same files in the same run, and prints both side by side.
 *
 *   npx tsx bench/recs.ts [--no-peer] [--k 10]
 *
 * Last line: one JSON object with kiban's and the peer's figures and the machine.
 */
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { builtinModels } from '../src/models/builtin-models.js';

const TRAIN = 'datasets/ml-latest-small/splits/train.csv';
const TEST = 'datasets/ml-latest-small/splits/test.csv';
const { values } = parseArgs({
  options: { 'no-peer': { type: 'boolean', default: false }, k: { type: 'string', default: '10' } },
});
const k = Number(values.k);
const metricNames = [`precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`, 'coverage'];

interface Row {
  metrics: Record<string, number>;
  fitSeconds: number;
}

const train = Interactions.fromLog(await readInteractionLog(TRAIN));
const test = await readInteractionLog(TEST);
// Every model with its defaults, plus item-kNN and ALS at the peer's own settings, so that
// speed is compared like for like as well as quality at the tuned defaults.
const models = builtinModels();
const runs: [string, string, Record<string, unknown>][] = [
  ...models.kinds().map((kind): [string, string, Record<string, unknown>] => [kind, kind, {}]),
  ['itemknn@peer-settings', 'itemknn', { neighbours: 50, weighting: 'none' }],
  ['als@peer-settings', 'als', { factors: 64, reg: 30, alpha: 3, iterations: 15 }],
];
const kiban: Record<string, Row & { params: Record<string, unknown> }> = {};
for (const [name, kind, params] of runs) {
  const model = models.create(kind, params);
  const fit = await model.fit(train, { progress: false });
  const { metrics } = evaluateRecommender(model, test, { k });
  kiban[name] = { params: { ...model.params }, metrics, fitSeconds: fit.seconds };
}

let peer: { peer: string; numpy: string; models: Record<string, Row> } | null = null;
// The peer prints each model's metrics and fitSeconds side by side in one flat object.
if (!values['no-peer']) {
  try {
    const { stdout } = await promisify(execFile)(
      'python3',
      ['bench/peers/recs_peer.py', '--train', TRAIN, '--test', TEST, '--k', String(k)],
      { maxBuffer: 1 << 24 },
    );
    const raw = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      peer: string;
      numpy: string;
      models: Record<string, Record<string, number>>;
    };
    const models: Record<string, Row> = {};
    for (const [name, { fitSeconds, ...metrics }] of Object.entries(raw.models))
      models[name] = { metrics, fitSeconds };
    peer = { peer: raw.peer, numpy: raw.numpy, models };
  } catch (error) {
    console.error(`peer not run: ${(error as Error).message.split('\n')[0]}`);
  }
}

const header = `${'model'.padEnd(28)}${metricNames.map((m) => m.padStart(13)).join('')}${'fit s'.padStart(9)}`;
console.log(header);
const line = (name: string, r: Row): string =>
  `${name.padEnd(28)}${metricNames.map((m) => (r.metrics[m] ?? NaN).toFixed(4).padStart(13)).join('')}${r.fitSeconds.toFixed(2).padStart(9)}`;
for (const [kind, r] of Object.entries(kiban)) console.log(line(`kiban ${kind}`, r));
if (peer)
  for (const [kind, r] of Object.entries(peer.models)) console.log(line(`numpy ${kind}`, r));
if (peer) {
  for (const kind of Object.keys(peer.models)) {
    const tuned = kiban[kind];
    const same = kiban[`${kind}@peer-settings`] ?? tuned;
    if (!tuned) continue;
    const ratio = tuned.metrics[`ndcg@${k}`] / peer.models[kind].metrics[`ndcg@${k}`];
    const speed = peer.models[kind].fitSeconds / same.fitSeconds;
    const speedText =
      peer.models[kind].fitSeconds < 0.01
        ? 'fit too short to compare'
        : `fit at the peer's settings ${speed.toFixed(1)}× faster`;
    console.log(`${kind}: defaults reach ${ratio.toFixed(3)}× the peer's ndcg@${k}; ${speedText}`);
  }
}
console.log(
  JSON.stringify({
    bench: 'recs',
    k,
    dataset: 'ml-latest-small fixed split',
    kiban,
    peer,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
  }),
);
