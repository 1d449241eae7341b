/**
 * Training-data preparation as a stage: the `aggregate` pipeline step (src/pipeline/aggregate.ts)
 * written with the stage framework instead of one DuckDB query.
 */
import { z } from 'zod';
import { DataError, InvalidArgumentError } from '../../../src/core/errors.js';
import { parseParams } from '../../../src/core/params.js';
import { defineStage, type StageContext } from '../../../src/stages/stage.js';
import { epochSecondsField, idField, numberField } from './record-values.js';
import { WeightedPairs, type InteractionRow, type WeightedEvent } from './weighted-pairs.js';

/** Parameters of {@link prepareInteractions} (the stage's `params`). */
export const prepareInteractionsParamsSchema = z
  .object({
    eventWeights: z
      .record(z.string(), z.number().positive().finite())
      .default({ view: 1, like: 4 })
      .refine((w) => Object.keys(w).length > 0, 'must weight at least one event type')
      .describe('weight of each event type; events of other types are dropped'),
    minUserItems: z
      .int()
      .min(1)
      .default(1)
      .describe('drop users with fewer distinct items (repeated with minItemUsers until stable)'),
    minItemUsers: z.int().min(1).default(1).describe('drop items with fewer distinct users'),
    columns: z
      .object({
        user: z.string().default('user'),
        item: z.string().default('item'),
        event: z.string().default('event'),
        value: z.string().nullable().default('value').describe('null: every event has value 1'),
        timestamp: z.string().default('timestamp'),
      })
      .strict()
      .default({
        user: 'user',
        item: 'item',
        event: 'event',
        value: 'value',
        timestamp: 'timestamp',
      }),
  })
  .strict();
export type PrepareInteractionsParams = z.output<typeof prepareInteractionsParamsSchema>;

function paramsOf(ctx: StageContext): PrepareInteractionsParams {
  return parseParams(prepareInteractionsParamsSchema, ctx.params, 'prepareInteractions');
}

/**
 * Raw event rows → training interactions `{ user, item, value, timestamp }`, with the same
 * result as `aggregateEvents` with the same event weights and minimum counts (no time window).
 *
 * - preprocess (any number of workers, one source partition at a time): reads each row's user,
 *   item, event, value (missing → 1) and timestamp, drops events without a weight, and emits
 *   {@link WeightedEvent}s (weight = event weight × value).
 * - main (exactly one rank): drops exact duplicate events, sums each (user, item)'s weights,
 *   keeps its latest timestamp, prunes users and items below the minimum counts until none is
 *   left below them, and yields the rows ordered by user, then time.
 *
 * Why main is a single rank: removing duplicates needs every copy of an event in one place, and
 * the runners deal records to main ranks round-robin in batches, not by key; with only
 * allreduce/broadcast to combine, several ranks would have to broadcast all their events to each
 * other, which is a single rank's work with more copying. The parallel part is the per-row work
 * in preprocess (parsing, typing, filtering, weighting); main holds one small record per
 * distinct event.
 *
 * @example
 * await new InlineStageRunner().run(
 *   { module: fileURLToPath(import.meta.resolve('./prepare-interactions.js')), export: 'prepareInteractions' },
 *   { source: { kind: 'csv', path: 'datasets/ml-events/events.csv.gz' }, sink: { kind: 'parquet', path: 'out/train' },
 *     numPreprocessors: 4, params: { eventWeights: { view: 1, like: 4 }, minItemUsers: 5 } },
 * );
 */
export const prepareInteractions = defineStage({
  name: 'prepare-interactions',

  async *preprocess(rows: AsyncIterable<unknown>, ctx: StageContext): AsyncIterable<WeightedEvent> {
    const { eventWeights, columns: c } = paramsOf(ctx);
    const weights = new Map(Object.entries(eventWeights));
    for await (const row of rows) {
      const r = row as Record<string, unknown>;
      // Every row must be well-formed, kept or not, as aggregate.ts checks the whole log.
      const user = idField(r, c.user);
      const item = idField(r, c.item);
      const timestamp = epochSecondsField(r, c.timestamp);
      const event = r[c.event];
      if (event === null || event === undefined)
        throw new DataError({ column: c.event }, 'is missing or null');
      const weight = weights.get(String(event));
      if (weight === undefined) continue;
      const value = c.value === null ? 1 : numberField(r, c.value, 1);
      yield { user, item, event: String(event), value, weight: weight * value, timestamp };
    }
  },

  async *main(
    events: AsyncIterable<WeightedEvent>,
    ctx: StageContext,
  ): AsyncIterable<InteractionRow> {
    if (ctx.size !== 1)
      throw new InvalidArgumentError(
        'count',
        `prepare-interactions runs main on exactly one rank (duplicates must meet in one place), got ${ctx.size}`,
      );
    const { minUserItems, minItemUsers } = paramsOf(ctx);
    const pairs = new WeightedPairs();
    for await (const e of events) pairs.add(e);
    const rows = pairs.rows(minUserItems, minItemUsers);
    ctx.log(
      `${pairs.events} weighted events, ${pairs.duplicates} duplicates dropped, ${rows.length} interactions kept`,
    );
    if (rows.length === 0)
      throw new DataError(
        {},
        'no interactions are left after the event weights and minimum counts',
      );
    yield* rows;
  },
});
