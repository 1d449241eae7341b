/**
 * The graph recommenders (issue 19 item 4) on the bundled MovieLens split, side by side in one
 * run: kiban `graphsage` and `gat` with their defaults, the ALS and item-kNN baselines, and a
 * PyTorch GraphSAGE of the same design (bench/peers/gnn_peer.py on Debian's python3-torch,
 * `torch.set_num_threads(2)`). The peer writes its top-k lists to a file and kiban's own
 * evaluation scores them (`evaluateRecommender`), so every row goes through the same metric code.
 *
 * Each graph model (and the peer) is also fitted a second time without a seeded share of the
 * training users (`--cold-users`), who are then embedded from their training items only; the
 * cold/warm ratio compares their nDCG@k with that of warm users at the same interaction counts.
 *
 * With `--item-features FILE` (e.g. datasets/ml-latest-small/movies.csv), graphsage and gat are
 * fitted once more with the table's side features (`--item-feature-columns`, default the
 * MovieLens genres `genres:multi:|`), as rows "kiban graphsage + features" and "kiban gat + features".
 *
 *   npx tsx bench/gnn.ts [--k 10] [--cold-users 0.1] [--cold-seed 42] [--threads 2]
 *                        [--no-peer] [--no-peer-cold] [--peer-epochs 30] [--python PATH]
 *                        [--item-features FILE [--item-feature-columns SPEC]] [--help]
 *
 * Last line: one JSON object with every row's figures and the machine.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { ExternalId } from '../src/data/id-map.js';
import { Interactions } from '../src/data/interactions.js';
import { readItemFeatures } from '../src/data/item-features.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import {
  type ColdStartEvaluation,
  type ColdStartSplit,
  embedsUsers,
  evaluateColdStart,
  holdOutColdUsers,
  summarizeColdStart,
} from '../src/evaluation/cold-start.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { builtinModels } from '../src/models/builtin-models.js';
import { RankedLists } from '../src/models/ranked-lists.js';
import type { Recommender } from '../src/models/recommender.js';

const TRAIN = 'datasets/ml-latest-small/splits/train.csv';
const TEST = 'datasets/ml-latest-small/splits/test.csv';
const HELP = `Usage: npx tsx bench/gnn.ts [options]

Fits kiban graphsage and gat (defaults), ALS and item-kNN, and the PyTorch GraphSAGE peer
(bench/peers/gnn_peer.py, Debian python3-torch) on the bundled MovieLens split in one run, scores
all of them with kiban's evaluation, and refits the graph models without a share of the users to
measure cold-user nDCG against warm users with as many interactions. Last line: JSON.

Options:
  --k <n>              list length (default 10)
  --cold-users <f>     share of training users held out for the cold-start figures (default 0.1)
  --cold-seed <n>      seed of that draw (default 42)
  --threads <n>        torch.set_num_threads for the peer (default 2)
  --no-peer            skip the PyTorch peer
  --no-peer-cold       skip the peer's cold-start refit (halves the peer's time)
  --peer-epochs <n>    the peer's epochs (default 30, kiban's default; fewer only for a quick check)
  --python <path>      Python with torch (default: python3 if it imports torch, else /usr/bin/python3)
  --item-features <f>  also fit graphsage and gat with item side features from this item table
                       (e.g. datasets/ml-latest-small/movies.csv)
  --item-feature-columns <spec>  its columns (default genres:multi:|, the MovieLens genres)
  --help               this text`;

const { values } = parseArgs({
  options: {
    k: { type: 'string', default: '10' },
    'cold-users': { type: 'string', default: '0.1' },
    'cold-seed': { type: 'string', default: '42' },
    threads: { type: 'string', default: '2' },
    'no-peer': { type: 'boolean', default: false },
    'no-peer-cold': { type: 'boolean', default: false },
    python: { type: 'string' },
    'peer-epochs': { type: 'string', default: '30' },
    'item-features': { type: 'string' },
    'item-feature-columns': { type: 'string', default: 'genres:multi:|' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const k = Number(values.k);
const metricNames = [`precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`, 'coverage'];
const run = promisify(execFile);

interface ColdFigures {
  fitSeconds: number;
  warmUsers: number;
  coldUsers: number;
  warmNdcg: number;
  coldNdcg: number;
  matchedWarmNdcg: number;
  matchedColdNdcg: number;
  ratio: number | null;
}

interface Row {
  metrics: Record<string, number>;
  fitSeconds: number;
  /** CPU seconds of the fit (every thread of the process), a figure the machine's load distorts less. */
  fitCpuSeconds: number;
  cold: ColdFigures | null;
}

function coldFigures(e: ColdStartEvaluation, fitSeconds: number): ColdFigures {
  return {
    fitSeconds,
    warmUsers: e.warm.users,
    coldUsers: e.cold.users,
    warmNdcg: e.warm.ndcg,
    coldNdcg: e.cold.ndcg,
    matchedWarmNdcg: e.matchedWarmNdcg,
    matchedColdNdcg: e.matchedColdNdcg,
    ratio: Number.isNaN(e.ratio) ? null : e.ratio,
  };
}

/**
 * The peer's lists behind the Recommender contract, so `evaluateRecommender` scores them exactly
 * as it scores kiban's models: `recommend` returns the list the peer wrote for each user.
 */
class PeerLists implements Recommender {
  readonly kind = 'pytorch-graphsage';
  readonly params = {};
  constructor(
    readonly data: Interactions,
    /** Item ids best first, by user id as a string. */
    private readonly lists: Map<string, ExternalId[]>,
  ) {}
  fit(): never {
    throw new Error('the peer trains in Python');
  }
  recommend(users: ArrayLike<number>, options: { k: number }): RankedLists {
    const out = new RankedLists(users.length, options.k);
    for (let q = 0; q < users.length; q++)
      out.lengths[q] = this.fill(out, q, this.data.users.idAt(users[q]));
    return out;
  }
  /** Writes user `id`'s list into row q of `out` as dense item indices; returns its length. */
  fill(out: RankedLists, q: number, id: ExternalId): number {
    const items = this.lists.get(String(id)) ?? [];
    let n = 0;
    for (const item of items) {
      const i = this.data.items.indexOf(item);
      if (i >= 0 && n < out.k) out.ids[q * out.k + n++] = i;
    }
    return n;
  }
  similarItems(): never {
    throw new Error('not used');
  }
  save(): never {
    throw new Error('not used');
  }
}

async function pythonWithTorch(): Promise<string> {
  if (values.python) return values.python;
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import torch']);
      return python;
    } catch {
      // try the next one
    }
  }
  throw new Error('no python3 imports torch (apt-get install -y python3-torch)');
}

async function runPeer(
  python: string,
  dir: string,
  cold: ColdStartSplit | null,
): Promise<{ lists: Map<string, ExternalId[]>; report: Record<string, unknown> }> {
  const out = join(dir, cold ? 'peer-cold.json' : 'peer.json');
  const args = ['bench/peers/gnn_peer.py', '--train', TRAIN, '--out', out, '--k', String(k)];
  args.push('--threads', values.threads!, '--epochs', values['peer-epochs']!);
  if (cold) {
    const ids = join(dir, 'cold-users.txt');
    await writeFile(ids, `${cold.cold.ids.join('\n')}\n`);
    args.push('--cold-users', ids);
  }
  const { stdout } = await run(python, args, { maxBuffer: 1 << 26 });
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  const raw = JSON.parse(await readFile(out, 'utf8')) as { users: number[]; lists: number[][] };
  return { lists: new Map(raw.users.map((u, q) => [String(u), raw.lists[q]])), report };
}

const trainLog = await readInteractionLog(TRAIN);
const train = Interactions.fromLog(trainLog);
const test = await readInteractionLog(TEST);
const split = holdOutColdUsers(train, Number(values['cold-users']), Number(values['cold-seed']));
const load: number[][] = [loadavg()];
const rows: Record<
  string,
  Row & { params?: Record<string, unknown>; itemFeatures?: Record<string, unknown> }
> = {};
const models = builtinModels();
const featureFile = values['item-features'];
const featureSpec = values['item-feature-columns']!;
const runs: [string, boolean][] = [
  ['graphsage', false],
  ['gat', false],
  ['als', false],
  ['itemknn', false],
];
if (featureFile !== undefined) runs.push(['graphsage', true], ['gat', true]);
for (const [kind, withFeatures] of runs) {
  const model = models.create(kind);
  const features = (data: Interactions) =>
    withFeatures ? readItemFeatures(featureFile!, featureSpec, data.items) : undefined;
  const itemFeatures = await features(train);
  const cpu = process.cpuUsage();
  const fit = await model.fit(train, { progress: false, itemFeatures });
  const used = process.cpuUsage(cpu);
  const fitCpuSeconds = (used.user + used.system) / 1e6;
  const { metrics } = evaluateRecommender(model, test, { k });
  let cold: ColdFigures | null = null;
  if (embedsUsers(model)) {
    const coldModel = models.create(kind);
    const coldFit = await coldModel.fit(split.warm, {
      progress: false,
      itemFeatures: await features(split.warm),
    });
    if (embedsUsers(coldModel))
      cold = coldFigures(evaluateColdStart(coldModel, test, split, { k }), coldFit.seconds);
  }
  const name = `kiban ${kind}${withFeatures ? ' + features' : ''}`;
  rows[name] = {
    params: { ...model.params },
    ...(itemFeatures
      ? {
          itemFeatures: { file: featureFile!, spec: featureSpec, features: itemFeatures.nFeatures },
        }
      : {}),
    metrics,
    fitSeconds: fit.seconds,
    fitCpuSeconds,
    cold,
  };
  console.error(
    `${name}: ndcg@${k} ${metrics[`ndcg@${k}`].toFixed(4)}, fit ${fit.seconds.toFixed(2)} s`,
  );
}
load.push(loadavg());

let peer: Record<string, unknown> | null = null;
if (!values['no-peer']) {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-gnn-'));
  try {
    const python = await pythonWithTorch();
    const full = await runPeer(python, dir, null);
    const { metrics } = evaluateRecommender(new PeerLists(train, full.lists), test, { k });
    let cold: ColdFigures | null = null;
    let coldReport: Record<string, unknown> | null = null;
    if (!values['no-peer-cold']) {
      const c = await runPeer(python, dir, split);
      coldReport = c.report;
      const peerModel = new PeerLists(split.warm, c.lists);
      const lists = new RankedLists(split.cold.ids.length, k);
      split.cold.ids.forEach((id, q) => {
        lists.lengths[q] = peerModel.fill(lists, q, id);
      });
      const result = evaluateRecommender(peerModel, test, {
        k,
        listed: { ids: split.cold.ids, lists },
        perUser: true,
      });
      cold = coldFigures(
        summarizeColdStart(result, split.warm, split),
        Number(c.report.fitSeconds),
      );
    }
    rows['pytorch graphsage'] = {
      metrics,
      fitSeconds: Number(full.report.fitSeconds),
      fitCpuSeconds: Number(full.report.fitCpuSeconds),
      cold,
    };
    peer = { python, report: full.report, coldReport };
  } catch (error) {
    console.error(`peer not run: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  load.push(loadavg());
}

const f4 = (x: number | null | undefined): string => (x == null ? '—' : x.toFixed(4));
console.log(
  `${'model'.padEnd(26)}${metricNames.map((m) => m.padStart(13)).join('')}${'fit s'.padStart(9)}${'cpu s'.padStart(8)}${'cold ndcg'.padStart(11)}${'warm@same n'.padStart(13)}${'ratio'.padStart(8)}`,
);
for (const [name, r] of Object.entries(rows))
  console.log(
    `${name.padEnd(26)}${metricNames.map((m) => f4(r.metrics[m]).padStart(13)).join('')}${r.fitSeconds.toFixed(2).padStart(9)}${r.fitCpuSeconds.toFixed(2).padStart(8)}${f4(r.cold?.matchedColdNdcg).padStart(11)}${f4(r.cold?.matchedWarmNdcg).padStart(13)}${(r.cold?.ratio == null ? '—' : r.cold.ratio.toFixed(3)).padStart(8)}`,
  );

const peerRow = rows['pytorch graphsage'];
const goals: Record<string, boolean | null> = {};
for (const kind of ['graphsage', 'gat', 'graphsage + features', 'gat + features']) {
  const r = rows[`kiban ${kind}`];
  if (r === undefined) continue;
  goals[`${kind} ndcg@${k} >= 0.3454`] = r.metrics[`ndcg@${k}`] >= 0.3454;
  goals[`${kind} cold >= 0.9 x warm`] = r.cold?.ratio == null ? null : r.cold.ratio >= 0.9;
  goals[`${kind} fit <= peer fit`] = peerRow ? r.fitSeconds <= peerRow.fitSeconds : null;
}
for (const [goal, met] of Object.entries(goals))
  console.log(`${goal}: ${met === null ? 'not measured' : met ? 'met' : 'NOT met'}`);
if (peerRow)
  console.log(
    `fit time, peer / kiban: graphsage ${(peerRow.fitSeconds / rows['kiban graphsage'].fitSeconds).toFixed(2)}×, gat ${(peerRow.fitSeconds / rows['kiban gat'].fitSeconds).toFixed(2)}× (CPU seconds: ${(peerRow.fitCpuSeconds / rows['kiban graphsage'].fitCpuSeconds).toFixed(2)}×, ${(peerRow.fitCpuSeconds / rows['kiban gat'].fitCpuSeconds).toFixed(2)}×)`,
  );
console.log(
  JSON.stringify({
    bench: 'gnn',
    k,
    dataset: 'ml-latest-small fixed split',
    coldUsers: { fraction: split.fraction, seed: split.seed, users: split.cold.ids.length },
    rows,
    goals,
    peer,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadavg: load,
    },
  }),
);
