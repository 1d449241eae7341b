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

/** An item table opened by {@link withItemTable}. */
export interface OpenItemTable {
  con: DuckDBConnection;
  /** The table expression to select from ({@link itemTableSource}). */
  source: string;
  /** Column names and DuckDB types, in order. */
  columns: Map<string, string>;
}

/**
 * Runs `read` over an item table (CSV with a header line, or Parquet) in a fresh in-memory
 * DuckDB, closed afterwards, after checking that every column of `required` exists.
 * @throws DataError naming the file (and the column) when it cannot be read or a column is missing.
 */
export async function withItemTable<T>(
  path: string,
  format: 'csv' | 'parquet',
  required: (columns: Map<string, string>) => readonly string[],
  read: (table: OpenItemTable) => Promise<T>,
): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const source = itemTableSource(path, format);
    const columns = await describeColumns(con, source, path);
    const have = [...columns.keys()].map((c) => `"${c}"`).join(', ');
    for (const name of required(columns))
      if (!columns.has(name))
        throw new DataError(
          { file: path, column: name },
          `missing column "${name}"; the file has ${have}`,
        );
    return await read({ con, source, columns });
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
