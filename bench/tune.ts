/**
 * Grid search of one model's hyper-parameters on a validation split carved out of the training
 * file (each user's last ~10% of train rows in file order); the test file is never read.
 *
 *   npx tsx bench/tune.ts --model itemknn --grid '{"neighbours":[20,50,100]}' [--train PATH] [--k 10]
 *
 * Prints one line per setting, best last, then the best as JSON on the last line.
 */
import { parseArgs } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { splitLogPerUser } from '../src/data/split.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { builtinModels } from '../src/models/builtin-models.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'als' },
    grid: { type: 'string', default: '{}' },
    train: { type: 'string', default: 'datasets/ml-latest-small/splits/train.csv' },
    k: { type: 'string', default: '10' },
  },
});
const k = Number(values.k);
const grid = JSON.parse(values.grid!) as Record<string, unknown[]>;
const { fit, holdout } = splitLogPerUser(await readInteractionLog(values.train!));
const data = Interactions.fromLog(fit);

const settings: Record<string, unknown>[] = [{}];
for (const [name, options] of Object.entries(grid)) {
  const next: Record<string, unknown>[] = [];
  for (const s of settings) for (const o of options) next.push({ ...s, [name]: o });
  settings.splice(0, settings.length, ...next);
}
const results: {
  params: Record<string, unknown>;
  ndcg: number;
  metrics: Record<string, number>;
  fitSeconds: number;
}[] = [];
for (const params of settings) {
  const model = builtinModels().create(values.model!, params);
  const report = await model.fit(data, { progress: false });
  const { metrics } = evaluateRecommender(model, holdout, { k });
  results.push({ params, ndcg: metrics[`ndcg@${k}`], metrics, fitSeconds: report.seconds });
  console.log(
    `${JSON.stringify(params)}  ndcg@${k} ${metrics[`ndcg@${k}`].toFixed(4)}  p@${k} ${metrics[`precision@${k}`].toFixed(4)}  fit ${report.seconds.toFixed(2)}s`,
  );
}
results.sort((a, b) => a.ndcg - b.ndcg);
const best = results[results.length - 1];
console.log(
  JSON.stringify({
    model: values.model,
    validation: true,
    best: best.params,
    metrics: best.metrics,
    tried: results.length,
  }),
);
