import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { describeSqlType, estimateCsvRows, readCsvHeader, readCsvRejects } from './csv-input.js';
import { readDenseStringIds } from './dense-string-ids.js';
import { allValid, copyDoubles, GrowableColumn } from './duckdb-columns.js';
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

  const wanted = requiredColumns(columns);
  const delimiter = options.delimiter ?? ',';
  // The delimiter is fixed rather than sniffed: a sniffer misreads files whose bad rows are the
  // very thing we must report.
  const csvArgs = `header = true, delim = ${sqlLiteral(delimiter)}, quote = '"', escape = '"'`;
  const source =
    format === 'csv'
      ? `read_csv(${sqlLiteral(path)}, ${csvArgs})`
      : `read_parquet(${sqlLiteral(path)})`;
  const idSql = idType === 'integer' ? 'BIGINT' : 'VARCHAR';
  const sqlType = (role: ColumnRole): string =>
    role === 'user' || role === 'item' ? idSql : 'DOUBLE';
  const plan: ReadPlan = { path, format, wanted, idType, badRows, csvArgs, source, sqlType };

  // A clean file (the usual case) is read in one streamed pass straight into typed arrays; any
  // sign of trouble sends it down the checked path, which finds and words every fault.
  let header: Map<string, string> | undefined;
  const clean = await withConnection(async (con) => {
    header =
      format === 'csv'
        ? await readCsvHeader(path, delimiter)
        : await describeColumns(con, source, path);
    const missing = wanted.filter((c) => !header!.has(c.name));
    if (missing.length > 0) {
      throw new DataError(
        { file: path, column: missing[0].name },
        `missing required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c.name}"`).join(', ')}; the file has ${[...header!.keys()].map((c) => `"${c}"`).join(', ')}`,
      );
    }
    return readClean(con, plan, header!, info.size);
  });
  return clean ?? withConnection((con) => readChecked(con, plan, header!));
}

/** What both read paths need to know. */
interface ReadPlan {
  path: string;
  format: 'csv' | 'parquet';
  wanted: { role: ColumnRole; name: string }[];
  idType: 'integer' | 'string';
  badRows: 'error' | 'skip';
  csvArgs: string;
  /** Table expression reading the file with its own types (Parquet) or sniffed types (CSV). */
  source: string;
  sqlType: (role: ColumnRole) => string;
}

async function withConnection<T>(use: (con: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    return await use(con);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/**
 * The CSV source with every column typed explicitly (unused ones VARCHAR), so that DuckDB's
 * own sniffing of columns we do not read can never reject a row.
 */
function typedCsvSource(plan: ReadPlan, header: Map<string, string>, rejects: boolean): string {
  const types = [...header.keys()].map((name) => {
    const role = plan.wanted.find((c) => c.name === name)?.role;
    return `${sqlLiteral(name)}: '${role === undefined ? 'VARCHAR' : plan.sqlType(role)}'`;
  });
  return `read_csv(${sqlLiteral(plan.path)}, ${plan.csvArgs}, auto_detect = false, columns = {${types.join(', ')}}${rejects ? ', store_rejects = true' : ''})`;
}

/**
 * Streams a file with no faults straight into the log's columns, or returns null at the first
 * sign of one (a row DuckDB refuses, an empty or uncastable value, an id beyond ±2^53, no rows
 * at all) for {@link readChecked} to report exactly.
 */
async function readClean(
  con: DuckDBConnection,
  plan: ReadPlan,
  header: Map<string, string>,
  fileBytes: number,
): Promise<InteractionLog | null> {
  const from = plan.format === 'csv' ? typedCsvSource(plan, header, false) : plan.source;
  try {
    const expected =
      plan.format === 'parquet'
        ? Number((await con.runAndReadAll(`SELECT count(*) FROM ${from}`)).getRowsJS()[0][0])
        : await estimateCsvRows(plan.path, fileBytes);
    const select = `${selectList(plan)} FROM ${from}`;
    // Without ORDER BY, DuckDB still returns rows in file order (preserve_insertion_order).
    const columns =
      plan.idType === 'string'
        ? await readDenseStringIds(
            con,
            select,
            plan.wanted.findIndex((c) => c.role === 'value'),
            plan.wanted.findIndex((c) => c.role === 'timestamp'),
          )
        : await streamColumns(con, select, plan, expected);
    if (columns === null || columns.rows === 0) return null;
    return { source: plan.path, ...columns, skipped: 0, badRows: [] };
  } catch {
    // A strict CSV read stops at the first malformed line; the checked path finds them all.
    return null;
  }
}

/**
 * `SELECT` of the wanted columns, cast to what the log holds. Integer ids travel as DOUBLE:
 * exact up to 2^53, and anything beyond rounds to at least 2^53, which {@link streamColumns}
 * sees.
 */
function selectList(plan: ReadPlan): string {
  const select = plan.wanted.map((c) => {
    const col = sqlIdent(c.name);
    if (c.role === 'user' || c.role === 'item')
      return plan.idType === 'integer'
        ? `CAST(TRY_CAST(${col} AS BIGINT) AS DOUBLE)`
        : `TRY_CAST(${col} AS VARCHAR)`;
    return `TRY_CAST(${col} AS DOUBLE)`;
  });
  return `SELECT ${select.join(', ')}`;
}

type LogColumnsRead = Pick<InteractionLog, 'rows' | 'users' | 'items' | 'values' | 'timestamps'>;

/**
 * Runs `sql` (columns as {@link selectList} makes them) and copies its chunks into typed
 * columns; null when a value is NULL or an integer id is beyond ±2^53.
 */
async function streamColumns(
  con: DuckDBConnection,
  sql: string,
  plan: ReadPlan,
  expected: number,
): Promise<LogColumnsRead | null> {
  const { wanted } = plan;
  const valueAt = wanted.findIndex((c) => c.role === 'value');
  const timeAt = wanted.findIndex((c) => c.role === 'timestamp');
  const numbers = (n: number): Float64Array => new Float64Array(n);
  const intIds = plan.idType === 'integer';
  const idSinks = [
    intIds ? new GrowableColumn(numbers, expected) : null,
    intIds ? new GrowableColumn(numbers, expected) : null,
  ];
  const idStrings: [string[], string[]] = [[], []];
  const values = valueAt >= 0 ? new GrowableColumn((n) => new Float32Array(n), expected) : null;
  const times = timeAt >= 0 ? new GrowableColumn(numbers, expected) : null;
  let rows = 0;
  const result = await con.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    const vectors = wanted.map((_, k) => chunk.getColumnVector(k));
    if (!vectors.every((v) => allValid(v, n))) return null;
    for (let k = 0; k < 2; k++) {
      const sink = idSinks[k];
      if (sink === null) {
        // Strings have no typed form; this is the one per-value read left.
        const out = idStrings[k];
        for (let r = 0; r < n; r++) out.push(vectors[k].getItem(r) as string);
        continue;
      }
      const out = sink.reserve(n);
      copyDoubles(vectors[k], n, out, sink.length);
      for (let r = sink.length; r < sink.length + n; r++)
        if (Math.abs(out[r]) > Number.MAX_SAFE_INTEGER) return null;
      sink.length += n;
    }
    for (const [at, sink] of [
      [valueAt, values],
      [timeAt, times],
    ] as const) {
      if (sink === null) continue;
      copyDoubles(vectors[at], n, sink.reserve(n), sink.length);
      sink.length += n;
    }
    rows += n;
  }
  return {
    rows,
    users: idSinks[0]?.finish() ?? idStrings[0],
    items: idSinks[1]?.finish() ?? idStrings[1],
    values: values?.finish() ?? null,
    timestamps: times?.finish() ?? null,
  };
}

/**
 * Reads the file through a staging table with row numbers, finds every malformed row (with
 * file, line or row, and column), and either throws for the first or drops them all.
 */
async function readChecked(
  con: DuckDBConnection,
  plan: ReadPlan,
  header: Map<string, string>,
): Promise<InteractionLog> {
  const { path, format, wanted, idType, badRows, source, sqlType } = plan;
  let bad: BadRow[] = [];
  let skipped = 0;
  let rejectedLines: number[] = [];

  if (format === 'csv') {
    await con.run(
      `CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS "__row", * FROM ${typedCsvSource(plan, header, true)}`,
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

  const count = await con.runAndReadAll('SELECT count(*) FROM raw');
  const n = Number(count.getRowsJS()[0][0]);
  if (n === 0)
    throw new DataError(
      { file: path },
      skipped > 0
        ? `no valid rows (all ${skipped} rows were malformed)`
        : format === 'csv'
          ? 'the file has a header line but no data rows'
          : 'no data rows',
    );
  if (idType === 'integer') await refuseUnsafeIds(con, wanted, path);
  const columns = await streamColumns(
    con,
    `${selectList(plan)} FROM raw ORDER BY "__row"`,
    plan,
    n,
  );
  if (columns === null) throw new Error('a checked interaction log held a NULL');
  return {
    source: path,
    ...columns,
    skipped,
    badRows: bad.slice(0, MAX_REPORTED_BAD_ROWS),
  };
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

/** Throws for the first integer id (in row order, user before item) beyond ±2^53. */
async function refuseUnsafeIds(
  con: DuckDBConnection,
  wanted: { role: ColumnRole; name: string }[],
  file: string,
): Promise<void> {
  const [user, item] = [sqlIdent(wanted[0].name), sqlIdent(wanted[1].name)];
  const unsafe = (col: string): string => `abs(${col}::HUGEINT) > ${Number.MAX_SAFE_INTEGER}`;
  const found = await con.runAndReadAll(
    `SELECT ${unsafe(user)}, CAST(${user} AS VARCHAR), CAST(${item} AS VARCHAR) FROM raw WHERE ${unsafe(user)} OR ${unsafe(item)} ORDER BY "__row" LIMIT 1`,
  );
  const first = found.getRowsJS()[0];
  if (first === undefined) return;
  const [userFirst, userId, itemId] = first;
  throw new DataError(
    { file, column: wanted[userFirst ? 0 : 1].name },
    `id ${String(userFirst ? userId : itemId)} is beyond ±2^53 and cannot be kept exactly`,
  );
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
