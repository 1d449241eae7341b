import { InvalidArgumentError, KibanError } from '../../core/errors.js';
import { Interactions } from '../../data/interactions.js';
import { readInteractionLog } from '../../data/read-interaction-log.js';
import { splitLogPerUser } from '../../data/split.js';
import { evaluateRecommender } from '../../evaluation/evaluate.js';
import { builtinModels } from '../../models/builtin-models.js';
import { type PipelineStepFn, stepLogger } from './pipeline-step.js';
import { INTERACTION_COLUMNS, requireInput, workPath, writeJsonAtomic } from './work-files.js';
import { readConfiguredItemFeatures } from '../item-features-source.js';

/** What `evaluation.json` holds; train copies `metrics` onto the model record. */
export interface EvaluationRecord {
  kind: string;
  params: Record<string, unknown>;
  values: 'value' | 'binary';
  holdout: number;
  k: number;
  /** Users with held-out interactions, and of those the ones absent from the fit part. */
  users: number;
  coldUsers: number;
  metrics: Record<string, number>;
  minimum: Record<string, number>;
  /** Metrics below their minimum; empty when the gate passed. */
  failed: string[];
}

/** A model measured below `config.evaluate.minimum`: not a fault to retry but a verdict. */
export class EvaluationGateError extends KibanError {
  constructor(readonly failures: { metric: string; value: number; minimum: number }[]) {
    const list = failures.map((f) => `${f.metric} ${f.value.toFixed(4)} < ${f.minimum}`).join(', ');
    super(
      'INVALID_DATA',
      `the model is below the minimum quality set in config.evaluate.minimum (${list}); not training or publishing it`,
    );
  }
}

/**
 * Measures the configured model before it is trained for real: fits it on all but each user's
 * latest `config.evaluate.holdout` share of interactions (the aggregate output is ordered by user
 * then time), scores top-k on the rest, and writes the metrics to `evaluation.json` (atomically).
 * When a metric is below its `config.evaluate.minimum` the record is still written, to show why,
 * and the step fails with {@link EvaluationGateError} so the workflow stops before publishing.
 */
export const evaluateStep: PipelineStepFn = async (ctx) => {
  const { model: m, evaluate } = ctx.config;
  if (!(evaluate.holdout > 0)) {
    throw new InvalidArgumentError(
      'config.evaluate.holdout',
      'must be above 0 to evaluate (0 means: skip the evaluate step)',
    );
  }
  const input = await requireInput(ctx.workDir, 'interactions');
  const log = await readInteractionLog(input, { columns: INTERACTION_COLUMNS, idType: 'string' });
  ctx.signal?.throwIfAborted();
  const { fit, holdout } = splitLogPerUser(log, 1 - evaluate.holdout);
  const probe = (ctx.models ?? builtinModels()).create(m.kind, m.params);
  const fitData = Interactions.fromLog(fit, m.values);
  // The same item side features the train step gives the model (model.itemFeatures).
  const itemFeatures = await readConfiguredItemFeatures(ctx.config, fitData.items);
  const report = await probe.fit(fitData, {
    ...ctx.fit,
    ...(itemFeatures === undefined ? {} : { itemFeatures }),
    progress: false,
    signal: ctx.signal ?? ctx.fit?.signal,
  });
  const result = evaluateRecommender(probe, holdout, { k: evaluate.k });

  const minimum = evaluate.minimum ?? {};
  for (const metric of Object.keys(minimum)) {
    if (!Object.hasOwn(result.metrics, metric)) {
      throw new InvalidArgumentError(
        `config.evaluate.minimum.${metric}`,
        `no such metric at k = ${evaluate.k}; measured: ${Object.keys(result.metrics).join(', ')}`,
      );
    }
  }
  const failures = Object.entries(minimum)
    .filter(([metric, min]) => result.metrics[metric] < min)
    .map(([metric, min]) => ({ metric, value: result.metrics[metric], minimum: min }));
  const record: EvaluationRecord = {
    kind: m.kind,
    params: m.params,
    values: m.values,
    holdout: evaluate.holdout,
    k: evaluate.k,
    users: result.users,
    coldUsers: result.coldUsers,
    metrics: result.metrics,
    minimum,
    failed: failures.map((f) => f.metric),
  };
  const output = workPath(ctx.workDir, 'evaluation');
  await writeJsonAtomic(output, record);
  stepLogger(ctx).info(
    { step: 'evaluate', kind: m.kind, users: result.users, metrics: result.metrics },
    `evaluate: ${m.kind} on ${result.users} users' latest ${Math.round(evaluate.holdout * 1000) / 10}% → ${Object.entries(
      result.metrics,
    )
      .map(([k, v]) => `${k} ${v.toFixed(4)}`)
      .join(', ')}`,
  );
  if (failures.length > 0) throw new EvaluationGateError(failures);
  return { ...result.metrics, evalUsers: result.users, evalFitSeconds: report.seconds };
};
