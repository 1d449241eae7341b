import {
  sql,
  type Insertable,
  type Kysely,
  type QueryCreator,
  type RawBuilder,
  type Selectable,
} from 'kysely';
import { ConflictError, InvalidArgumentError } from '../core/errors.js';
import { checkName, type Experiment, type ExperimentStatus } from '../experiments/experiment.js';
import type {
  ExperimentEvent,
  ExperimentStore,
  MetricAggregateRow,
  MetricAggregates,
  UnitOutcome,
} from '../experiments/experiment-store.js';
import { checkEvent } from '../experiments/check-event.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { ExperimentsTable, MetadataDatabase } from './metadata-tables.js';

/** Events per insert statement: 9 parameters each stays far below both engines' parameter limits. */
const EVENT_INSERT_CHUNK = 500;

/** Options of {@link KyselyExperimentStore}. */
export interface KyselyExperimentStoreOptions {
  /** PostgreSQL schema holding the tables; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /** Queues writes behind other writes to the same SQLite file (see `KyselyWorkflowStoreOptions`). @defaultValue run at once */
  serializeWrites?: WriteQueue;
}

/** The fields of an experiment kept as JSON text (the rest have columns). */
type StoredDefinition = Pick<
  Experiment,
  'description' | 'variants' | 'control' | 'salt' | 'traffic' | 'targeting'
>;

/**
 * The {@link ExperimentStore} over the metadata store's database (`kiban_ab_experiments`,
 * `kiban_ab_events`, created by migration `0004_experiments`). It borrows the Kysely instance
 * of a `KyselyMetadataStore` and never closes it. The analysis sums are one SQL query per metric,
 * so a million events are aggregated where they are stored.
 */
export class KyselyExperimentStore implements ExperimentStore {
  readonly #db: Kysely<MetadataDatabase>;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #schema: string | undefined;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyExperimentStoreOptions = {}) {
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  async createExperiment(experiment: Experiment): Promise<void> {
    const row = toRow(experiment);
    await this.#write(async () => {
      const result = await this.#q
        .insertInto('kiban_ab_experiments')
        .values(row)
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0)
        throw new ConflictError(`experiment "${experiment.name}" exists already`);
    });
  }

  async getExperiment(name: string): Promise<Experiment | null> {
    checkName(name, 'name');
    const row = await this.#q
      .selectFrom('kiban_ab_experiments')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row === undefined ? null : fromRow(row);
  }

  async listExperiments(
    options: { status?: ExperimentStatus; layer?: string } = {},
  ): Promise<Experiment[]> {
    let query = this.#q.selectFrom('kiban_ab_experiments').selectAll().orderBy('name');
    if (options.status !== undefined) query = query.where('status', '=', options.status);
    if (options.layer !== undefined)
      query = query.where('layer', '=', checkName(options.layer, 'layer'));
    return (await query.execute()).map(fromRow);
  }

  async replaceExperiment(experiment: Experiment, expectedVersion: number): Promise<boolean> {
    const { name, ...row } = toRow(experiment);
    return this.#write(async () => {
      const result = await this.#q
        .updateTable('kiban_ab_experiments')
        .set(row)
        .where('name', '=', name)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    });
  }

  async insertEvents(
    events: readonly ExperimentEvent[],
  ): Promise<{ inserted: number; duplicates: number }> {
    events.forEach((e, k) => checkEvent(e, `events[${k}]`));
    const receivedAt = Date.now();
    const rows = events.map((e) => ({
      event_id: e.eventId,
      experiment: e.experiment,
      type: e.type,
      unit: e.unit,
      variant: e.variant,
      metric: e.metric,
      value: e.value,
      time_ms: e.time.getTime(),
      received_at_ms: receivedAt,
    }));
    if (rows.length === 0) return { inserted: 0, duplicates: 0 };
    return this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        let inserted = 0;
        for (let k = 0; k < rows.length; k += EVENT_INSERT_CHUNK) {
          const result = await q
            .insertInto('kiban_ab_events')
            .values(rows.slice(k, k + EVENT_INSERT_CHUNK))
            .onConflict((oc) => oc.column('event_id').doNothing())
            .executeTakeFirst();
          inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
        }
        return { inserted, duplicates: rows.length - inserted };
      }),
    );
  }

  async listMetrics(
    experiment: string,
  ): Promise<{ metric: string; kind: 'conversion' | 'value'; events: number }[]> {
    checkName(experiment, 'experiment');
    const rows = await this.#q
      .selectFrom('kiban_ab_events')
      .select(['metric', 'type', (eb) => eb.fn.countAll<number | string>().as('events')])
      .where('experiment', '=', experiment)
      .where('type', '<>', 'exposure')
      .groupBy(['metric', 'type'])
      .orderBy('metric')
      .execute();
    return rows.map((r) => ({
      metric: r.metric as string,
      kind: r.type as 'conversion' | 'value',
      events: Number(r.events),
    }));
  }

  async metricAggregates(
    experiment: string,
    metric: string,
    options: { bucketMs: number; variants: readonly string[] },
  ): Promise<MetricAggregates> {
    checkName(experiment, 'experiment');
    if (typeof metric !== 'string' || metric.length === 0)
      throw new InvalidArgumentError('metric', 'must be a non-empty string');
    if (!Number.isSafeInteger(options.bucketMs) || options.bucketMs < 1)
      throw new InvalidArgumentError('bucketMs', `must be an integer ≥ 1, got ${options.bucketMs}`);
    if (options.variants.length === 0)
      throw new InvalidArgumentError('variants', 'must name at least one variant');
    const kinds = (await this.listMetrics(experiment)).filter((m) => m.metric === metric);
    if (kinds.length > 1)
      throw new InvalidArgumentError(
        'metric',
        `"${metric}" has both conversion and value events; give them different metric names`,
      );
    const kind = kinds[0]?.kind ?? null;
    const events = this.#table('kiban_ab_events');
    const variants = sql.join(options.variants.map((v) => sql`${v}`));
    // Per unit: its variant (when exactly one), first exposure, and the metric after and before it.
    const exposed = sql`select unit, min(variant) as variant, count(distinct variant) as variants, min(time_ms) as first_ms
      from ${events} where experiment = ${experiment} and type = 'exposure' group by unit`;
    const perUnit = sql`select ev.unit as unit,
        sum(case when ev.time_ms >= x.first_ms then coalesce(ev.value, 1) else 0 end) as post,
        sum(case when ev.time_ms >= x.first_ms then 1 else 0 end) as post_events,
        sum(case when ev.time_ms < x.first_ms then coalesce(ev.value, 1) else 0 end) as pre,
        sum(case when ev.time_ms < x.first_ms then 1 else 0 end) as pre_events
      from ${events} ev join exposed x on x.unit = ev.unit
      where ev.experiment = ${experiment} and ev.metric = ${metric} and ev.type <> 'exposure'
      group by ev.unit`;
    // A conversion metric is 0/1 per unit however many events it sent; a value metric is the unit's total.
    const y =
      kind === 'value'
        ? sql`coalesce(p.post, 0)`
        : sql`(case when coalesce(p.post_events, 0) > 0 then 1 else 0 end)`;
    const x =
      kind === 'value'
        ? sql`coalesce(p.pre, 0)`
        : sql`(case when coalesce(p.pre_events, 0) > 0 then 1 else 0 end)`;
    const bucketMs = options.bucketMs;
    const main = await sql<
      Record<string, number | string>
    >`with exposed as (${exposed}), per_unit as (${perUnit}),
      bucketed as (select unit, variant, variants, first_ms - (first_ms % ${bucketMs}) as bucket from exposed)
      select x.variant as variant, x.bucket as bucket, count(*) as units,
        sum(case when coalesce(p.post_events, 0) > 0 then 1 else 0 end) as converted,
        sum(${y}) as sum, sum(${y} * ${y}) as sum_squares,
        sum(${x}) as pre_sum, sum(${x} * ${x}) as pre_sum_squares, sum(${x} * ${y}) as sum_products
      from bucketed x left join per_unit p on p.unit = x.unit
      where x.variants = 1 and x.variant in (${variants})
      group by x.variant, x.bucket
      order by bucket, variant`.execute(this.#db);
    const quality = await sql<Record<string, number | string | null>>`with exposed as (${exposed})
      select
        (select count(*) from exposed where variants > 1) as multi,
        (select count(*) from exposed where variants = 1 and variant not in (${variants})) as unknown_variant,
        (select count(*) from ${events} ev where ev.experiment = ${experiment} and ev.metric = ${metric} and ev.type <> 'exposure'
           and not exists (select 1 from exposed x where x.unit = ev.unit)) as unexposed`.execute(
      this.#db,
    );
    const rows: MetricAggregateRow[] = main.rows.map((r) => ({
      variant: String(r.variant),
      bucketStartMs: Number(r.bucket),
      units: Number(r.units),
      converted: Number(r.converted),
      sum: Number(r.sum),
      sumSquares: Number(r.sum_squares),
      preSum: Number(r.pre_sum),
      preSumSquares: Number(r.pre_sum_squares),
      sumProducts: Number(r.sum_products),
    }));
    const exposedUnits = new Map<string, number>(options.variants.map((v) => [v, 0]));
    for (const r of rows) exposedUnits.set(r.variant, (exposedUnits.get(r.variant) ?? 0) + r.units);
    const q = quality.rows[0];
    return {
      kind,
      rows,
      exposedUnits,
      multiVariantUnits: Number(q.multi ?? 0),
      unknownVariantUnits: Number(q.unknown_variant ?? 0),
      unexposedEvents: Number(q.unexposed ?? 0),
    };
  }

  async unitOutcomes(
    experiment: string,
    metric: string,
    options: { variants: readonly string[] },
  ): Promise<UnitOutcome[]> {
    checkName(experiment, 'experiment');
    if (typeof metric !== 'string' || metric.length === 0)
      throw new InvalidArgumentError('metric', 'must be a non-empty string');
    if (options.variants.length === 0)
      throw new InvalidArgumentError('variants', 'must name at least one variant');
    const kind = (await this.listMetrics(experiment)).find((m) => m.metric === metric)?.kind;
    const events = this.#table('kiban_ab_events');
    const variants = sql.join(options.variants.map((v) => sql`${v}`));
    // The same units and outcomes as metricAggregates, one row per unit.
    const result = await sql<Record<string, number | string>>`with exposed as (
        select unit, min(variant) as variant, count(distinct variant) as variants, min(time_ms) as first_ms
        from ${events} where experiment = ${experiment} and type = 'exposure' group by unit),
      per_unit as (select ev.unit as unit,
          sum(case when ev.time_ms >= x.first_ms then coalesce(ev.value, 1) else 0 end) as post,
          sum(case when ev.time_ms >= x.first_ms then 1 else 0 end) as post_events
        from ${events} ev join exposed x on x.unit = ev.unit
        where ev.experiment = ${experiment} and ev.metric = ${metric} and ev.type <> 'exposure'
        group by ev.unit)
      select x.unit as unit, x.variant as variant, x.first_ms as first_ms,
        coalesce(p.post, 0) as post, coalesce(p.post_events, 0) as post_events
      from exposed x left join per_unit p on p.unit = x.unit
      where x.variants = 1 and x.variant in (${variants})
      order by x.unit`.execute(this.#db);
    return result.rows.map((r) => {
      const events = Number(r.post_events);
      return {
        unit: String(r.unit),
        variant: String(r.variant),
        firstExposureMs: Number(r.first_ms),
        y: kind === 'value' ? Number(r.post) : events > 0 ? 1 : 0,
        converted: events > 0,
      };
    });
  }

  /** A table name, qualified with the schema when there is one. */
  #table(name: keyof MetadataDatabase): RawBuilder<unknown> {
    return this.#schema === undefined ? sql.id(name) : sql.id(this.#schema, name);
  }
}

function toRow(e: Experiment): Insertable<ExperimentsTable> & { name: string } {
  checkName(e.name, 'name');
  const definition: StoredDefinition = {
    description: e.description,
    variants: e.variants,
    control: e.control,
    salt: e.salt,
    traffic: e.traffic,
    targeting: e.targeting,
  };
  return {
    name: e.name,
    definition: JSON.stringify(definition),
    status: e.status,
    layer: e.layer,
    range_start: e.layerRange[0],
    range_end: e.layerRange[1],
    start_at_ms: e.startAt === null ? null : e.startAt.getTime(),
    stop_at_ms: e.stopAt === null ? null : e.stopAt.getTime(),
    version: e.version,
    created_at_ms: e.createdAt.getTime(),
    updated_at_ms: e.updatedAt.getTime(),
  };
}

function fromRow(row: Selectable<ExperimentsTable>): Experiment {
  const d = JSON.parse(row.definition) as StoredDefinition;
  return {
    name: row.name,
    ...d,
    layer: row.layer,
    status: row.status as ExperimentStatus,
    startAt: row.start_at_ms === null ? null : new Date(Number(row.start_at_ms)),
    stopAt: row.stop_at_ms === null ? null : new Date(Number(row.stop_at_ms)),
    layerRange: [Number(row.range_start), Number(row.range_end)],
    version: Number(row.version),
    createdAt: new Date(Number(row.created_at_ms)),
    updatedAt: new Date(Number(row.updated_at_ms)),
  };
}
