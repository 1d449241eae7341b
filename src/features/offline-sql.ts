/**
 * The DuckDB SQL pieces of the offline feature store: reading a CSV/Parquet table or a source,
 * turning a timestamp column of any accepted kind into epoch microseconds, casting columns to
 * feature and key types with errors that name the column, and a view's rows as the joins read them
 * (see offline-store.ts for the semantics).
 *
 * @module
 */
import { extname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { describeColumns, itemTableSource, sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import {
  hasPushLog,
  PUSH_CREATED_TIME_COLUMN,
  PUSH_EVENT_TIME_COLUMN,
  pushLogTable,
} from './push-log.js';
import type {
  FeatureDefinition,
  FeatureReference,
  FeatureRepository,
  FeatureValueType,
  FeatureViewDefinition,
  SourceDefinition,
} from './feature-types.js';

/** The table formats the offline store reads and writes. */
export type TableFormat = 'csv' | 'parquet';

/**
 * The format a file name's extension implies (`.csv`, `.parquet` or `.pq`, any case).
 *
 * @throws InvalidArgumentError naming `field` when the extension is neither.
 */
export function tableFormat(path: string, field: string): TableFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new InvalidArgumentError(
    field,
    `cannot tell the format of "${path}" from its extension; use .csv or .parquet`,
  );
}

/** The table expression of a source: its file (CSV cells as text, cast later) or its query. */
export function sourceTable(source: SourceDefinition): string {
  if (source.query !== undefined) return `(${source.query})`;
  if (source.path === undefined)
    throw new InvalidArgumentError(`sources.${source.name}`, 'has neither a path nor a query');
  return itemTableSource(source.path, tableFormat(source.path, `sources.${source.name}.path`));
}

/** The DuckDB type a feature of `type` is read as. */
export function duckdbType(type: FeatureValueType | 'int64' | 'string'): string {
  switch (type) {
    case 'int64':
      return 'BIGINT';
    case 'int32':
      return 'INTEGER';
    case 'float64':
      return 'DOUBLE';
    case 'float32':
      return 'FLOAT';
    case 'bool':
      return 'BOOLEAN';
    case 'string':
      return 'VARCHAR';
    case 'timestamp':
      return 'TIMESTAMP';
  }
}

/** Where errors about a table's column point. */
export interface ColumnPlace {
  /** The file, or `source NAME` for a query. */
  file: string;
}

/**
 * SQL casting `column` (of DuckDB type `from`) to `type`. A text column is checked first (one scan)
 * so that a cell that is not a `type` becomes a DataError naming the file, the column and the
 * value rather than DuckDB's bare conversion error.
 */
export async function castColumn(
  con: DuckDBConnection,
  table: string,
  column: string,
  from: string,
  type: FeatureValueType | 'int64' | 'string',
  place: ColumnPlace,
): Promise<string> {
  const ident = sqlIdent(column);
  const target = duckdbType(type);
  if (from === target) return ident;
  // An ISO text with an offset is read as an instant, then kept as UTC wall time.
  const cast =
    type === 'timestamp' && from === 'VARCHAR'
      ? `CAST(CAST(${ident} AS TIMESTAMPTZ) AS TIMESTAMP)`
      : `CAST(${ident} AS ${target})`;
  if (from === 'VARCHAR') {
    const tryCast = cast.replaceAll('CAST(', 'TRY_CAST(');
    const bad = (
      await con.runAndReadAll(
        `SELECT ${ident} FROM ${table} WHERE ${ident} IS NOT NULL AND ${tryCast} IS NULL LIMIT 1`,
      )
    ).getRowsJS()[0];
    if (bad !== undefined)
      throw new DataError(
        { file: place.file, column },
        `${JSON.stringify(String(bad[0]))} is not a ${type}`,
      );
  }
  return cast;
}

const INTEGER_TYPES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
]);

/**
 * SQL giving `column` as epoch microseconds (BIGINT, UTC), whatever it holds:
 * - a DuckDB TIMESTAMP (any precision; a naive one is UTC), TIMESTAMPTZ or DATE;
 * - numbers: epoch seconds (fractions kept to the microsecond);
 * - text: epoch seconds when every non-empty cell is a number, else ISO-8601 when every one
 *   parses as a timestamp (`2024-01-31`, `2024-01-31T10:00:00`, `…Z`, `…+02:00`; no offset is
 *   UTC). The connection's TimeZone must be UTC.
 *
 * @throws DataError naming the file and the column: a cell that is neither (with its value), a
 *   column mixing the two, or a type that holds no time.
 */
export async function timestampMicros(
  con: DuckDBConnection,
  table: string,
  column: string,
  type: string,
  place: ColumnPlace,
): Promise<string> {
  const ident = sqlIdent(column);
  if (type.startsWith('TIMESTAMP')) return `epoch_us(${ident})`;
  if (type === 'DATE') return `epoch_us(CAST(${ident} AS TIMESTAMP))`;
  if (INTEGER_TYPES.has(type)) return `(CAST(${ident} AS BIGINT) * 1000000)`;
  if (type === 'FLOAT' || type === 'DOUBLE' || type.startsWith('DECIMAL'))
    return `CAST(round(CAST(${ident} AS DOUBLE) * 1000000) AS BIGINT)`;
  if (type !== 'VARCHAR')
    throw new DataError(
      { file: place.file, column },
      `is of type ${type}; a timestamp column holds timestamps, ISO-8601 text or epoch seconds`,
    );
  const numeric = `TRY_CAST(${ident} AS DOUBLE)`;
  const iso = `TRY_CAST(${ident} AS TIMESTAMPTZ)`;
  const [counts] = (
    await con.runAndReadAll(
      `SELECT count(${ident}), count(${numeric}), count(${iso}) FROM ${table}`,
    )
  ).getRowsJS() as [bigint, bigint, bigint][];
  const [cells, numbers, instants] = counts!;
  if (numbers === cells) return `CAST(round(${numeric} * 1000000) AS BIGINT)`;
  if (instants === cells) return `epoch_us(${iso})`;
  const bad = (
    await con.runAndReadAll(
      `SELECT ${ident} FROM ${table} WHERE ${ident} IS NOT NULL AND ${numeric} IS NULL AND ${iso} IS NULL LIMIT 1`,
    )
  ).getRowsJS()[0];
  throw new DataError(
    { file: place.file, column },
    bad === undefined
      ? 'mixes epoch seconds and ISO-8601 timestamps; use one kind in a column'
      : `${JSON.stringify(String(bad[0]))} is neither an ISO-8601 timestamp nor epoch seconds`,
  );
}

/** `COPY (query) TO path` in the format of `path`'s extension (CSV with a header line). */
export function copyTo(query: string, path: string, format: TableFormat): string {
  return `COPY (${query}) TO ${sqlLiteral(path)} (${format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet'})`;
}

const MIN_BIGINT = '-9223372036854775808';
/** The largest BIGINT, as SQL: the created-time half of an entity row's ordering key. */
export const MAX_BIGINT = '9223372036854775807';

/** A view to read and what to read from it. */
export interface ViewPlan {
  view: FeatureViewDefinition;
  keys: { column: string; type: 'string' | 'int64' }[];
  features: FeatureDefinition[];
}

/** `VIEW__FEATURE`: the output column of a feature. */
export function featureColumn(ref: FeatureReference): string {
  return `${ref.view}__${ref.feature}`;
}

/**
 * The requested features grouped by view, in first-mention order.
 *
 * @throws InvalidArgumentError naming `field`: none, an unknown view or feature, one listed twice.
 */
export function planViews(
  repo: FeatureRepository,
  refs: readonly FeatureReference[],
  field: string,
): ViewPlan[] {
  if (refs.length === 0) throw new InvalidArgumentError(field, 'names no feature');
  const plans = new Map<string, ViewPlan>();
  const seen = new Set<string>();
  for (const ref of refs) {
    const view = repo.featureViews.get(ref.view);
    if (view === undefined)
      throw new InvalidArgumentError(
        field,
        `no feature view "${ref.view}"; the repository has ${[...repo.featureViews.keys()].map((v) => `"${v}"`).join(', ') || 'none'}`,
      );
    const feature = view.features.find((f) => f.name === ref.feature);
    if (feature === undefined)
      throw new InvalidArgumentError(
        field,
        `view "${ref.view}" has no feature "${ref.feature}"; it has ${view.features.map((f) => `"${f.name}"`).join(', ')}`,
      );
    if (seen.has(featureColumn(ref)))
      throw new InvalidArgumentError(field, `"${ref.view}:${ref.feature}" is listed twice`);
    seen.add(featureColumn(ref));
    let plan = plans.get(view.name);
    if (plan === undefined) {
      plan = { view, keys: viewKeys(repo, view), features: [] };
      plans.set(view.name, plan);
    }
    plan.features.push(feature);
  }
  return [...plans.values()];
}

/**
 * A view's join key columns and types, in the order of its entities.
 *
 * @throws NotFoundError when the view names an entity the repository lacks.
 */
export function viewKeys(repo: FeatureRepository, view: FeatureViewDefinition): ViewPlan['keys'] {
  return view.entities.map((name) => {
    const entity = repo.entities.get(name);
    if (entity === undefined) throw new NotFoundError(`entity "${name}" of view "${view.name}"`);
    return { column: entity.joinKey, type: entity.type };
  });
}

/**
 * A SELECT over the view's source giving its join keys (cast, under their own names), `__ts`
 * (event time, epoch µs), `__ord` (the order that picks the winner: event time, then created time)
 * and `__f0…` (the features, cast); followed (UNION ALL) by the rows pushed to the view
 * (`push-log.ts`, `POST /v1/features/push`) when it has any.
 */
export async function featureRows(
  con: DuckDBConnection,
  repo: FeatureRepository,
  plan: ViewPlan,
): Promise<{ sql: string; hasCreated: boolean }> {
  const source = repo.sources.get(plan.view.source);
  if (source === undefined)
    throw new NotFoundError(`source "${plan.view.source}" of view "${plan.view.name}"`);
  const table = sourceTable(source);
  const file = source.path ?? `source ${source.name}`;
  const place = { file };
  const columns = await describeColumns(con, table, file);
  const column = (name: string, what: string): string => {
    const type = columns.get(name);
    if (type === undefined)
      throw new DataError(
        { file, column: name },
        `missing ${what} column "${name}" of view "${plan.view.name}"; the source has ${[...columns.keys()].map((c) => `"${c}"`).join(', ')}`,
      );
    return type;
  };
  const select: string[] = [];
  for (const key of plan.keys)
    select.push(
      `${await castColumn(con, table, key.column, column(key.column, 'join key'), key.type, place)} AS ${sqlIdent(key.column)}`,
    );
  const ts = await timestampMicros(
    con,
    table,
    source.timestamp,
    column(source.timestamp, 'event-time'),
    place,
  );
  select.push(`${ts} AS __ts`);
  const created = source.createdTimestamp;
  // Rows pushed through POST /v1/features/push (push-log.ts) are rows of the view too; they carry
  // a created time, so with them the order key is the (event, created) struct for every row.
  const pushed = await hasPushLog(repo, plan.view.name);
  if (created === undefined && !pushed) select.push('__ts AS __ord');
  else {
    const c =
      created === undefined
        ? MIN_BIGINT
        : await timestampMicros(con, table, created, column(created, 'created-time'), place);
    // One key ordered by event time, then created time (null = the lowest): the ASOF join takes
    // one inequality. A struct sorts lexicographically and costs less than a HUGEINT
    // (ts << 64 | created): about 5.5 against 6.3 CPU seconds at 10M rows (bench/features.ts).
    select.push(
      `CASE WHEN ${ts} IS NOT NULL THEN struct_pack(t := ${ts}, c := coalesce(${c}, ${MIN_BIGINT})) END AS __ord`,
    );
  }
  for (const [i, f] of plan.features.entries())
    select.push(
      `${await castColumn(con, table, f.name, column(f.name, 'feature'), f.type, place)} AS __f${i}`,
    );
  // __ts is referenced by __ord: DuckDB resolves aliases of the same SELECT list. Rows with no
  // event time stay in (callers drop them): DuckDB's ASOF join pairs a null time with a null.
  let sql = `SELECT ${select.join(', ')} FROM ${table}`;
  if (pushed) {
    const ev = sqlIdent(PUSH_EVENT_TIME_COLUMN);
    const log = [
      ...plan.keys.map((k) => sqlIdent(k.column)),
      `${ev} AS __ts`,
      `CASE WHEN ${ev} IS NOT NULL THEN struct_pack(t := ${ev}, c := coalesce(${sqlIdent(PUSH_CREATED_TIME_COLUMN)}, ${MIN_BIGINT})) END AS __ord`,
      ...plan.features.map((f, i) => `${sqlIdent(f.name)} AS __f${i}`),
    ];
    sql += ` UNION ALL SELECT ${log.join(', ')} FROM ${pushLogTable(repo, plan.view)}`;
  }
  return { sql, hasCreated: created !== undefined || pushed };
}

/** Epoch microseconds of a Date, as a SQL literal. */
function micros(date: Date, field: string): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(field, 'is not a valid time');
  return `${BigInt(ms) * 1000n}`;
}

/**
 * The per-key latest row of a view in a window: keys, `__ts`, `__f0…` (see {@link featureRows}).
 */
export async function latestRowsSql(
  con: DuckDBConnection,
  repo: FeatureRepository,
  plan: ViewPlan,
  start: Date,
  end: Date,
): Promise<string> {
  const { sql } = await featureRows(con, repo, plan);
  const keys = plan.keys.map((k) => sqlIdent(k.column)).join(', ');
  const fields = ['__ts', ...plan.features.map((_, i) => `__f${i}`)];
  return (
    `SELECT ${keys}, ${fields.map((f) => `__v.${f} AS ${f}`).join(', ')} FROM (` +
    `SELECT ${keys}, arg_max(struct_pack(${fields.map((f) => `${f} := ${f}`).join(', ')}), __ord) AS __v ` +
    `FROM (${sql}) WHERE __ts >= ${micros(start, 'start')} AND __ts < ${micros(end, 'end')}${plan.keys.map((k) => ` AND ${sqlIdent(k.column)} IS NOT NULL`).join('')} GROUP BY ALL)`
  );
}
