/**
 * Grid search of a graph model (`graphsage` or `gat`) on the validation split that bench/tune.ts
 * carves out of the training file (each user's last ~10% of train rows, file order; the test
 * file is never read), optionally with item side features, which bench/tune.ts cannot pass.
 *
 *   npx tsx bench/gnn-tune.ts --model graphsage --grid '{"loss":["softmax","sampled"]}' \
 *     [--item-features datasets/ml-latest-small/movies.csv --item-feature-columns genres:multi:|] \
 *     [--features both|with|without] [--feature-scale 1|0.5|sqrt] [--train PATH] [--k 10]
 *
 * Prints one line per setting, best last, then the best as JSON on the last line.
 */
import { parseArgs } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import { type ItemFeatures, readItemFeatures } from '../src/data/item-features.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { splitLogPerUser } from '../src/data/split.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { builtinModels } from '../src/models/builtin-models.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'graphsage' },
    grid: { type: 'string', default: '{}' },
    train: { type: 'string', default: 'datasets/ml-latest-small/splits/train.csv' },
    k: { type: 'string', default: '10' },
    'item-features': { type: 'string' },
    'item-feature-columns': { type: 'string', default: 'genres:multi:|' },
    features: { type: 'string', default: 'both' },
    'feature-scale': { type: 'string', default: '1' },
  },
});
const k = Number(values.k);
const grid = JSON.parse(values.grid!) as Record<string, unknown[]>;
const { fit, holdout } = splitLogPerUser(await readInteractionLog(values.train!));
const data = Interactions.fromLog(fit);
const features: (ItemFeatures | undefined)[] = [];
if (values['item-features'] === undefined || values.features !== 'with') features.push(undefined);
if (values['item-features'] !== undefined && values.features !== 'without') {
  const f = await readItemFeatures(
    values['item-features'],
    values['item-feature-columns']!,
    data.items,
  );
  // --feature-scale sqrt: each item's features over √(their count); a number: all times it.
  const scale = values['feature-scale']!;
  for (let i = 0; i < data.items.size; i++) {
    const n = f.indptr[i + 1] - f.indptr[i];
    const c = scale === 'sqrt' ? 1 / Math.sqrt(Math.max(1, n)) : Number(scale);
    for (let x = f.indptr[i]; x < f.indptr[i + 1]; x++) f.values[x] *= c;
  }
  features.push(f);
}

const settings: Record<string, unknown>[] = [{}];
for (const [name, options] of Object.entries(grid)) {
  const next: Record<string, unknown>[] = [];
  for (const s of settings) for (const o of options) next.push({ ...s, [name]: o });
  settings.splice(0, settings.length, ...next);
}
const results: { params: Record<string, unknown>; features: boolean; ndcg: number }[] = [];
for (const params of settings)
  for (const itemFeatures of features) {
    const model = builtinModels().create(values.model!, params);
    const report = await model.fit(data, { progress: false, itemFeatures });
    const { metrics } = evaluateRecommender(model, holdout, { k });
    results.push({ params, features: itemFeatures !== undefined, ndcg: metrics[`ndcg@${k}`] });
    console.log(
      `${JSON.stringify(params)} features ${itemFeatures !== undefined}  ndcg@${k} ${metrics[`ndcg@${k}`].toFixed(4)}  p@${k} ${metrics[`precision@${k}`].toFixed(4)}  fit ${report.seconds.toFixed(2)}s`,
    );
  }
results.sort((a, b) => a.ndcg - b.ndcg);
console.log(JSON.stringify({ model: values.model, validation: true, best: results.at(-1) }));
