import { aggregateEvents, writeApiInteractions } from '../aggregate.js';
import { type PipelineStepFn, stepLogger } from './pipeline-step.js';
import { workPath } from './work-files.js';

/**
 * Aggregates the raw events (`config.data.events`) into `interactions.parquet` in the work
 * directory. aggregateEvents writes a temporary file and renames it, so a retry simply replaces
 * the output and a crash never leaves half a file for train to read.
 *
 * With `config.aggregate.apiInteractions.enabled` (the default) it first pages through every
 * interaction written through the API (`metadata.interactions`, in `seq` order) into
 * `api-interactions.ndjson`, which the aggregation adds as events of the reserved type (see
 * `apiInteractionsSchema`); the highest `seq` read is stored in the Parquet file's metadata and
 * reported as `interactionsThrough`. A retry rewrites the work file from the store, each `seq`
 * once, so nothing is counted twice; the log's time window never moves for API events.
 */
export const aggregateStep: PipelineStepFn = async (ctx) => {
  ctx.signal?.throwIfAborted();
  const { config } = ctx;
  const output = workPath(ctx.workDir, 'interactions');
  const { apiInteractions, ...options } = config.aggregate;
  let api: { file: string; eventType: string; weight: number } | undefined;
  if (apiInteractions.enabled) {
    const file = workPath(ctx.workDir, 'apiInteractions');
    await writeApiInteractions(ctx.metadata.interactions, file, {
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    ctx.signal?.throwIfAborted();
    api = { file, eventType: apiInteractions.eventType, weight: apiInteractions.weight };
  }
  const figures = await aggregateEvents({
    input: config.data.events,
    output,
    columns: config.data.columns,
    ...options,
    ...(api === undefined ? {} : { api }),
  });
  stepLogger(ctx).info(
    { step: 'aggregate', ...figures },
    `aggregate: ${figures.rowsIn} events${
      api === undefined
        ? ''
        : ` and ${figures.apiRowsIn} API interactions (through seq ${figures.interactionsThrough})`
    } → ${figures.pairsOut} interactions of ${figures.users} users and ${figures.items} items in ${output}`,
  );
  return { ...figures };
};
