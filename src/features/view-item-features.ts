/**
 * Item side features from a feature view (issue 20, "Used by the rest of kiban"): the view's
 * latest values per item, read by the offline store ({@link OfflineFeatureStore.latest}), become
 * the item table of `readItemFeatures` (`data/item-features.ts`), so the graph models train on
 * the same item features that are served and materialised, defined once.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { IdMap } from '../data/id-map.js';
import {
  type ItemFeatureColumn,
  type ItemFeatures,
  parseItemFeatureSpec,
  readItemFeatures,
} from '../data/item-features.js';
import type { FeatureRepository, FeatureViewDefinition } from './feature-types.js';
import {
  DuckDBOfflineFeatureStore,
  featureColumn,
  type OfflineFeatureStore,
} from './offline-store.js';

/** Options of {@link readViewItemFeatures}. */
export interface ViewItemFeaturesOptions {
  repo: FeatureRepository;
  /** The feature view holding the items' features: keyed by one entity, the item. */
  view: string;
  /** The model's items (the view's keys are matched to them as `readItemFeatures` matches ids). */
  items: IdMap;
  /**
   * Which features and how (`readItemFeatures`'s spec, with the view's feature names as columns,
   * e.g. `genres:multi:|,year:num`). @defaultValue every feature of the view: numbers as `num`,
   * strings and bools as `cat` (timestamps left out)
   */
  columns?: string | readonly ItemFeatureColumn[];
  /** Values as of this instant (each item's latest row before it). @defaultValue now */
  asOf?: Date;
  /** @defaultValue a {@link DuckDBOfflineFeatureStore} (closed after) */
  offline?: OfflineFeatureStore;
  /** The option name errors use for `view` and `columns`. @defaultValue 'view' / 'columns' */
  fields?: Partial<Record<'view' | 'columns', string>>;
}

/** The default spec of a view: numeric features `num`, string and bool ones `cat`. */
export function defaultItemFeatureColumns(view: FeatureViewDefinition): ItemFeatureColumn[] {
  const out: ItemFeatureColumn[] = [];
  for (const f of view.features) {
    if (f.type === 'timestamp') continue;
    out.push({
      column: f.name,
      kind: f.type === 'string' || f.type === 'bool' ? 'cat' : 'num',
    });
  }
  return out;
}

/**
 * Item side features of `items` from the latest row of each item in `view` before `asOf` (TTL
 * not applied: an item's features are its latest known), as {@link ItemFeatures} whose names are
 * the view's feature names (`genres=Comedy`, `year`). Items without a row have no features.
 *
 * @throws InvalidArgumentError naming `view` (unknown, or keyed by several entities) or
 *   `columns` (a bad spec, or a feature the view does not have).
 * @example
 * ```ts
 * const itemFeatures = await readViewItemFeatures({ repo, view: 'movie_meta', items: data.items,
 *   columns: 'genres:multi:|,year:num' });
 * await model.fit(data, { itemFeatures });
 * ```
 */
export async function readViewItemFeatures(
  options: ViewItemFeaturesOptions,
): Promise<ItemFeatures> {
  const fields = { view: 'view', columns: 'columns', ...options.fields };
  const { repo } = options;
  const view = repo.featureViews.get(options.view);
  if (view === undefined)
    throw new InvalidArgumentError(
      fields.view,
      `no feature view "${options.view}"; the repository has ${[...repo.featureViews.keys()].map((n) => `"${n}"`).join(', ') || 'none'}`,
    );
  if (view.entities.length !== 1)
    throw new InvalidArgumentError(
      fields.view,
      `view "${view.name}" is keyed by ${view.entities.length} entities (${view.entities.join(', ')}); an item table is keyed by the item alone`,
    );
  const columns =
    options.columns === undefined
      ? defaultItemFeatureColumns(view)
      : typeof options.columns === 'string'
        ? parseItemFeatureSpec(options.columns, fields.columns)
        : options.columns;
  for (const c of columns)
    if (!view.features.some((f) => f.name === c.column))
      throw new InvalidArgumentError(
        fields.columns,
        `view "${view.name}" has no feature "${c.column}"; it has ${view.features.map((f) => `"${f.name}"`).join(', ')}`,
      );
  if (columns.length === 0)
    throw new InvalidArgumentError(fields.columns, `view "${view.name}" gives no feature to use`);
  const joinKey = repo.entities.get(view.entities[0])?.joinKey;
  if (joinKey === undefined)
    throw new InvalidArgumentError(
      fields.view,
      `view "${view.name}" names entity "${view.entities[0]}", which the repository does not define`,
    );
  const work = await mkdtemp(join(tmpdir(), 'kiban-view-items-'));
  const ownStore = options.offline === undefined;
  const offline = options.offline ?? new DuckDBOfflineFeatureStore();
  try {
    const latest = join(work, 'latest.parquet');
    await offline.latest({
      repo,
      features: columns.map((c) => ({ view: view.name, feature: c.column })),
      start: new Date(0),
      end: options.asOf ?? new Date(),
      output: latest,
    });
    // Renamed to the feature names, so the features read `genres=Comedy`, not `movie_meta__genres=…`.
    const table = join(work, 'items.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      const select = columns.map(
        (c) =>
          `${sqlIdent(featureColumn({ view: view.name, feature: c.column }))} AS ${sqlIdent(c.column)}`,
      );
      await con.run(
        `COPY (SELECT ${sqlIdent(joinKey)} AS __item_id, ${select.join(', ')} FROM read_parquet(${sqlLiteral(latest)})) TO ${sqlLiteral(table)} (FORMAT parquet)`,
      );
    } finally {
      con.closeSync();
      instance.closeSync();
    }
    return await readItemFeatures(table, columns, options.items, {
      idColumn: '__item_id',
      format: 'parquet',
    });
  } finally {
    if (ownStore) await offline.close();
    await rm(work, { recursive: true, force: true });
  }
}
