/**
 * The HTTP analysis's CUPED covariate from the feature store (issue 20): each analysed unit's
 * value of a feature, point-in-time just before its first exposure (1 ms before, within the view's
 * TTL; see `feature-covariate.ts` for the CSV analysis), through
 * {@link OfflineFeatureStore.historical}, summed per variant and bucket of first exposure into
 * the rows {@link analyzeExperimentMetric} reads in place of the pre-period events' sums.
 *
 * A unit with no value before its exposure takes the mean of the values found (so it moves
 * neither θ nor the adjusted means, and every exposed unit stays in the analysis, as with the
 * event covariate); how many had one is reported.
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { FeatureReference, FeatureRepository } from '../features/feature-types.js';
import { featureColumn, type OfflineFeatureStore } from '../features/offline-store.js';
import type { MetricAggregateRow, UnitOutcome } from './experiment-store.js';

/** Feature types a CUPED covariate can be (booleans as 1/0). */
const NUMERIC_TYPES = new Set(['int64', 'int32', 'float64', 'float32', 'bool']);

/** What {@link featureCovariateRows} computed. */
export interface FeatureCovariateRows {
  rows: MetricAggregateRow[];
  /** Units analysed, and of those, units with a value of the feature before their exposure. */
  units: number;
  unitsWithValue: number;
}

/**
 * Checks that `feature` can be a unit's covariate: a numeric or bool feature of a view keyed by
 * one entity. Returns that entity's join key and type. @throws InvalidArgumentError naming `field`
 */
export function covariateFeatureKey(
  repo: FeatureRepository,
  feature: FeatureReference,
  field: string,
): { joinKey: string; type: 'string' | 'int64' } {
  const view = repo.featureViews.get(feature.view);
  if (view === undefined)
    throw new InvalidArgumentError(
      field,
      `no feature view "${feature.view}"; the repository has ${[...repo.featureViews.keys()].map((n) => `"${n}"`).join(', ') || 'none'}`,
    );
  const type = view.features.find((f) => f.name === feature.feature)?.type;
  if (type === undefined)
    throw new InvalidArgumentError(
      field,
      `view "${view.name}" has no feature "${feature.feature}"; it has ${view.features.map((f) => `"${f.name}"`).join(', ')}`,
    );
  if (!NUMERIC_TYPES.has(type))
    throw new InvalidArgumentError(
      field,
      `"${view.name}:${feature.feature}" is of type ${type}; a CUPED covariate is a number or a bool`,
    );
  const entity = view.entities.length === 1 ? repo.entities.get(view.entities[0]) : undefined;
  if (entity === undefined)
    throw new InvalidArgumentError(
      field,
      `view "${view.name}" must be keyed by one entity, the experiment's unit; it has ${view.entities.join(', ')}`,
    );
  return { joinKey: entity.joinKey, type: entity.type };
}

/** A CSV cell, quoted when it needs to be. */
function cell(text: string): string {
  return /[",\r\n]/.test(text) || text.trim() !== text ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Per variant and bucket of first exposure (`bucketMs` wide, aligned to the epoch), the sums of
 * the units' outcomes and of `feature` as their covariate (see the module).
 *
 * @throws InvalidArgumentError naming `field` (see {@link covariateFeatureKey}).
 */
export async function featureCovariateRows(options: {
  units: readonly UnitOutcome[];
  repo: FeatureRepository;
  feature: FeatureReference;
  offline: OfflineFeatureStore;
  bucketMs: number;
  field?: string;
}): Promise<FeatureCovariateRows> {
  const { units, repo, feature, offline, bucketMs } = options;
  const key = covariateFeatureKey(repo, feature, options.field ?? 'covariateFeature');
  const values = new Map<string, number>();
  if (units.length > 0) {
    const work = await mkdtemp(join(tmpdir(), 'kiban-ab-feature-'));
    try {
      const entities = join(work, 'exposures.csv');
      const lines = [`__unit,${cell(key.joinKey)},__exposure`];
      for (const u of units) {
        // An int64 key takes units written as integers; another unit has no value.
        const keyText = key.type === 'int64' ? (/^-?\d{1,18}$/.test(u.unit) ? u.unit : '') : u.unit;
        lines.push(
          `${cell(u.unit)},${cell(keyText)},${((u.firstExposureMs - 1) / 1000).toFixed(3)}`,
        );
      }
      await writeFile(entities, `${lines.join('\n')}\n`);
      const output = join(work, 'covariates.parquet');
      await offline.historical({
        repo,
        entities,
        features: [feature],
        timestampColumn: '__exposure',
        output,
      });
      const instance = await (await import('@duckdb/node-api')).DuckDBInstance.create(':memory:');
      const con = await instance.connect();
      try {
        const column = sqlIdent(featureColumn(feature));
        const rows = (
          await con.runAndReadAll(
            `SELECT __unit, CAST(${column} AS DOUBLE) FROM read_parquet(${sqlLiteral(output)}) WHERE ${column} IS NOT NULL`,
          )
        ).getRowsJS() as [string, number][];
        for (const [unit, value] of rows)
          if (Number.isFinite(value)) values.set(String(unit), value);
      } finally {
        con.closeSync();
        instance.closeSync();
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  let mean = 0;
  for (const v of values.values()) mean += v / values.size;
  const rows = new Map<string, MetricAggregateRow>();
  for (const u of units) {
    const bucketStartMs =
      u.firstExposureMs - (((u.firstExposureMs % bucketMs) + bucketMs) % bucketMs);
    const id = `${u.variant}\u001f${bucketStartMs}`;
    let row = rows.get(id);
    if (row === undefined) {
      row = {
        variant: u.variant,
        bucketStartMs,
        units: 0,
        converted: 0,
        sum: 0,
        sumSquares: 0,
        preSum: 0,
        preSumSquares: 0,
        sumProducts: 0,
      };
      rows.set(id, row);
    }
    const x = values.get(u.unit) ?? mean;
    row.units += 1;
    if (u.converted) row.converted += 1;
    row.sum += u.y;
    row.sumSquares += u.y * u.y;
    row.preSum += x;
    row.preSumSquares += x * x;
    row.sumProducts += x * u.y;
  }
  return {
    rows: [...rows.values()].sort((a, b) =>
      a.bucketStartMs !== b.bucketStartMs
        ? a.bucketStartMs - b.bucketStartMs
        : a.variant < b.variant
          ? -1
          : a.variant > b.variant
            ? 1
            : 0,
    ),
    units: units.length,
    unitsWithValue: units.filter((u) => values.has(u.unit)).length,
  };
}
