import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { DuckDBInstance, type DuckDBMaterializedResult } from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { describeSqlType, readCsvHeader, readCsvRejects } from './csv-input.js';
import { describeColumns, sqlIdent, sqlLiteral } from './duckdb-sql.js';
import type { BadRow, InteractionLog } from './interaction-log.js';

/** Which columns of the file hold what. `value` and `timestamp` may be left out. */
export interface LogColumns {
  user: string;
  item: string;
  value?: string | null;
  timestamp?: string | null;
}

/** The MovieLens layout: `userId,movieId,rating,timestamp`. */
export const MOVIELENS_COLUMNS: Readonly<LogColumns> = Object.freeze({
  user: 'userId',
  item: 'movieId',
  value: 'rating',
  timestamp: 'timestamp',
});

/** Options of {@link readInteractionLog}. */
export interface ReadLogOptions {
  /** @defaultValue {@link MOVIELENS_COLUMNS} */
  columns?: LogColumns;
  /**
   * Whether ids are free strings (kept exactly as written: `"007"` and `"7"` are two ids) or
   * integers (checked, returned as numbers). @defaultValue 'string'
   */
  idType?: 'integer' | 'string';
  /**
   * `error` stops at the first malformed row, naming file, line and column; `skip` drops malformed
   * rows and reports how many (and the first few) in the result. @defaultValue 'error'
   */
  badRows?: 'error' | 'skip';
  /** @defaultValue inferred from the extension: `.parquet`/`.pq` is Parquet, anything else CSV */
  format?: 'csv' | 'parquet';
  /** CSV field separator. @defaultValue ',' */
  delimiter?: string;
}

const MAX_REPORTED_BAD_ROWS = 10;

/**
 * Reads an interaction log from a CSV (with a header line) or Parquet file through DuckDB.
 *
 * @throws DataError when the file is missing, lacks a required column, has a malformed row
 *   (unless `badRows: 'skip'`), or has no rows at all.
 * @example
 * const log = await readInteractionLog('datasets/ml-latest-small/splits/train.csv');
 */
export async function readInteractionLog(
  path: string,
  options: ReadLogOptions = {},
): Promise<InteractionLog> {
  const columns = options.columns ?? MOVIELENS_COLUMNS;
  const idType = options.idType ?? 'string';
  const badRows = options.badRows ?? 'error';
  const format = options.format ?? (/^\.(parquet|pq)$/i.test(extname(path)) ? 'parquet' : 'csv');
  if (idType !== 'integer' && idType !== 'string')
    throw new InvalidArgumentError(
      'idType',
      `must be "integer" or "string", got "${String(idType)}"`,
    );
  if (badRows !== 'error' && badRows !== 'skip')
    throw new InvalidArgumentError(
      'badRows',
      `must be "error" or "skip", got "${String(badRows)}"`,
    );

  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file not found');
  if (!info.isFile()) throw new DataError({ file: path }, 'not a regular file');

  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const wanted = requiredColumns(columns);
    // The delimiter is fixed rather than sniffed: a sniffer misreads files whose bad rows are the
    // very thing we must report.
    const csvArgs = `header = true, delim = ${sqlLiteral(options.delimiter ?? ',')}, quote = '"', escape = '"'`;
    const source =
      format === 'csv'
        ? `read_csv(${sqlLiteral(path)}, ${csvArgs})`
        : `read_parquet(${sqlLiteral(path)})`;
    const header =
      format === 'csv'
        ? await readCsvHeader(path, options.delimiter ?? ',')
        : await describeColumns(con, source, path);
    const missing = wanted.filter((c) => !header.has(c.name));
    if (missing.length > 0) {
      throw new DataError(
        { file: path, column: missing[0].name },
        `missing required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c.name}"`).join(', ')}; the file has ${[...header.keys()].map((c) => `"${c}"`).join(', ')}`,
      );
    }
    const idSql = idType === 'integer' ? 'BIGINT' : 'VARCHAR';
    const sqlType = (role: ColumnRole): string =>
      role === 'user' || role === 'item' ? idSql : 'DOUBLE';
    let bad: BadRow[] = [];
    let skipped = 0;
    let rejectedLines: number[] = [];

    if (format === 'csv') {
      // Every column gets an explicit type (unused ones VARCHAR) so that DuckDB's own sniffing
      // of columns we do not read can never reject a row.
      const types = [...header.keys()].map((name) => {
        const role = wanted.find((c) => c.name === name)?.role;
        return `${sqlLiteral(name)}: '${role === undefined ? 'VARCHAR' : sqlType(role)}'`;
      });
      await con.run(
        `CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS "__row", * FROM read_csv(${sqlLiteral(path)}, ${csvArgs}, auto_detect = false, columns = {${types.join(', ')}}, store_rejects = true)`,
      );
      const rejects = await readCsvRejects(con, header.size, MAX_REPORTED_BAD_ROWS);
      rejectedLines = rejects.lines;
      skipped = rejects.lines.length;
      bad = rejects.bad;
    } else {
      const casts = wanted.map(
        (c) => `TRY_CAST(${sqlIdent(c.name)} AS ${sqlType(c.role)}) AS ${sqlIdent(c.name)}`,
      );
      const originals = wanted.map((c) => `${sqlIdent(c.name)} AS ${sqlIdent(`__orig_${c.name}`)}`);
      await con.run(
        `CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS "__row", ${casts.join(', ')}, ${originals.join(', ')} FROM ${source}`,
      );
      // A failed cast leaves NULL where the original was not; report those as cast errors.
      for (const c of wanted) {
        const failed = await con.runAndReadAll(
          `SELECT "__row", CAST(${sqlIdent(`__orig_${c.name}`)} AS VARCHAR) FROM raw WHERE ${sqlIdent(c.name)} IS NULL AND ${sqlIdent(`__orig_${c.name}`)} IS NOT NULL ORDER BY "__row"`,
        );
        for (const [row, text] of failed.getRowsJS()) {
          bad.push({
            row: Number(row),
            column: c.name,
            reason: `"${String(text)}" is not ${describeSqlType(sqlType(c.role))}`,
          });
        }
        skipped += failed.currentRowCount;
        await con.run(
          `DELETE FROM raw WHERE ${sqlIdent(c.name)} IS NULL AND ${sqlIdent(`__orig_${c.name}`)} IS NOT NULL`,
        );
      }
    }

    // Empty fields arrive as NULL; they are as malformed as a wrong type.
    const nullCheck = wanted.map((c) => `${sqlIdent(c.name)} IS NULL`).join(' OR ');
    const nulls = await con.runAndReadAll(
      `SELECT "__row", ${wanted.map((c) => sqlIdent(c.name)).join(', ')} FROM raw WHERE ${nullCheck} ORDER BY "__row"`,
    );
    for (const r of nulls.getRowsJS()) {
      const at = wanted.findIndex((_, i) => r[i + 1] === null);
      const row = Number(r[0]);
      const where = format === 'csv' ? { line: lineOfRow(row, rejectedLines) } : { row };
      bad.push({ ...where, column: wanted[at].name, reason: 'empty value' });
    }
    skipped += nulls.currentRowCount;
    bad.sort((a, b) => (a.line ?? a.row ?? 0) - (b.line ?? b.row ?? 0));
    if (skipped > 0 && badRows === 'error') {
      const first = bad[0];
      throw new DataError(
        { file: path, line: first.line, row: first.row, column: first.column },
        `${first.reason}${first.text === undefined ? '' : ` (line text: ${JSON.stringify(first.text)})`}` +
          `${skipped > 1 ? `; ${skipped} malformed rows in all` : ''}. Pass badRows "skip" (CLI: --skip-bad-rows) to drop them.`,
      );
    }
    if (nulls.currentRowCount > 0) await con.run(`DELETE FROM raw WHERE ${nullCheck}`);

    const select = wanted.map((c) => sqlIdent(c.name)).join(', ');
    const result = await con.run(`SELECT ${select} FROM raw ORDER BY "__row"`);
    const n = result.rowCount;
    if (n === 0)
      throw new DataError(
        { file: path },
        skipped > 0
          ? `no valid rows (all ${skipped} rows were malformed)`
          : format === 'csv'
            ? 'the file has a header line but no data rows'
            : 'no data rows',
      );
    return collect(result, n, wanted, idType, path, skipped, bad.slice(0, MAX_REPORTED_BAD_ROWS));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

type ColumnRole = 'user' | 'item' | 'value' | 'timestamp';

function requiredColumns(columns: LogColumns): { role: ColumnRole; name: string }[] {
  const out: { role: ColumnRole; name: string }[] = [
    { role: 'user', name: columns.user },
    { role: 'item', name: columns.item },
  ];
  if (columns.value) out.push({ role: 'value', name: columns.value });
  if (columns.timestamp) out.push({ role: 'timestamp', name: columns.timestamp });
  for (const c of out) {
    if (typeof c.name !== 'string' || c.name.length === 0)
      throw new InvalidArgumentError(`columns.${c.role}`, 'must be a non-empty column name');
  }
  return out;
}

function collect(
  result: DuckDBMaterializedResult,
  n: number,
  wanted: { role: ColumnRole; name: string }[],
  idType: 'integer' | 'string',
  source: string,
  skipped: number,
  badRows: BadRow[],
): InteractionLog {
  const makeIds = (): Float64Array | string[] =>
    idType === 'integer' ? new Float64Array(n) : new Array<string>(n);
  const users = makeIds();
  const items = makeIds();
  const valueAt = wanted.findIndex((c) => c.role === 'value');
  const timeAt = wanted.findIndex((c) => c.role === 'timestamp');
  const values = valueAt >= 0 ? new Float32Array(n) : null;
  const timestamps = timeAt >= 0 ? new Float64Array(n) : null;
  let at = 0;
  for (let c = 0; c < result.chunkCount; c++) {
    const chunk = result.getChunk(c);
    const u = chunk.getColumnVector(0);
    const i = chunk.getColumnVector(1);
    const v = valueAt >= 0 ? chunk.getColumnVector(valueAt) : null;
    const t = timeAt >= 0 ? chunk.getColumnVector(timeAt) : null;
    for (let r = 0; r < chunk.rowCount; r++, at++) {
      if (idType === 'integer') {
        (users as Float64Array)[at] = toSafeInteger(u.getItem(r) as bigint, source, wanted[0].name);
        (items as Float64Array)[at] = toSafeInteger(i.getItem(r) as bigint, source, wanted[1].name);
      } else {
        (users as string[])[at] = u.getItem(r) as string;
        (items as string[])[at] = i.getItem(r) as string;
      }
      if (v !== null) values![at] = v.getItem(r) as number;
      if (t !== null) timestamps![at] = t.getItem(r) as number;
    }
  }
  return { source, rows: n, users, items, values, timestamps, skipped, badRows };
}

function toSafeInteger(value: bigint, file: string, column: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new DataError({ file, column }, `id ${value} is beyond ±2^53 and cannot be kept exactly`);
  return n;
}

/** Line of the `row`-th accepted data row, given the lines DuckDB rejected (ascending). */
function lineOfRow(row: number, rejectedLines: number[]): number {
  let line = row + 1;
  for (const rejected of rejectedLines) {
    if (rejected <= line) line++;
    else break;
  }
  return line;
}
