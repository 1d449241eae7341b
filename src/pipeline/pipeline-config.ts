import { RECOMMEND_SOURCES } from '../storage/serving-lists.js';
import { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import { builtinModels } from '../models/builtin-models.js';
import type { ModelRegistry } from '../models/model-registry.js';

const positiveInt = z.int().min(1);

/** Defaults of `aggregate.apiInteractions` (see {@link apiInteractionsSchema}). */
export const API_INTERACTIONS_DEFAULTS = Object.freeze({
  enabled: true,
  eventType: 'api-interaction',
  weight: 1,
});

/**
 * `aggregate.apiInteractions`: whether the aggregate step also reads the interactions written
 * through the API (`POST /v1/interactions`, stored in `metadata.interactions`) and how it weighs
 * them. They enter the aggregation as events of the reserved type `eventType` (which
 * `eventWeights` may not name, and the event log may not hold) with value = the stored weight,
 * so each counts `weight` × its stored weight, combined with the log's events of the same
 * (user, item) by `combine`. They never move the time window: it ends at `window.end` or the
 * newest event of the log itself, and API events newer than the log's newest are kept (see
 * `aggregateEvents`). The highest `seq` read is recorded with the interactions and published as
 * the serving version's `embedding.interactionsThrough`.
 *
 * - `enabled` (default true): false aggregates the event log only (`interactionsThrough` 0).
 * - `eventType` (default `api-interaction`): the reserved event type.
 * - `weight` (default 1): the weight of that type.
 */
export const apiInteractionsSchema = z
  .object({
    enabled: z.boolean().default(API_INTERACTIONS_DEFAULTS.enabled),
    eventType: z.string().min(1).default(API_INTERACTIONS_DEFAULTS.eventType),
    weight: z.number().positive().default(API_INTERACTIONS_DEFAULTS.weight),
  })
  .strict();

/**
 * `model.kind`: a kind registered in `models`, checked when parsed (so a model registered later
 * is accepted too); an unknown one gets zod's `Invalid option: expected one of "popularity"|…`.
 */
export function modelKindSchema(models: ModelRegistry) {
  return z
    .string()
    .superRefine((kind, ctx) => {
      if (!models.has(kind))
        ctx.addIssue({ code: 'invalid_value', values: models.kinds(), input: kind });
    })
    .default('als');
}

/** Where the item side features of `model.itemFeatures` come from: a table file or a feature view. */
const itemFeaturesSchema = z
  .object({
    /** An item table file (CSV with a header line, or Parquet). */
    table: z.string().min(1).optional(),
    /** With `table`: its item id column. @defaultValue the table's first column */
    id: z.string().min(1).optional(),
    /** A feature view keyed by the item, in `repo`. */
    view: z.string().min(1).optional(),
    /** With `view`: the feature repository directory (holding `features.yaml`). */
    repo: z.string().min(1).optional(),
    /** `column:kind[:separator],…` (multi, cat, num); required with `table`. */
    columns: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const problem = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if ((f.table === undefined) === (f.view === undefined))
      problem(
        'table',
        'give either table (an item table file) or view (a feature view), not both or neither',
      );
    if (f.view !== undefined && f.repo === undefined)
      problem('repo', 'is needed with view: the feature repository directory');
    if (f.table !== undefined && f.columns === undefined)
      problem('columns', 'is needed with table, e.g. "genres:multi:|,year:num"');
    if (f.table !== undefined && f.repo !== undefined) problem('repo', 'is only used with view');
    if (f.view !== undefined && f.id !== undefined)
      problem('id', "is only used with table (a view's items are its join key)");
  });

/**
 * The batch pipeline's configuration schema with `model.kind` checked against `models`; see
 * {@link pipelineConfigSchema}.
 */
export function pipelineConfigSchemaFor(models: ModelRegistry) {
  return z
    .object({
      name: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-", at most 64')
        .default('demo'),
      data: z
        .object({
          events: z.string().min(1).default('datasets/ml-events/events.csv.gz'),
          columns: z
            .object({
              user: z.string(),
              item: z.string(),
              event: z.string(),
              value: z.string().nullable(),
              timestamp: z.string(),
            })
            .partial()
            .strict()
            .default({}),
          /**
           * The item catalogue (issue 22, `data/item-catalogue.ts`): an item table (CSV or
           * Parquet) whose `category`, `creator` and `retired` columns the publish step turns
           * into category lists, creator recommendations and the retired set. Unset: none.
           */
          items: z
            .object({
              table: z.string().min(1),
              id: z.string().min(1).optional(),
              category: z.string().min(1).optional(),
              categorySeparator: z.string().min(1).default('|'),
              creator: z.string().min(1).optional(),
              retired: z.string().min(1).optional(),
            })
            .strict()
            .optional(),
        })
        .strict()
        .default({ events: 'datasets/ml-events/events.csv.gz', columns: {} }),
      aggregate: z
        .object({
          eventWeights: z.record(z.string(), z.number().positive()).default({ view: 1, like: 4 }),
          combine: z.enum(['sum', 'max']).default('sum'),
          window: z
            .object({ days: z.number().positive(), end: z.string().optional() })
            .strict()
            .optional(),
          minUserItems: positiveInt.default(5),
          minItemUsers: positiveInt.default(2),
          apiInteractions: apiInteractionsSchema.default(API_INTERACTIONS_DEFAULTS),
        })
        .strict()
        .superRefine((aggregate, ctx) => {
          const { eventType } = aggregate.apiInteractions;
          if (aggregate.apiInteractions.enabled && Object.hasOwn(aggregate.eventWeights, eventType))
            ctx.addIssue({
              code: 'custom',
              path: ['eventWeights', eventType],
              message: `"${eventType}" is the event type reserved for API interactions (apiInteractions.eventType); weight them with apiInteractions.weight`,
            });
        })
        .default({
          eventWeights: { view: 1, like: 4 },
          combine: 'sum',
          minUserItems: 5,
          minItemUsers: 2,
          apiInteractions: API_INTERACTIONS_DEFAULTS,
        }),
      model: z
        .object({
          kind: modelKindSchema(models),
          params: z.record(z.string(), z.unknown()).default({}),
          /** `value` trains on the aggregated weights, `binary` on presence only. */
          values: z.enum(['value', 'binary']).default('binary'),
          /**
           * Item side features for the models that use them (graphsage, gat; others ignore them):
           * an item table file (`table`, its `columns` spec and optional `id` column, see
           * `data/item-features.ts`) or a feature view of a feature repository (`view` and `repo`,
           * each item's latest values; `columns` over the view's feature names, default every
           * feature: numbers `num`, strings and bools `cat`). See `pipeline/item-features-source.ts`.
           */
          itemFeatures: itemFeaturesSchema.optional(),
        })
        .strict()
        .default({ kind: 'als', params: {}, values: 'binary' }),
      evaluate: z
        .object({
          /** Share of each user's latest interactions held out to measure the model; 0 skips it. */
          holdout: z.number().min(0).max(0.5).default(0.1),
          k: positiveInt.default(10),
          /**
           * Quality gate: the lowest acceptable value of each named metric (e.g. `{ "ndcg@10": 0.2 }`);
           * the evaluate step fails below it, so a workflow stops before publishing a worse model.
           */
          minimum: z
            .record(z.string(), z.number().refine(Number.isFinite, 'must be a finite number'))
            .optional(),
        })
        .strict()
        .default({ holdout: 0.1, k: 10 }),
      candidates: z
        .object({
          users: positiveInt.max(1000).default(100),
          related: positiveInt.max(1000).default(50),
          popular: positiveInt.max(10000).default(100),
        })
        .strict()
        .default({ users: 100, related: 50, popular: 100 }),
      /**
       * The item vector index the publish step builds from a model with item vectors (ALS, BPR)
       * and stores as `vectors/items/` on the artifact store: exact below `exactBelow` items,
       * HNSW from there on. `enabled: false` publishes lists only.
       */
      vectors: z
        .object({
          enabled: z.boolean().default(true),
          exactBelow: positiveInt.default(50_000),
        })
        .strict()
        .default({ enabled: true, exactBelow: 50_000 }),
      /**
       * How the service's recommendation routes answer (read by `kiban serve`, per service):
       * the fallback chain's sources in order, how many recent items seed `related-to-recent`,
       * and related items read per seed. Unset: every source in the default order.
       */
      recommend: z
        .object({
          chain: z.array(z.enum(RECOMMEND_SOURCES)).min(1).optional(),
          recentItems: positiveInt.max(1000).optional(),
          relatedPerItem: positiveInt.max(1000).optional(),
        })
        .strict()
        .optional(),
      stores: z
        .object({
          serving: z.string().default('sqlite:.kiban/serving.db'),
          metadata: z.string().default('sqlite:.kiban/meta.db'),
          artifacts: z.string().default('.kiban/models'),
          work: z.string().default('.kiban/work'),
        })
        .strict()
        .default({
          serving: 'sqlite:.kiban/serving.db',
          metadata: 'sqlite:.kiban/meta.db',
          artifacts: '.kiban/models',
          work: '.kiban/work',
        }),
    })
    .strict();
}

/**
 * The batch pipeline's configuration (`kiban.yaml`), with kiban's own models. Every field has a
 * default that runs the demo on the bundled data with embedded stores, so `{}` is a valid
 * configuration.
 */
export const pipelineConfigSchema = pipelineConfigSchemaFor(builtinModels());

export type PipelineConfig = z.output<typeof pipelineConfigSchema>;

/**
 * Validates a configuration object (parsed YAML), finding `model.kind` in `models` and checking
 * `model.params` with that model. An error names the offending key as a dotted path from the
 * top, e.g. `config.model.kind: Invalid option: expected one of …`.
 *
 * @example
 * const config = parsePipelineConfig(parse(await readFile('kiban.yaml', 'utf8')));
 * const custom = parsePipelineConfig({ model: { kind: 'mine' } }, builtinModels().register(mine));
 */
export function parsePipelineConfig(input: unknown, models?: ModelRegistry): PipelineConfig {
  const schema = models === undefined ? pipelineConfigSchema : pipelineConfigSchemaFor(models);
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = ['config', ...issue.path.map(String)].join('.');
    throw new InvalidArgumentError(path, issue.message);
  }
  // Model parameters are checked by the model itself, so that a typo fails before hours of work.
  try {
    (models ?? builtinModels()).create(result.data.model.kind, result.data.model.params);
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new InvalidArgumentError('config.model.params', error.message, { cause: error });
    throw error;
  }
  return result.data;
}
