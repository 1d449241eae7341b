/**
 * Fits kiban's EASE on the bundled MovieLens split (defaults, plus λ = 400 as the peer uses and
 * the neighbour variant at a few K), then runs the numpy peer (bench/peers/ease_peer.py: dense
 * n×n inverse, λ = 400) on the same files in the same run, and prints both side by side.
 *
 *   npx tsx bench/ease.ts [--no-peer] [--k 10] [--items-side]
 *
 * `--items-side` also times kiban's exact n×n item-side solve (minutes on two cores). Last line:
 * one JSON object with kiban's and the peer's figures, the load and the machine.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { EaseRecommender } from '../src/models/ease/ease-recommender.js';

const TRAIN = 'datasets/ml-latest-small/splits/train.csv';
const TEST = 'datasets/ml-latest-small/splits/test.csv';
const { values } = parseArgs({
  options: {
    'no-peer': { type: 'boolean', default: false },
    'items-side': { type: 'boolean', default: false },
    k: { type: 'string', default: '10' },
  },
});
const k = Number(values.k);
const metricNames = [`precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`];
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();
const loadBefore = loadavg();

interface Row {
  metrics: Record<string, number>;
  fitSeconds: number;
  solver?: string;
}

const train = Interactions.fromLog(await readInteractionLog(TRAIN));
const test = await readInteractionLog(TEST);
const runs: [string, Record<string, unknown>][] = [
  ['ease (defaults)', {}],
  ['ease λ=400', { lambda: 400 }],
  ['ease K=50', { neighbours: 50 }],
  ['ease K=100', { neighbours: 100 }],
];
if (values['items-side']) runs.push(['ease λ=400 item side', { lambda: 400, solver: 'items' }]);
const kiban: Record<string, Row & { params: Record<string, unknown> }> = {};
for (const [name, params] of runs) {
  const model = new EaseRecommender(params);
  const fit = await model.fit(train, { progress: false });
  const { metrics } = evaluateRecommender(model, test, { k });
  kiban[name] = {
    params: { ...model.params },
    solver: model.solver,
    metrics,
    fitSeconds: fit.seconds,
  };
}

let peer: (Row & { numpy: string; lambda: number }) | null = null;
if (!values['no-peer']) {
  try {
    const { stdout } = await promisify(execFile)(
      'python3',
      [
        'bench/peers/ease_peer.py',
        '--train',
        TRAIN,
        '--test',
        TEST,
        '--k',
        String(k),
        '--lambda',
        '400',
      ],
      { maxBuffer: 1 << 24 },
    );
    const raw = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      numpy: string;
      lambda: number;
      ease: Record<string, number>;
    };
    const { fitSeconds, ...metrics } = raw.ease;
    peer = { numpy: raw.numpy, lambda: raw.lambda, metrics, fitSeconds };
  } catch (error) {
    console.error(`peer not run: ${(error as Error).message.split('\n')[0]}`);
  }
}

console.log(
  `${'model'.padEnd(30)}${metricNames.map((m) => m.padStart(13)).join('')}${'fit s'.padStart(9)}`,
);
const line = (name: string, r: Row): string =>
  `${name.padEnd(30)}${metricNames.map((m) => (r.metrics[m] ?? NaN).toFixed(4).padStart(13)).join('')}${r.fitSeconds.toFixed(2).padStart(9)}`;
for (const [name, r] of Object.entries(kiban)) console.log(line(`kiban ${name} [${r.solver}]`, r));
if (peer) {
  console.log(line('numpy ease λ=400', peer));
  const same = kiban['ease λ=400'];
  console.log(
    `same λ: kiban/numpy ndcg@${k} ${(same.metrics[`ndcg@${k}`] / peer.metrics[`ndcg@${k}`]).toFixed(4)}; fit ${(peer.fitSeconds / same.fitSeconds).toFixed(1)}× faster`,
  );
}
console.log(
  JSON.stringify({
    bench: 'ease',
    k,
    dataset: 'ml-latest-small fixed split',
    kiban,
    peer,
    load: { before: loadBefore, after: loadavg() },
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
  }),
);
