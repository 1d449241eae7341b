/**
 * Hyper-parameter search of one model on a validation carve of the training file; the test file
 * is never read. Two modes:
 *
 *   npx tsx bench/tune.ts --model itemknn --grid '{"neighbours":[20,50,100]}' [--carve file]
 *   npx tsx bench/tune.ts --model als --trials 16 --carve temporal [--seed 42]
 *
 * `--grid` scores every combination; `--trials` runs successive halving over the model's declared
 * search space (`src/evaluation/tuner.ts`) and then scores the defaults at full budget on the same
 * carve. Carves: `file` (each user's last ~10% of train rows in file order: a random carve on the
 * bundled split, whose rows are shuffled), `random` (seeded), `temporal` (each user's latest ~10%
 * by timestamp, as the pipeline holds out). Prints one line per setting, then the result as JSON
 * on the last line.
 */
import { parseArgs } from 'node:util';
import { Interactions } from '../src/data/interactions.js';
import type { InteractionLog } from '../src/data/interaction-log.js';
import { readInteractionLog } from '../src/data/read-interaction-log.js';
import { splitLogPerUser } from '../src/data/split.js';
import { evaluateRecommender } from '../src/evaluation/evaluate.js';
import { tuneModel } from '../src/evaluation/tuner.js';
import { carveValidation } from '../src/evaluation/validation-carve.js';
import { builtinModels } from '../src/models/builtin-models.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'als' },
    grid: { type: 'string' },
    trials: { type: 'string' },
    carve: { type: 'string', default: 'file' },
    seed: { type: 'string', default: '42' },
    eta: { type: 'string', default: '3' },
    'min-budget': { type: 'string', default: '0.3' },
    train: { type: 'string', default: 'datasets/ml-latest-small/splits/train.csv' },
    k: { type: 'string', default: '10' },
  },
});
const k = Number(values.k);
const kind = values.model!;
const models = builtinModels();
const log = await readInteractionLog(values.train!);
const { fit, holdout } =
  values.carve === 'file'
    ? splitLogPerUser(log)
    : carveValidation(log, {
        kind: values.carve as 'temporal' | 'random',
        seed: Number(values.seed),
      });

/** Fits `params` on the whole fit part and scores it: one full-budget evaluation. */
async function score(params: Record<string, unknown>, data: Interactions, test: InteractionLog) {
  const model = models.create(kind, params);
  const report = await model.fit(data, { progress: false });
  const { metrics } = evaluateRecommender(model, test, { k });
  return { params, ndcg: metrics[`ndcg@${k}`], metrics, fitSeconds: report.seconds };
}

if (values.trials !== undefined) {
  const started = performance.now();
  const result = await tuneModel({
    models,
    kind,
    carve: { kind: values.carve === 'temporal' ? 'temporal' : 'random', fit, holdout },
    trials: Number(values.trials),
    eta: Number(values.eta),
    minBudget: Number(values['min-budget']),
    seed: Number(values.seed),
    k,
    onProgress: ({ done, total, evaluation: e }) =>
      console.log(
        `${done}/${total} rung ${e.rung} trial ${e.trial} ${JSON.stringify(e.params)}  ndcg@${k} ${e.ndcg.toFixed(4)}  fit ${e.fitSeconds.toFixed(2)}s`,
      ),
  });
  const data = Interactions.fromLog(fit);
  const defaults = await score({}, data, holdout);
  console.log(`defaults at full budget: ndcg@${k} ${defaults.ndcg.toFixed(4)}`);
  console.log(
    JSON.stringify({
      model: kind,
      carve: values.carve,
      validation: true,
      trials: result.trials.length,
      rungSizes: result.rungSizes,
      fidelity: result.fidelity,
      best: result.best.params,
      bestNdcg: result.best.ndcg,
      bestFitSeconds: result.best.fitSeconds,
      defaultsNdcg: defaults.ndcg,
      defaultsFitSeconds: defaults.fitSeconds,
      ranking: result.trials.map((t) => ({
        params: t.params,
        rung: t.rungs.length - 1,
        ndcg: t.ndcg,
      })),
      seconds: (performance.now() - started) / 1000,
    }),
  );
} else {
  const data = Interactions.fromLog(fit);
  const grid = JSON.parse(values.grid ?? '{}') as Record<string, unknown[]>;
  const settings: Record<string, unknown>[] = [{}];
  for (const [name, options] of Object.entries(grid)) {
    const next: Record<string, unknown>[] = [];
    for (const s of settings) for (const o of options) next.push({ ...s, [name]: o });
    settings.splice(0, settings.length, ...next);
  }
  const results: Awaited<ReturnType<typeof score>>[] = [];
  for (const params of settings) {
    const r = await score(params, data, holdout);
    results.push(r);
    console.log(
      `${JSON.stringify(params)}  ndcg@${k} ${r.ndcg.toFixed(4)}  p@${k} ${r.metrics[`precision@${k}`].toFixed(4)}  fit ${r.fitSeconds.toFixed(2)}s`,
    );
  }
  results.sort((a, b) => a.ndcg - b.ndcg);
  const best = results[results.length - 1];
  console.log(
    JSON.stringify({
      model: kind,
      carve: values.carve,
      validation: true,
      best: best.params,
      metrics: best.metrics,
      tried: results.length,
    }),
  );
}
