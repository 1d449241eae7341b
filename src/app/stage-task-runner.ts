import { InvalidArgumentError } from '../core/errors.js';
import { createStageRunner } from '../stages/runners/index.js';
import type { SinkSpec } from '../stages/sink.js';
import type { SourceSpec } from '../stages/source.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';

const STAGE_PARAMS = ['source', 'sink', 'runner', 'count', 'numPreprocessors', 'batchSize', 'params'] as const;

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
export async function runStageTask(job: TaskJob, ctx: TaskContext): Promise<Record<string, unknown>> {
  const p = job.params;
  for (const key of Object.keys(p)) {
    if (!(STAGE_PARAMS as readonly string[]).includes(key)) throw new InvalidArgumentError(`params.${key}`, `not a parameter of stage tasks; known: ${STAGE_PARAMS.join(', ')}`);
  }
  if (p.source === undefined) throw new InvalidArgumentError('params.source', 'a stage task needs a source, e.g. "parquet:data/events.parquet"');
  const source = typeof p.source === 'string' ? parseSourceSpec(p.source, 'params.source') : (p.source as SourceSpec);
  const sink = p.sink === undefined ? ({ kind: 'collect' } as SinkSpec) : typeof p.sink === 'string' ? parseSinkSpec(p.sink, 'params.sink') : (p.sink as SinkSpec);
  const runner = createStageRunner(String(p.runner ?? 'threads'), 'params.runner');
  const int = (key: 'count' | 'numPreprocessors' | 'batchSize'): number | undefined => {
    const v = p[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`params.${key}`, `must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return n;
  };
  const count = int('count');
  const numPreprocessors = int('numPreprocessors');
  const batchSize = int('batchSize');
  const result = await runner.run(
    { module: job.module!, export: job.export ?? 'default' },
    {
      source,
      sink,
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
    ...(result.outputs === undefined ? {} : { outputs: result.outputs.slice(0, MAX_OUTPUTS_IN_TASK), outputCount: result.outputs.length }),
  };
}
