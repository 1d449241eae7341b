import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, YAMLMap } from 'yaml';
import { DataError } from '../core/errors.js';
import type { InteractionLog } from '../data/interaction-log.js';
import type { InteractionWeighting } from '../data/interactions.js';
import { readInteractionLog, type LogColumns } from '../data/read-interaction-log.js';
import {
  requireSearchSpace,
  tuneModel,
  type TuneProgress,
  type TuneResult,
} from '../evaluation/tuner.js';
import { carveValidation, type CarveKind } from '../evaluation/validation-carve.js';
import { builtinModels } from '../models/builtin-models.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { aggregateEvents } from '../pipeline/aggregate.js';
import { INTERACTION_COLUMNS } from '../pipeline/steps/work-files.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { parseDuration } from '../workflow/duration.js';
import { loadKibanConfig } from './config.js';
import { editKibanConfigFile } from './edit-config-file.js';
import { bundledPath } from './paths.js';
import { tuneParamsSchema } from './tune-task-params.js';

/** The file `kiban tune` and tune tasks read when given neither a train file nor a configuration. */
export const DEFAULT_TUNE_TRAIN = 'datasets/ml-latest-small/splits/train.csv';

/** Where {@link readTuneTrain} reads from. */
export interface TuneTrainSource {
  /** An interaction file (CSV with a header, or Parquet); wins over `config`. */
  train?: string;
  /** Columns of `train`. @defaultValue MovieLens: userId, movieId, rating, timestamp */
  columns?: LogColumns;
  idType?: 'integer' | 'string';
  /** A kiban.yaml: its `data.events`, aggregated as its pipeline does (`aggregate:`), and `model.values`. */
  config?: string;
}

/** The training interactions to tune on, where they came from and how fits weigh them. */
export interface TuneTrain {
  log: InteractionLog;
  source: string;
  valueMode: InteractionWeighting;
}

/**
 * Reads what to tune on: `train`, else the events of `config` aggregated into interactions the
 * way its pipeline's aggregate step does (API interactions aside), else the bundled MovieLens
 * split's train file. The test file is never read.
 * @throws DataError naming the file when it is missing or malformed
 */
export async function readTuneTrain(source: TuneTrainSource): Promise<TuneTrain> {
  if (source.train !== undefined || source.config === undefined) {
    const file = source.train ?? bundledPath(DEFAULT_TUNE_TRAIN);
    const log = await readInteractionLog(file, {
      ...(source.columns === undefined ? {} : { columns: source.columns }),
      idType: source.idType ?? 'string',
    });
    return { log, source: file, valueMode: 'binary' };
  }
  const { pipeline } = await loadKibanConfig({ file: source.config });
  const dir = await mkdtemp(join(tmpdir(), 'kiban-tune-'));
  try {
    const output = join(dir, 'interactions.parquet');
    const { apiInteractions: _api, ...aggregate } = pipeline.aggregate;
    await aggregateEvents({
      input: pipeline.data.events,
      output,
      columns: pipeline.data.columns,
      ...aggregate,
    });
    const log = await readInteractionLog(output, {
      columns: INTERACTION_COLUMNS,
      idType: 'string',
    });
    return {
      log: { ...log, source: pipeline.data.events },
      source: pipeline.data.events,
      valueMode: pipeline.model.values,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes `kind` and `params` under `model:` of the kiban.yaml `file` (made when missing),
 * replacing `model.params` whole (another kind's params would not fit) and keeping every other
 * key, `model.values` and comments included. The file is checked by loading it afterwards; when
 * that fails it is put back as it was and the error rethrown.
 * @throws DataError naming the file when it is not YAML, or it or its `model:` is not a mapping
 */
export async function applyTunedParams(
  file: string,
  kind: string,
  params: Record<string, unknown>,
): Promise<void> {
  await editKibanConfigFile(file, (doc) => {
    let model = doc.get('model', true);
    if (model === undefined || model === null) {
      model = new YAMLMap();
      doc.set('model', model);
    }
    if (!isMap(model)) throw new DataError({ file }, 'its model: is not a mapping');
    model.set('kind', kind);
    const node = doc.createNode(params);
    // Say where the numbers came from, so a later reader does not take them for hand-picked ones.
    node.commentBefore = ` Chosen by kiban tune on ${new Date().toISOString().slice(0, 10)}.`;
    model.set('params', node);
  });
}

/** Options of {@link runTuning}: a tune request as the CLI and tune tasks make it. */
export interface TuningRequest extends TuneTrainSource {
  models?: ModelRegistry;
  model: string;
  trials: number;
  carve: CarveKind;
  /** Wall-clock budget in ms. */
  budgetMs?: number;
  seed?: number;
  eta?: number;
  /** See `TuneOptions.minBudget`. */
  minBudget?: number;
  k?: number;
  /** Params every trial uses (e.g. `threads`). */
  fixed?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (progress: TuneProgress) => void;
  /** Called once the data is read and carved, with a line saying what it is. */
  onData?: (line: string) => void;
}

/**
 * Checks the request (the model exists and declares a space) before any data is read, reads the
 * data ({@link readTuneTrain}), carves it and runs the search (`tuneModel`).
 * @throws UnknownModelError / InvalidArgumentError naming `model` (`field`) before reading data
 */
export async function runTuning(request: TuningRequest, field = 'model'): Promise<TuneResult> {
  const models = request.models ?? builtinModels();
  requireSearchSpace(models, request.model, field);
  const train = await readTuneTrain(request);
  const carve = carveValidation(train.log, { kind: request.carve, seed: request.seed ?? 42 });
  request.onData?.(
    `${train.source}: ${train.log.rows} rows; ${request.carve} carve: ${carve.fit.rows} to fit, ${carve.holdout.rows} held out`,
  );
  return tuneModel({
    models,
    kind: request.model,
    carve,
    trials: request.trials,
    valueMode: train.valueMode,
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(request.eta === undefined ? {} : { eta: request.eta }),
    ...(request.k === undefined ? {} : { k: request.k }),
    ...(request.minBudget === undefined ? {} : { minBudget: request.minBudget }),
    ...(request.fixed === undefined ? {} : { fixed: request.fixed }),
    ...(request.budgetMs === undefined ? {} : { deadline: Date.now() + request.budgetMs }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    ...(request.onProgress === undefined ? {} : { onProgress: request.onProgress }),
  });
}

/**
 * Runs a workflow task of `kind: tune` (see `tune-task-params.ts`): successive halving over the
 * model's search space on a validation carve of the training data, logging each rung's progress;
 * with `apply`, writes the best params under `model:` of `config`. The output holds the best
 * params and nDCG@k, the defaults' standing, the five best trials and the file applied to.
 *
 * ```yaml
 * tune-als:
 *   kind: tune
 *   params: { model: als, trials: 16, budget: 10m, carve: temporal, config: kiban.yaml, apply: true }
 * ```
 */
export async function runTuneTask(
  job: TaskJob,
  ctx: TaskContext,
): Promise<Record<string, unknown>> {
  const p = tuneParamsSchema.parse(job.params);
  const config = p.config === undefined ? undefined : resolve(job.baseDir, p.config);
  const result = await runTuning(
    {
      model: p.model,
      trials: p.trials,
      carve: p.carve as CarveKind,
      ...(p.train === undefined ? {} : { train: resolve(job.baseDir, p.train) }),
      ...(config === undefined ? {} : { config }),
      ...(p.budget === undefined ? {} : { budgetMs: parseDuration(p.budget, 'params.budget') }),
      seed: p.seed,
      eta: p.eta,
      minBudget: p.minBudget,
      k: p.k,
      signal: ctx.signal,
      onData: (line) => ctx.log(line),
      onProgress: ({ done, total, evaluation: e, rungBest }) => {
        if (e.rung > 0 || done === total || done % 4 === 0)
          ctx.log(
            `${done}/${total} rung ${e.rung} trial ${e.trial}: ndcg@${p.k} ${e.ndcg.toFixed(4)} (rung best ${rungBest.toFixed(4)})`,
          );
      },
    },
    'params.model',
  );
  const apply = p.apply === true || p.apply === 'true';
  if (apply) {
    await applyTunedParams(config!, p.model, result.best.params);
    ctx.log(`wrote model: ${p.model} ${JSON.stringify(result.best.params)} to ${config}`);
  }
  const defaults = result.trials.find((t) => t.defaults);
  return {
    model: p.model,
    carve: p.carve,
    [`ndcg@${p.k}`]: result.best.ndcg,
    best: result.best.params,
    defaults:
      defaults === undefined ? null : { rung: defaults.rungs.length - 1, ndcg: defaults.ndcg },
    trials: result.trials.length,
    rungSizes: result.rungSizes,
    stopped: result.stopped,
    top: result.trials
      .slice(0, 5)
      .map((t) => ({ params: t.params, rung: t.rungs.length - 1, ndcg: t.ndcg })),
    applied: apply ? config : null,
    seconds: result.seconds,
  };
}
