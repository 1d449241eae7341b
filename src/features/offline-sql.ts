/**
 * The DuckDB SQL pieces of the offline feature store: reading a CSV/Parquet table or a source,
 * turning a timestamp column of any accepted kind into epoch microseconds, and casting columns to
 * feature and key types with errors that name the column.
 *
 * @module
 */
import { extname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { itemTableSource, sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { FeatureValueType, SourceDefinition } from './feature-types.js';

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
