import { resolve } from 'node:path';
import type { z } from 'zod';
import { parseTaskParams, type stageParamsSchema } from '../pipeline/task-params.js';
import { createStageRunner } from '../stages/runners/index.js';
import type { SinkSpec } from '../stages/sink.js';
import type { SourceSpec } from '../stages/source.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { servingSourceOpenerRef } from './open-serving-source.js';
import { openServingStore } from './open-stores.js';

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
 * objects; `runner` is inline, threads (default) or zeromq. The task's output holds the stage's
 * figures, and for a `collect` sink the first outputs.
 */
export async function runStageTask(
  job: TaskJob,
  ctx: TaskContext,
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
  const runner = createStageRunner(p.runner ?? 'threads', 'params.runner');
  const { count, numPreprocessors, batchSize } = p;
  const result = await runner.run(
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
  );
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
