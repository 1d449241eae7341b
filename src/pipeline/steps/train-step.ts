import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { Interactions } from '../../data/interactions.js';
import { readInteractionLog } from '../../data/read-interaction-log.js';
import { builtinModels } from '../../models/builtin-models.js';
import { readInteractionsThrough } from '../aggregate.js';
import { readConfiguredItemFeatures } from '../item-features-source.js';
import type { EvaluationRecord } from './evaluate-step.js';
import { type PipelineStepFn, type StepContext, stepLogger } from './pipeline-step.js';
import { isArtifactStoreUrl } from '../../storage/artifacts/artifact-store.js';
import { uploadWritten } from './stored-files.js';
import {
  idStamp,
  idSuffix,
  INTERACTION_COLUMNS,
  requireInput,
  workPath,
  writeJsonAtomic,
  type ModelRef,
} from './work-files.js';

/**
 * Fits the configured model (found in `ctx.models`) on all aggregated interactions, saves its artifact under
 * `config.stores.artifacts/<modelId>` (a plain directory) or, when `config.stores.artifacts` is an
 * artifact store URL, under the key prefix `models/<modelId>/` there (through a temporary
 * directory, recording the key, not a path), records it in the metadata store (with the metrics of
 * `evaluation.json` when the evaluate step ran for the same model) and writes `model.json` =
 * {@link ModelRef} for candidates and publish, with the highest API interaction `seq` that the
 * interactions include (`interactionsThrough`, recorded there by aggregate). Every attempt makes a fresh model id, so a retry
 * after a crash between saving and recording never collides with what the failed attempt left.
 */
export const trainStep: PipelineStepFn = async (ctx) => {
  const { config, metadata } = ctx;
  const input = await requireInput(ctx.workDir, 'interactions');
  // Read before the rows: should aggregate replace the file in between, the model claims fewer
  // API interactions than it saw (serving re-embeds from a few it knows) rather than more.
  const interactionsThrough = await readInteractionsThrough(input);
  const log = await readInteractionLog(input, { columns: INTERACTION_COLUMNS, idType: 'string' });
  ctx.signal?.throwIfAborted();
  const data = Interactions.fromLog(log, config.model.values);
  const model = (ctx.models ?? builtinModels()).create(config.model.kind, config.model.params);
  // Item side features (model.itemFeatures: a table or a feature view), for the models using them.
  const itemFeatures = await readConfiguredItemFeatures(config, data.items);
  const report = await model.fit(data, {
    ...ctx.fit,
    ...(itemFeatures === undefined ? {} : { itemFeatures }),
    signal: ctx.signal ?? ctx.fit?.signal,
  });
  ctx.signal?.throwIfAborted();

  const metrics = await evaluationMetrics(ctx);
  const modelId = `${config.model.kind}-${idStamp()}-${idSuffix()}`;
  let artifactPath = join(config.stores.artifacts, modelId);
  let ref: ModelRef = { modelId, artifactPath, kind: model.kind, interactionsThrough };
  if (isArtifactStoreUrl(config.stores.artifacts)) {
    if (ctx.openArtifacts === undefined)
      throw new InvalidArgumentError(
        'stores.artifacts',
        `"${config.stores.artifacts}" is an artifact store URL, and this step was given no opener for it`,
      );
    const store = await ctx.openArtifacts(config.stores.artifacts);
    try {
      artifactPath = `models/${modelId}`;
      await uploadWritten(store, artifactPath, (dir) => model.save(dir), { signal: ctx.signal });
    } finally {
      await store.close();
    }
    ref = {
      modelId,
      artifactPath,
      kind: model.kind,
      artifacts: config.stores.artifacts,
      artifactKey: artifactPath,
      interactionsThrough,
    };
  } else {
    await model.save(artifactPath);
  }
  await metadata.insertModel({
    id: modelId,
    kind: model.kind,
    params: { ...model.params },
    dataSnapshot: {
      source: config.data.events,
      interactions: input,
      runId: ctx.runId,
      rows: log.rows,
      users: data.users.size,
      items: data.items.size,
      pairs: data.nnz,
      interactionsThrough,
    },
    metrics,
    artifactPath,
    createdAt: new Date(),
  });
  await writeJsonAtomic(workPath(ctx.workDir, 'model'), ref);
  stepLogger(ctx).info(
    { step: 'train', modelId },
    `train: ${modelId} on ${data.users.size} users × ${data.items.size} items (${data.nnz} pairs) in ${report.seconds.toFixed(2)} s → ${artifactPath}`,
  );
  return {
    ...ref,
    users: data.users.size,
    items: data.items.size,
    pairs: data.nnz,
    fitSeconds: report.seconds,
  };
};

/**
 * The metrics evaluate measured, or `{}` when it did not run. A record made for another model
 * (the tasks were configured differently) is ignored rather than attached to the wrong model.
 */
async function evaluationMetrics(ctx: StepContext): Promise<Record<string, number>> {
  const path = workPath(ctx.workDir, 'evaluation');
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null) return {};
  const record = JSON.parse(text) as EvaluationRecord;
  const m = ctx.config.model;
  if (
    record.kind !== m.kind ||
    record.values !== m.values ||
    JSON.stringify(record.params) !== JSON.stringify(m.params)
  ) {
    stepLogger(ctx).info(
      { step: 'train', ignored: path },
      `train: ignoring ${path}: it measured ${record.kind} ${JSON.stringify(record.params)}, not the model being trained`,
    );
    return {};
  }
  return record.metrics;
}
