import { aggregateEvents } from '../aggregate.js';
import { type PipelineStepFn, stepLogger } from './pipeline-step.js';
import { workPath } from './work-files.js';

/**
 * Aggregates the raw events (`config.data.events`) into `interactions.parquet` in the work
 * directory. aggregateEvents writes a temporary file and renames it, so a retry simply replaces
 * the output and a crash never leaves half a file for train to read.
 */
export const aggregateStep: PipelineStepFn = async (ctx) => {
  ctx.signal?.throwIfAborted();
  const { config } = ctx;
  const output = workPath(ctx.workDir, 'interactions');
  const figures = await aggregateEvents({
    input: config.data.events,
    output,
    columns: config.data.columns,
    ...config.aggregate,
  });
  stepLogger(ctx).info(
    { step: 'aggregate', ...figures },
    `aggregate: ${figures.rowsIn} events → ${figures.pairsOut} interactions of ${figures.users} users and ${figures.items} items in ${output}`,
  );
  return { ...figures };
};
