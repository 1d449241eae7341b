/**
 * The offline feature store: point-in-time-correct feature values for an entity dataframe
 * (training data without label leakage), and the latest values per entity in a time window
 * (what materialisation copies to the online store), over the repository's CSV/Parquet files or
 * DuckDB queries.
 *
 * Semantics, shared with the online store:
 * - a view's row counts for an entity row when its keys equal the row's and its event time is at
 *   or before the row's timestamp (never a later one);
 * - among those the latest event time wins; among rows with that same event time, the greatest
 *   created time (a missing created time ranks lowest); rows equal in both: one of them,
 *   unspecified. The winner is a whole row: a null feature in it stays null.
 * - created time only breaks ties: a row created (arrived) after the entity row's timestamp still
 *   counts when its event time qualifies, as in Feast.
 * - TTL (`ttlSeconds` > 0): the winner is valid while `row time − event time < ttl`; at exactly
 *   `ttl` it has expired (a value lives in the half-open `[event, event + ttl)`). An expired
 *   winner gives null; an older row is not tried instead.
 *
 * @module
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { tempSibling } from '../core/atomic-dir.js';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { describeColumns, itemTableSource, sqlIdent } from '../data/duckdb-sql.js';
import type { FeatureReference, FeatureRepository } from './feature-types.js';
import {
  castColumn,
  copyTo,
  featureColumn,
  featureRows,
  latestRowsSql,
  MAX_BIGINT,
  planViews,
  tableFormat,
  timestampMicros,
  type ViewPlan,
  viewKeys,
} from './offline-sql.js';

export { featureColumn };

/** Options of {@link OfflineFeatureStore.historical}. */
export interface HistoricalOptions {
  repo: FeatureRepository;
  /** CSV or Parquet file (by extension) with the views' join keys and a timestamp column. */
  entities: string;
  /** The features to add, in output order; each `VIEW__FEATURE` column once. */
  features: readonly FeatureReference[];
  /** The entity file's timestamp column. @defaultValue 'event_time' */
  timestampColumn?: string;
  /** CSV or Parquet file (by extension) to write; replaced atomically. */
  output: string;
  signal?: AbortSignal;
}

/** Options of {@link OfflineFeatureStore.latest}. */
export interface LatestOptions {
  repo: FeatureRepository;
  /** The features to write; their views must have the same join keys. */
  features: readonly FeatureReference[];
  /** Window start, inclusive. */
  start: Date;
  /** Window end, exclusive. */
  end: Date;
  /** CSV or Parquet file (by extension) to write; replaced atomically. */
  output: string;
  signal?: AbortSignal;
}

/** Options of {@link OfflineFeatureStore.readLatest}. */
export interface ReadLatestOptions {
  repo: FeatureRepository;
  /** The view whose rows are read (all its features). */
  view: string;
  /** Window start, inclusive. */
  start: Date;
  /** Window end, exclusive. */
  end: Date;
  signal?: AbortSignal;
}

/** One entity's latest row of a view in a window (see {@link OfflineFeatureStore.readLatest}). */
export interface LatestRow {
  /** The join key values in the order of the view's entities: string or bigint (int64). */
  key: (string | bigint)[];
  /** The row's event time, epoch microseconds (UTC). */
  eventTimeUs: bigint;
  /** The view's features in definition order: number, bigint, string, boolean, Date or null. */
  values: unknown[];
}

/** What a write reports. */
export interface OfflineWriteResult {
  /** Absolute path written. */
  output: string;
  rows: number;
  /** The column names written, in order. */
  columns: string[];
}

/** The point-in-time store over a repository's offline data (see the module's semantics). */
export interface OfflineFeatureStore {
  /**
   * For each row of the entity file, in input order, its columns as read then one column per
   * feature named `VIEW__FEATURE` holding the point-in-time value (null/empty where none
   * qualifies). A row with no timestamp or a null key gets nulls.
   *
   * @throws InvalidArgumentError naming `features` (unknown view or feature, listed twice) or an
   *   unknown extension (`entities`, `output`).
   * @throws DataError naming the file and column: missing columns, a timestamp column that is
   *   neither ISO-8601 nor epoch seconds, a key or feature cell not of its type.
   * @example
   * ```ts
   * await store.historical({ repo, entities: 'labels.parquet', output: 'train.parquet',
   *   features: [{ view: 'user_stats', feature: 'clicks_7d' }] });
   * ```
   */
  historical(options: HistoricalOptions): Promise<OfflineWriteResult>;
  /**
   * For every entity key with rows in `[start, end)` in any of the features' views, its latest
   * values in that window (TTL not applied: the window bounds age), one row per key sorted by
   * key: the join key columns, then `VIEW__FEATURE` columns (null where a view has no row).
   */
  latest(options: LatestOptions): Promise<OfflineWriteResult>;
  /**
   * The latest row per entity key of one view in `[start, end)`, streamed in chunks of a few
   * thousand rows in no particular order: what materialisation to the online store writes, one
   * window at a time (same dedup as {@link historical}; equal windows give equal rows).
   */
  readLatest(options: ReadLatestOptions): AsyncIterable<LatestRow[]>;
  close(): Promise<void>;
}

/** Options of {@link DuckDBOfflineFeatureStore}. */
export interface DuckDBOfflineStoreOptions {
  /** DuckDB worker threads. @defaultValue DuckDB's (the core count) */
  threads?: number;
  /** DuckDB `memory_limit`, e.g. `'1GB'`; beyond it joins spill to disk. @defaultValue DuckDB's (80% of RAM) */
  memoryLimit?: string;
  /** Where DuckDB spills. @defaultValue DuckDB's (none for an in-memory database) */
  tempDirectory?: string;
}

/** Defaults of {@link DuckDBOfflineStoreOptions}: DuckDB's own. */
export const DUCKDB_OFFLINE_STORE_DEFAULTS: Readonly<DuckDBOfflineStoreOptions> = Object.freeze({});

/**
 * {@link OfflineFeatureStore} on an in-process DuckDB: each view is one `ASOF LEFT JOIN` (keys
 * equal, entity time ≥ event time, created time breaking ties) followed by the TTL check.
 * Each call uses its own connection; the instance is made on first use.
 *
 * @example
 * ```ts
 * const store = new DuckDBOfflineFeatureStore({ threads: 2 });
 * try {
 *   await store.historical({ repo, entities: 'labels.csv', output: 'train.parquet',
 *     features: [{ view: 'user_stats', feature: 'spend_7d' }] });
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export class DuckDBOfflineFeatureStore implements OfflineFeatureStore {
  readonly options: Readonly<DuckDBOfflineStoreOptions>;
  #instance: Promise<DuckDBInstance> | null = null;

  constructor(options: DuckDBOfflineStoreOptions = {}) {
    this.options = Object.freeze({ ...DUCKDB_OFFLINE_STORE_DEFAULTS, ...options });
  }

  async historical(options: HistoricalOptions): Promise<OfflineWriteResult> {
    const entities = resolve(options.entities);
    const inFormat = tableFormat(entities, 'entities');
    const output = resolve(options.output);
    const outFormat = tableFormat(output, 'output');
    const plans = planViews(options.repo, options.features, 'features');
    const tsColumn = options.timestampColumn ?? 'event_time';
    if (!(await stat(entities).catch(() => null))?.isFile())
      throw new DataError({ file: entities }, 'file not found');
    return this.#withConnection(options.signal, async (con) => {
      const place = { file: entities };
      try {
        await con.run(
          `CREATE TEMP TABLE __kiban_entities AS SELECT * FROM ${itemTableSource(entities, inFormat)}`,
        );
      } catch (cause) {
        throw new DataError(
          { file: entities },
          `cannot be read as a table: ${(cause as Error).message.split('\n')[0]}`,
          { cause },
        );
      }
      const table = '__kiban_entities';
      const columns = await describeColumns(con, table, entities);
      const need = (name: string, what: string): string => {
        const type = columns.get(name);
        if (type === undefined)
          throw new DataError(
            { file: entities, column: name },
            `missing ${what} column "${name}"; the file has ${[...columns.keys()].map((c) => `"${c}"`).join(', ')}`,
          );
        return type;
      };
      const rowSelect = [
        'rowid AS __row',
        `${await timestampMicros(con, table, tsColumn, need(tsColumn, 'timestamp'), place)} AS __ts`,
      ];
      const keyTypes = new Map<string, 'string' | 'int64'>();
      for (const plan of plans)
        for (const key of plan.keys) {
          const had = keyTypes.get(key.column);
          if (had !== undefined && had !== key.type)
            throw new InvalidArgumentError(
              'features',
              `join key "${key.column}" is a ${had} in one view and a ${key.type} in another`,
            );
          keyTypes.set(key.column, key.type);
        }
      for (const [key, type] of keyTypes)
        rowSelect.push(
          `${await castColumn(con, table, key, need(key, 'join key'), type, place)} AS ${sqlIdent(key)}`,
        );
      await con.run(
        `CREATE TEMP TABLE __kiban_rows AS SELECT ${rowSelect.join(', ')} FROM ${table}`,
      );

      // Feature rows after the latest entity row can never be taken, nor (with a TTL) rows that
      // would have expired at the earliest one: dropping them before the join shrinks its sort.
      const [span] = (
        await con.runAndReadAll('SELECT min(__ts), max(__ts) FROM __kiban_rows')
      ).getRowsJS() as [bigint | null, bigint | null][];
      const [first, last] = span!;
      const featureColumns: string[] = [];
      const joins: string[] = [];
      for (const [i, plan] of plans.entries()) {
        const { sql, hasCreated } = await featureRows(con, options.repo, plan);
        // Ties in event time count as at or before the row whatever their created time. A null
        // time must stay a null key: a struct holding a null is not null and would sort.
        const leftOrd = hasCreated
          ? `CASE WHEN __ts IS NOT NULL THEN struct_pack(t := __ts, c := ${MAX_BIGINT}) END`
          : '__ts';
        const ttl = BigInt(Math.round(plan.view.ttlSeconds * 1e6));
        const window =
          first === null || last === null
            ? 'false'
            : `__ts <= ${last}${ttl > 0n ? ` AND __ts > ${first - ttl}` : ''}`;
        // DuckDB's ASOF join matches a null struct key on the left: a row with no time takes nothing.
        const valid = `l.__ts IS NOT NULL${ttl > 0n ? ` AND r.__ts > l.__ts - ${ttl}` : ''}`;
        const values = plan.features.map((f, j) => {
          const name = featureColumn({ view: plan.view.name, feature: f.name });
          featureColumns.push(name);
          return `CASE WHEN ${valid} THEN r.__f${j} END AS ${sqlIdent(name)}`;
        });
        const on = plan.keys.map((k) => `l.${sqlIdent(k.column)} = r.${sqlIdent(k.column)}`);
        joins.push(
          `LEFT JOIN (SELECT l.__row, ${values.join(', ')} FROM (SELECT *, ${leftOrd} AS __ord FROM __kiban_rows) l ` +
            `ASOF LEFT JOIN (SELECT * FROM (${sql}) WHERE ${window}) r ON ${on.join(' AND ')} AND l.__ord >= r.__ord) j${i} ON e.rowid = j${i}.__row`,
        );
      }
      for (const name of featureColumns)
        if (columns.has(name))
          throw new DataError(
            { file: entities, column: name },
            `the entity file already has a column "${name}", the name of a requested feature's column`,
          );
      const input = [...columns.keys()].map((c) => `e.${sqlIdent(c)}`);
      const query = `SELECT ${[...input, ...featureColumns.map(sqlIdent)].join(', ')} FROM ${table} e ${joins.join(' ')} ORDER BY e.rowid`;
      const rows = await writeAtomically(con, query, output, outFormat);
      return { output, rows, columns: [...columns.keys(), ...featureColumns] };
    });
  }

  async latest(options: LatestOptions): Promise<OfflineWriteResult> {
    const output = resolve(options.output);
    const outFormat = tableFormat(output, 'output');
    const plans = planViews(options.repo, options.features, 'features');
    const keyNames = plans[0]!.keys.map((k) => k.column);
    for (const plan of plans)
      if (plan.keys.map((k) => k.column).join('\0') !== keyNames.join('\0'))
        throw new InvalidArgumentError(
          'features',
          `views "${plans[0]!.view.name}" (${keyNames.join(', ')}) and "${plan.view.name}" (${plan.keys.map((k) => k.column).join(', ')}) have different join keys; an entity-less read takes views of the same entities`,
        );
    if (options.end.getTime() <= options.start.getTime())
      throw new InvalidArgumentError('end', 'must be after start');
    return this.#withConnection(options.signal, async (con) => {
      const keys = keyNames.map(sqlIdent).join(', ');
      const parts: string[] = [];
      const select: string[] = [];
      const featureColumns: string[] = [];
      for (const [i, plan] of plans.entries()) {
        const sql = await latestRowsSql(con, options.repo, plan, options.start, options.end);
        parts.push(i === 0 ? `(${sql}) v0` : `FULL OUTER JOIN (${sql}) v${i} USING (${keys})`);
        for (const [j, f] of plan.features.entries()) {
          const name = featureColumn({ view: plan.view.name, feature: f.name });
          featureColumns.push(name);
          select.push(`v${i}.__f${j} AS ${sqlIdent(name)}`);
        }
      }
      const query = `SELECT ${keys}, ${select.join(', ')} FROM ${parts.join(' ')} ORDER BY ${keys}`;
      const rows = await writeAtomically(con, query, output, outFormat);
      return { output, rows, columns: [...keyNames, ...featureColumns] };
    });
  }

  async *readLatest(options: ReadLatestOptions): AsyncGenerator<LatestRow[]> {
    const view = options.repo.featureViews.get(options.view);
    if (view === undefined)
      throw new InvalidArgumentError('view', `no feature view "${options.view}"`);
    const plan: ViewPlan = { view, keys: viewKeys(options.repo, view), features: view.features };
    const con = await this.#connect(options.signal);
    try {
      const sql = await latestRowsSql(con, options.repo, plan, options.start, options.end);
      const result = await con.stream(sql);
      const k = plan.keys.length;
      for await (const rows of result.yieldRowsJs()) {
        options.signal?.throwIfAborted();
        yield rows.map((r) => ({
          key: r.slice(0, k) as (string | bigint)[],
          eventTimeUs: r[k] as bigint,
          values: r.slice(k + 1),
        }));
      }
    } finally {
      con.closeSync();
    }
  }

  async close(): Promise<void> {
    const instance = this.#instance;
    this.#instance = null;
    if (instance !== null) (await instance).closeSync();
  }

  async #connect(signal: AbortSignal | undefined): Promise<DuckDBConnection> {
    signal?.throwIfAborted();
    if (this.#instance === null) {
      const settings: Record<string, string> = {};
      if (this.options.threads !== undefined) settings.threads = String(this.options.threads);
      if (this.options.memoryLimit !== undefined) settings.memory_limit = this.options.memoryLimit;
      if (this.options.tempDirectory !== undefined)
        settings.temp_directory = this.options.tempDirectory;
      this.#instance = import('@duckdb/node-api').then(({ DuckDBInstance }) =>
        DuckDBInstance.create(':memory:', settings),
      );
    }
    const con = await (await this.#instance).connect();
    // Text timestamps without an offset, and naive TIMESTAMP columns, are UTC.
    await con.run("SET TimeZone = 'UTC'");
    return con;
  }

  async #withConnection<T>(
    signal: AbortSignal | undefined,
    body: (con: DuckDBConnection) => Promise<T>,
  ): Promise<T> {
    const con = await this.#connect(signal);
    const interrupt = () => con.interrupt();
    signal?.addEventListener('abort', interrupt, { once: true });
    try {
      return await body(con);
    } catch (error) {
      signal?.throwIfAborted();
      throw error;
    } finally {
      signal?.removeEventListener('abort', interrupt);
      con.closeSync();
    }
  }
}

/** Writes a query's rows to a temporary sibling of `output`, then renames it into place. */
async function writeAtomically(
  con: DuckDBConnection,
  query: string,
  output: string,
  format: 'csv' | 'parquet',
): Promise<number> {
  await mkdir(dirname(output), { recursive: true });
  const tmp = tempSibling(output);
  try {
    const result = await con.runAndReadAll(copyTo(query, tmp, format));
    const rows = Number(result.getRowsJS()[0]?.[0] ?? 0);
    await rename(tmp, output);
    return rows;
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
