/**
 * DuckDB sources of `sources.ts`: CSV and Parquet files, and queries. `sources.ts` loads this
 * module only when a stage reads one of them, because `@duckdb/node-api` takes about half a
 * second to load and every stage worker imports `sources.ts`.
 *
 * @module
 */
import {
  DuckDBInstance,
  DuckDBTypeId,
  createDuckDBValueConverter,
  arrayFromArrayValue,
  arrayFromListValue,
  booleanFromValue,
  bytesFromBlobValue,
  nullConverter,
  numberFromValue,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue,
  stringFromValue,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  type DuckDBValueConverter,
} from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { SourcePartition } from './source.js';
import { numbered, splitEvenly, type FileLocator, type QueryLocator } from './sources-common.js';

// ───────────────────────────── files ─────────────────────────────

/** Partitions of a single CSV or Parquet file (directories are listed by `sources-files.ts`). */
export async function planDuckDbFile(
  kind: 'csv' | 'parquet',
  path: string,
  target: number,
): Promise<SourcePartition[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const schema = kind === 'csv' ? await sniffCsv(con, path) : undefined;
    if (target === 1)
      return numbered([
        { label: path, locator: { file: path, ...(schema && { schema }) } satisfies FileLocator },
      ]);
    const countSql =
      kind === 'parquet'
        ? `SELECT CAST(sum(num_rows) AS DOUBLE) FROM parquet_file_metadata(${sqlLiteral(path)})`
        : `SELECT CAST(count(*) AS DOUBLE) FROM ${csvTable(path, schema!)}`;
    const rows = Number((await runOrDataError(con, countSql, path)).getRowsJS()[0][0]);
    return numbered(
      splitEvenly(rows, target).map(([start, end]) => ({
        label: `${path} rows ${start}–${end}`,
        locator: {
          file: path,
          rows: { start, end },
          ...(schema && { schema }),
        } satisfies FileLocator,
      })),
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Reads one partition of a CSV or Parquet file. */
export function readDuckDbFile(
  kind: 'csv' | 'parquet',
  loc: FileLocator,
  columns: string[] | undefined,
  batchSize: number,
): AsyncGenerator<unknown[]> {
  return readDuckDb((con) => fileQuery(con, kind, loc, columns), batchSize, loc.file);
}

/** Reads one partition of a query. */
export function readQuery(
  sql: string,
  loc: QueryLocator,
  batchSize: number,
): AsyncGenerator<unknown[]> {
  const range =
    loc.limit === undefined ? '' : ` LIMIT ${Number(loc.limit)} OFFSET ${Number(loc.offset ?? 0)}`;
  return readDuckDb(async () => `SELECT * FROM (${trimSql(sql)})${range}`, batchSize, undefined);
}

// The dialect is fixed rather than sniffed: a sniffer misreads the files whose bad rows are the
// very thing an error must point at (see read-interaction-log.ts). Types are still sniffed.
const CSV_DIALECT = `header = true, delim = ',', quote = '"', escape = '"'`;

/** Column names and types of a CSV file; malformed rows are skipped while sniffing so they are reported when read. */
async function sniffCsv(con: DuckDBConnection, file: string): Promise<[string, string][]> {
  const reader = await runOrDataError(
    con,
    `DESCRIBE SELECT * FROM read_csv(${sqlLiteral(file)}, ${CSV_DIALECT}, ignore_errors = true)`,
    file,
  );
  return reader.getRowsJS().map((r) => [String(r[0]), String(r[1])]);
}

function csvTable(file: string, schema: [string, string][]): string {
  const columns = schema
    .map(([name, type]) => `${sqlLiteral(name)}: ${sqlLiteral(type)}`)
    .join(', ');
  return `read_csv(${sqlLiteral(file)}, ${CSV_DIALECT}, auto_detect = false, columns = {${columns}})`;
}

async function fileQuery(
  con: DuckDBConnection,
  kind: 'csv' | 'parquet',
  loc: FileLocator,
  columns: string[] | undefined,
): Promise<string> {
  let table: string;
  let available: string[];
  let where = '';
  let range = '';
  if (kind === 'csv') {
    const schema = loc.schema ?? (await sniffCsv(con, loc.file));
    table = csvTable(loc.file, schema);
    available = schema.map(([name]) => name);
    if (loc.rows) range = ` LIMIT ${loc.rows.end - loc.rows.start} OFFSET ${loc.rows.start}`;
  } else {
    // file_row_number lets DuckDB skip row groups outside the range instead of decoding them.
    table = `read_parquet(${sqlLiteral(loc.file)}${loc.rows ? ', file_row_number = true' : ''})`;
    available = (
      await runOrDataError(
        con,
        `DESCRIBE SELECT * FROM read_parquet(${sqlLiteral(loc.file)})`,
        loc.file,
      )
    )
      .getRowsJS()
      .map((r) => String(r[0]));
    if (loc.rows)
      where = ` WHERE file_row_number >= ${loc.rows.start} AND file_row_number < ${loc.rows.end}`;
  }
  const wanted = columns ?? available;
  const missing = wanted.find((c) => !available.includes(c));
  if (missing !== undefined) {
    throw new DataError(
      { file: loc.file, column: missing },
      `no such column; the file has ${available.map((c) => `"${c}"`).join(', ')}`,
    );
  }
  return `SELECT ${wanted.map(sqlIdent).join(', ')} FROM ${table}${where}${range}`;
}

// ───────────────────────────── DuckDB ─────────────────────────────

/** Streams the rows of the query `build` returns as batches of plain objects. */
async function* readDuckDb(
  build: (con: DuckDBConnection) => Promise<string>,
  batchSize: number,
  file: string | undefined,
): AsyncGenerator<unknown[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const sql = await build(con);
    const result = await con.stream(sql).catch((cause: unknown) => {
      throw duckDbError(cause, file);
    });
    const names = result.deduplicatedColumnNames();
    const converters = result.columnTypes().map(columnConverter);
    let batch: Record<string, unknown>[] = [];
    for (;;) {
      const chunk = await result.fetchChunk().catch((cause: unknown) => {
        throw duckDbError(cause, file);
      });
      if (chunk === null || chunk.rowCount === 0) break;
      const n = chunk.rowCount;
      const rows: Record<string, unknown>[] = new Array(n);
      for (let r = 0; r < n; r++) rows[r] = {};
      for (let c = 0; c < names.length; c++) {
        const vector = chunk.getColumnVector(c);
        const convert = converters[c];
        const name = names[c];
        for (let r = 0; r < n; r++) {
          const v = vector.getItem(r);
          rows[r][name] = v === null ? null : convert(v);
        }
      }
      for (const row of rows) {
        batch.push(row);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** A DuckDB failure as a {@link DataError} naming the file and, for CSV, the line. */
function duckDbError(cause: unknown, file: string | undefined): Error {
  const message = (cause as Error).message ?? String(cause);
  const lines = message.split('\n').filter((l) => l.trim().length > 0);
  const lineNo = /Line: (\d+)/.exec(message);
  const detail = lineNo ? lines.slice(1, 3).join('; ') : lines[0];
  if (file === undefined)
    return new InvalidArgumentError('source.sql', `the query failed: ${detail}`, { cause });
  return new DataError({ file, ...(lineNo && { line: Number(lineNo[1]) }) }, detail, { cause });
}

async function runOrDataError(con: DuckDBConnection, sql: string, file: string) {
  try {
    return await con.runAndReadAll(sql);
  } catch (cause) {
    throw duckDbError(cause, file);
  }
}

const safeInteger = (v: DuckDBValue): unknown => {
  const n = Number(v as bigint);
  return Number.isSafeInteger(n) ? n : String(v);
};
const isoFromMicros = (micros: bigint): string => {
  const millis = Number(micros / 1000n) - (micros < 0n && micros % 1000n !== 0n ? 1 : 0);
  const date = new Date(millis);
  return Number.isNaN(date.getTime()) ? String(micros) : date.toISOString();
};
const iso =
  (unitMicros: bigint, divide = false) =>
  (v: DuckDBValue): unknown => {
    const raw = v as unknown as {
      micros?: bigint;
      millis?: bigint;
      seconds?: bigint;
      nanos?: bigint;
    };
    const value = raw.micros ?? raw.millis ?? raw.seconds ?? raw.nanos ?? 0n;
    return isoFromMicros(divide ? value / unitMicros : value * unitMicros);
  };

/** Nested values (list items, struct fields) go through the library's walker with these leaves. */
const NESTED: DuckDBValueConverter<unknown> = createDuckDBValueConverter<unknown>(
  Object.fromEntries(
    Object.values(DuckDBTypeId)
      .filter((id): id is DuckDBTypeId => typeof id === 'number')
      .map((id) => [id, leafConverter(id)]),
  ) as Record<DuckDBTypeId, DuckDBValueConverter<unknown>>,
);

function leafConverter(id: DuckDBTypeId): DuckDBValueConverter<unknown> {
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
      return booleanFromValue;
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return numberFromValue;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return safeInteger;
    case DuckDBTypeId.DECIMAL:
      return (v) => (v as unknown as { toDouble(): number }).toDouble();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return iso(1n);
    case DuckDBTypeId.TIMESTAMP_S:
      return iso(1_000_000n);
    case DuckDBTypeId.TIMESTAMP_MS:
      return iso(1000n);
    case DuckDBTypeId.TIMESTAMP_NS:
      return iso(1000n, true);
    case DuckDBTypeId.BLOB:
      return bytesFromBlobValue;
    case DuckDBTypeId.LIST:
      return arrayFromListValue;
    case DuckDBTypeId.ARRAY:
      return arrayFromArrayValue;
    case DuckDBTypeId.STRUCT:
      return objectFromStructValue;
    case DuckDBTypeId.MAP:
      return objectArrayFromMapValue;
    case DuckDBTypeId.UNION:
      return objectFromUnionValue;
    case DuckDBTypeId.SQLNULL:
      return nullConverter;
    default:
      return stringFromValue;
  }
}

/** The conversion of one result column; the common scalar types skip the generic walker. */
function columnConverter(type: DuckDBType): (v: DuckDBValue) => unknown {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.VARCHAR:
      return (v) => v;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return safeInteger;
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return iso(1n);
    default:
      return (v) => NESTED(v, type, NESTED);
  }
}

// ───────────────────────────── query ─────────────────────────────

function trimSql(sql: string): string {
  if (typeof sql !== 'string' || sql.trim().length === 0)
    throw new InvalidArgumentError('source.sql', 'must be a non-empty SQL query');
  return sql.trim().replace(/;+\s*$/, '');
}

export async function planQuery(sql: string, target: number): Promise<SourcePartition[]> {
  const inner = trimSql(sql);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const run = (q: string) =>
      con.runAndReadAll(q).catch((cause: unknown) => {
        throw duckDbError(cause, undefined);
      });
    if (target === 1) {
      await run(`DESCRIBE SELECT * FROM (${inner})`);
      return numbered([{ label: 'query', locator: {} satisfies QueryLocator }]);
    }
    const rows = Number(
      (await run(`SELECT CAST(count(*) AS DOUBLE) FROM (${inner})`)).getRowsJS()[0][0],
    );
    return numbered(
      splitEvenly(rows, target).map(([start, end]) => ({
        label: `query rows ${start}–${end}`,
        locator: { offset: start, limit: end - start } satisfies QueryLocator,
      })),
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
