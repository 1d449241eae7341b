/**
 * CUPED covariates from the feature store (issue 20, "Used by the rest of kiban"): each unit's
 * covariate is a feature of a feature view, read point-in-time at the unit's exposure by the
 * offline store ({@link OfflineFeatureStore.historical}), so what the analysis adjusts with is
 * what was known of the unit before it saw the experiment — never a later value.
 *
 * A unit's exposure is the earliest time among its rows of the A/B CSV (the rows `where` keeps),
 * as `aggregateAbCsv` takes a unit's first time; the feature's value is its latest with event
 * time strictly before that instant (1 ms before: a value stamped at the exposure itself may
 * already reflect it) and within the view's TTL. The unit id is the view's join key (for an int64
 * key, a unit that is not an integer has no value).
 *
 * The result is the A/B CSV with one more column, `VIEW__FEATURE` (empty where no value
 * qualifies), written to a work directory, which `aggregateAbCsv` then reads with that column as
 * its `covariate`: rows whose unit has no value are left out and counted as missing covariates,
 * exactly as with a covariate column given in the file.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { describeColumns, sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { FeatureReference, FeatureRepository } from '../features/feature-types.js';
import {
  DuckDBOfflineFeatureStore,
  featureColumn,
  type OfflineFeatureStore,
} from '../features/offline-store.js';

/** Feature types a CUPED covariate can be (booleans as 1/0). */
const NUMERIC_TYPES = new Set(['int64', 'int32', 'float64', 'float32', 'bool']);

/** Options of {@link addFeatureCovariate}. */
export interface FeatureCovariateOptions {
  /** The A/B CSV (header row), as `aggregateAbCsv` reads it. */
  csv: string;
  /** Column naming the unit: its values are the view's join key. */
  unit: string;
  /** Column of each row's time (ISO-8601, `YYYY-MM-DD hh:mm:ss` as UTC, or epoch seconds/ms). */
  time: string;
  /** The same `where` the analysis applies, so exposures come from the rows it keeps. @defaultValue none */
  where?: string;
  repo: FeatureRepository;
  /** The covariate: a numeric or bool feature of a view with one entity. */
  feature: FeatureReference;
  /** The store the point-in-time values come from. @defaultValue a {@link DuckDBOfflineFeatureStore} (closed after) */
  offline?: OfflineFeatureStore;
  /** Option names errors use. @defaultValue `{feature: 'covariateFeature', unit: 'unit', time: 'time', where: 'where'}` */
  fields?: Partial<Record<'feature' | 'unit' | 'time' | 'where', string>>;
}

/** What {@link addFeatureCovariate} wrote. Call {@link FeatureCovariateCsv.remove} when done. */
export interface FeatureCovariateCsv {
  /** The A/B CSV with the covariate column added (rows and their order as in the input). */
  csv: string;
  /** The added column, `VIEW__FEATURE`. */
  column: string;
  /** Units with an exposure time, and of those, units with a value at exposure. */
  units: number;
  unitsWithValue: number;
  /** Deletes the work directory. */
  remove(): Promise<void>;
}

/**
 * Adds to the A/B CSV each unit's value of `feature` point-in-time at its exposure (see the
 * module), for CUPED. @throws InvalidArgumentError naming the feature option (unknown view or
 * feature, a non-numeric feature, a view of several entities) or `where`; DataError when the CSV
 * cannot be read, lacks the unit or time column, or already has the covariate column.
 * @example
 * ```ts
 * const added = await addFeatureCovariate({ csv: 'ab.csv', unit: 'user_id', time: 'ts', repo,
 *   feature: { view: 'user_stats', feature: 'spend_28d' } });
 * const data = await aggregateAbCsv(added.csv, { unit: 'user_id', variant: 'arm', metric: 'spend',
 *   covariate: added.column, time: 'ts' });
 * await added.remove();
 * ```
 */
export async function addFeatureCovariate(
  options: FeatureCovariateOptions,
): Promise<FeatureCovariateCsv> {
  const fields = {
    feature: 'covariateFeature',
    unit: 'unit',
    time: 'time',
    where: 'where',
    ...options.fields,
  };
  const { repo, feature } = options;
  const view = repo.featureViews.get(feature.view);
  if (view === undefined)
    throw new InvalidArgumentError(
      fields.feature,
      `no feature view "${feature.view}"; the repository has ${[...repo.featureViews.keys()].map((n) => `"${n}"`).join(', ') || 'none'}`,
    );
  const definition = view.features.find((f) => f.name === feature.feature);
  if (definition === undefined)
    throw new InvalidArgumentError(
      fields.feature,
      `view "${view.name}" has no feature "${feature.feature}"; it has ${view.features.map((f) => `"${f.name}"`).join(', ')}`,
    );
  if (!NUMERIC_TYPES.has(definition.type))
    throw new InvalidArgumentError(
      fields.feature,
      `"${view.name}:${definition.name}" is of type ${definition.type}; a CUPED covariate is a number or a bool`,
    );
  if (view.entities.length !== 1)
    throw new InvalidArgumentError(
      fields.feature,
      `view "${view.name}" is keyed by ${view.entities.length} entities (${view.entities.join(', ')}); the unit must be its one join key`,
    );
  const entity = repo.entities.get(view.entities[0]);
  if (entity === undefined)
    throw new InvalidArgumentError(
      fields.feature,
      `view "${view.name}" names entity "${view.entities[0]}", which the repository does not define`,
    );
  const column = featureColumn(feature);
  const work = await mkdtemp(join(tmpdir(), 'kiban-ab-covariate-'));
  const remove = () => rm(work, { recursive: true, force: true });
  const ownStore = options.offline === undefined;
  const offline = options.offline ?? new DuckDBOfflineFeatureStore();
  const instance = await (await import('@duckdb/node-api')).DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    await con.run("set TimeZone = 'UTC'");
    const source = `read_csv(${sqlLiteral(options.csv)}, header = true, all_varchar = true)`;
    const columns = await describeColumns(con, source, options.csv);
    for (const [field, name] of [
      [fields.unit, options.unit],
      [fields.time, options.time],
    ] as const)
      if (!columns.has(name))
        throw new DataError(
          { file: options.csv, column: name },
          `is not a column (${field}); columns: ${[...columns.keys()].join(', ')}`,
        );
    if (columns.has(column))
      throw new DataError(
        { file: options.csv, column },
        `already exists: it is the name of the feature covariate's column (${fields.feature})`,
      );
    await con.run(
      `create temp table rows as select row_number() over () as __rn, * from ${source}`,
    );
    const text = (name: string) => `nullif(trim(${sqlIdent(name)}), '')`;
    // As aggregateAbCsv reads times: epoch numbers below 10^11 are seconds, else ms.
    const t = text(options.time);
    const epochMs = `coalesce(epoch_ms(try_cast(${t} as timestamptz))::double, case when abs(try_cast(${t} as double)) < 1e11 then try_cast(${t} as double) * 1000 else try_cast(${t} as double) end)`;
    try {
      await con.run(
        `create temp table exposures as select ${text(options.unit)} as __unit, min(${epochMs}) as __t
         from rows where ${options.where === undefined ? 'true' : `(${options.where})`}
         group by 1 having __unit is not null and min(${epochMs}) is not null`,
      );
    } catch (cause) {
      if (options.where === undefined) throw cause;
      throw new InvalidArgumentError(
        fields.where,
        `DuckDB refused it: ${(cause as Error).message.split('\n')[0]}`,
        { cause },
      );
    }
    const entities = join(work, 'exposures.parquet');
    const joined = join(work, 'covariates.parquet');
    // 1 ms before the exposure: the offline store takes values with event time ≤ the row's. A unit
    // that is no integer, for an int64 key, gets a null key: no value (a missing covariate).
    await con.run(
      `copy (select __unit, ${entity.type === 'int64' ? 'try_cast(__unit as bigint)' : '__unit'} as ${sqlIdent(entity.joinKey)}, to_timestamp((__t - 1) / 1000.0) as __exposure from exposures)
       to ${sqlLiteral(entities)} (format parquet)`,
    );
    await offline.historical({
      repo,
      entities,
      features: [feature],
      timestampColumn: '__exposure',
      output: joined,
    });
    const out = join(work, 'ab-with-covariate.csv');
    const [counts] = (
      await con.runAndReadAll(
        `select count(*), count(${sqlIdent(column)}) from read_parquet(${sqlLiteral(joined)})`,
      )
    ).getRowsJS() as [bigint, bigint][];
    const original = [...columns.keys()].map((c) => `r.${sqlIdent(c)}`).join(', ');
    await con.run(
      `copy (select ${original}, c.${sqlIdent(column)} from rows r
         left join read_parquet(${sqlLiteral(joined)}) c on nullif(trim(r.${sqlIdent(options.unit)}), '') = c.__unit
         order by r.__rn)
       to ${sqlLiteral(out)} (format csv, header true)`,
    );
    return {
      csv: out,
      column,
      units: Number(counts![0]),
      unitsWithValue: Number(counts![1]),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  } finally {
    con.closeSync();
    instance.closeSync();
    if (ownStore) await offline.close();
  }
}
