import { resolve } from 'node:path';
import type { z } from 'zod';
import { parseTaskParams, type stageParamsSchema } from '../pipeline/task-params.js';
import { createStageRunner } from '../stages/runners/index.js';
import type { SinkSpec } from '../stages/sink.js';
import type { SourceSpec } from '../stages/source.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { openArtifactStore } from './open-artifact-store.js';
import { servingSourceOpenerRef } from './open-serving-source.js';
import { openServingStore } from './open-stores.js';

/** Where a stage task with `runner: bullmq` queues its partitions (see `BuiltinTaskHandlerOptions`). */
export interface StageTaskSettings {
  /** The executor's Redis. */
  redisUrl?: string;
  /** The artifact store URL the partition files go through, shared with the stage workers. */
  artifactsUrl?: string;
}

/**
 * The artifact store a `runner: bullmq` stage task hands partition files through.
 * @throws InvalidArgumentError (field `params.runner`) without a BullMQ executor's Redis or an
 *   artifact store URL, which the stage workers on other machines must share.
 */
async function bullmqArtifacts(settings: StageTaskSettings): Promise<ArtifactStore> {
  if (settings.redisUrl === undefined || settings.artifactsUrl === undefined)
    throw new InvalidArgumentError(
      'params.runner',
      `bullmq needs the BullMQ executor (executor.kind: bullmq, whose Redis queues the partitions) and stores.artifacts as a file: or s3:// URL shared with the stage workers; this ${settings.redisUrl === undefined ? 'engine has no BullMQ executor' : 'engine has no artifact store URL'}`,
    );
  return openArtifactStore(settings.artifactsUrl);
}

/** Outputs of a `collect` sink kept in the task's output, at most. */
const MAX_OUTPUTS_IN_TASK = 100;

/**
 * Runs a workflow task of `kind: stage`: the task's `module`/`export` name a `defineStage`
 * export, and its params say how to run it:
 *
 * ```yaml
 * prepare:
 *   kind: stage
 *   module: stages/prepare.ts
 *   export: prepareInteractions
 *   params: { source: "csv:data/events.csv.gz", sink: "parquet:.kiban/work/interactions", runner: threads, numPreprocessors: 2, params: { minUserItems: 5 } }
 * ```
 *
 * `source`/`sink` are spec strings (`parquet:PATH`, `query:SQL`, `serving:URL#NS`, …) or spec
 * objects; `runner` is inline, threads (default), zeromq, or bullmq (partitions queued on the
 * executor's Redis for stage workers on any machine; see {@link StageTaskSettings}). The task's output holds the stage's
 * figures, and for a `collect` sink the first outputs.
 */
export async function runStageTask(
  job: TaskJob,
  ctx: TaskContext,
  settings: StageTaskSettings = {},
): Promise<Record<string, unknown>> {
  // The schema `kiban workflow validate` checks too: unknown keys and bad values fail here, by name.
  const p = parseTaskParams('stage', job.params) as z.output<typeof stageParamsSchema>;
  const source =
    typeof p.source === 'string'
      ? parseSourceSpec(p.source, 'params.source')
      : (p.source as unknown as SourceSpec);
  const sink =
    p.sink === undefined
      ? ({ kind: 'collect' } as SinkSpec)
      : typeof p.sink === 'string'
        ? parseSinkSpec(p.sink, 'params.sink')
        : (p.sink as unknown as SinkSpec);
  const runnerName = p.runner ?? 'threads';
  const artifacts = runnerName === 'bullmq' ? await bullmqArtifacts(settings) : null;
  const runner = createStageRunner(
    runnerName,
    'params.runner',
    artifacts === null ? {} : { bullmq: { redisUrl: settings.redisUrl!, artifacts } },
  );
  const { count, numPreprocessors, batchSize } = p;
  const result = await runner
    .run(
      // Relative module paths are relative to the workflow file, as for module tasks.
      { module: resolve(job.baseDir, job.module!), export: job.export ?? 'default' },
      {
        source,
        sink,
        openServingStore,
        servingSourceOpener: servingSourceOpenerRef(),
        params: (p.params ?? {}) as Record<string, unknown>,
        ...(count === undefined ? {} : { count }),
        ...(numPreprocessors === undefined ? {} : { numPreprocessors }),
        ...(batchSize === undefined ? {} : { batchSize }),
        signal: ctx.signal,
        log: ctx.log,
      },
    )
    .finally(() => artifacts?.close());
  return {
    stage: result.stage,
    runner: result.runner,
    ...result.records,
    partitions: result.partitions,
    seconds: result.seconds,
    sink: result.sink,
    ...(result.outputs === undefined
      ? {}
      : {
          outputs: result.outputs.slice(0, MAX_OUTPUTS_IN_TASK),
          outputCount: result.outputs.length,
        }),
  };
}
