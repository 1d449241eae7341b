import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../core/errors.js';

/** A SQL string literal: `it's` → `'it''s'`. */
export function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier: `my "col"` → `"my ""col"""`. */
export function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/**
 * The table expression reading an item table: a CSV with a header line, comma-separated, every
 * column as text (its cells are checked after), or a Parquet file with its own types.
 */
export function itemTableSource(path: string, format: 'csv' | 'parquet'): string {
  return format === 'csv'
    ? `read_csv(${sqlLiteral(path)}, header = true, delim = ',', quote = '"', escape = '"', all_varchar = true)`
    : `read_parquet(${sqlLiteral(path)})`;
}

/**
 * Column names and DuckDB types of a table expression such as `read_parquet('x.parquet')`, in
 * order. A file DuckDB cannot read becomes a {@link DataError} naming `file`.
 */
export async function describeColumns(
  con: DuckDBConnection,
  source: string,
  file: string,
): Promise<Map<string, string>> {
  try {
    const reader = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    return new Map(reader.getRowsJS().map((r) => [String(r[0]), String(r[1])]));
  } catch (cause) {
    throw new DataError(
      { file },
      `cannot be read as a table: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    );
  }
}
