import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
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
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import { decodeItems } from '../storage/serving-codec.js';
import type { SourcePartition, SourceSpec } from './source.js';

/** Options of {@link planPartitions}. */
export interface PlanOptions {
  /**
   * How many partitions to cut a single file, a query, a serving namespace or inline records
   * into (fewer when there are fewer rows). A directory always gives one partition per file.
   * @defaultValue 1
   */
  target?: number;
}

/** Options of {@link readPartition}. */
export interface ReadPartitionOptions {
  /** Most records per yielded batch. @defaultValue 1024 */
  batchSize?: number;
}

/** Defaults of {@link PlanOptions} and {@link ReadPartitionOptions}. */
export const SOURCE_DEFAULTS = Object.freeze({ target: 1, batchSize: 1024 });

type FileKind = 'csv' | 'jsonl' | 'parquet';

/** Which file names a directory partition of each kind matches. */
const FILE_PATTERNS: Record<FileKind, RegExp> = {
  csv: /\.csv(\.gz)?$/i,
  jsonl: /\.(jsonl|ndjson)(\.gz)?$/i,
  parquet: /\.parquet$/i,
};

/** Locator of a file partition: the whole file, a range of its rows, or a byte range of whole lines. */
interface FileLocator {
  file: string;
  /** 0-based data rows `[start, end)`; absent: every row. */
  rows?: { start: number; end: number };
  /** JSONL only: bytes `[start, end)` that begin and end at line boundaries; `line` is the first line's number. */
  bytes?: { start: number; end: number; line: number };
  /** CSV only: column names and DuckDB types, sniffed once at planning so every partition agrees. */
  schema?: [string, string][];
}

/** Locator of a query partition: rows `[offset, offset + limit)` of the query, or all of them. */
interface QueryLocator {
  offset?: number;
  limit?: number;
}

/** Locator of a serving partition: the version planned against (pinned) and a share of its keys. */
type ServingLocator =
  | { backend: 'sqlite'; version: string; after: string | null; upTo: string | null }
  | { backend: 'redis'; version: string; shard: number; shards: number };

/** Locator of an inline-records partition: indices `[start, end)`. */
interface RecordsLocator {
  start: number;
  end: number;
}

/**
 * Cuts a source into partitions, each readable on its own by {@link readPartition} in any thread
 * or process (locators are JSON). Runs once, in the coordinator.
 *
 * - A directory gives one partition per matching file (non-recursive; names starting with `.` or
 *   `_` are skipped, as Spark's `_SUCCESS` and hidden temporaries), in name order.
 * - A single Parquet file gives `target` row ranges, sized from the footer's row count (no scan);
 *   each partition reads only the row groups its range overlaps.
 * - A single plain JSONL file gives `target` byte ranges cut at line boundaries (one pass over
 *   the bytes to find them and their line numbers); each partition reads only its bytes.
 * - A single CSV or gzipped file gives `target` row ranges after one counting pass. Partition k
 *   parses the file from its start up to its range's end (CSV may quote newlines, and gzip
 *   cannot seek), so reading all partitions costs about `(target + 1) / 2` full parses: prefer a
 *   directory of files, or Parquet, for wide parallelism over large inputs.
 * - A query gives `target` LIMIT/OFFSET ranges after one `count(*)`: every partition runs the
 *   query, so it must be deterministic (same rows in the same order every time; give it an
 *   `ORDER BY` when in doubt). Materialising it once to a temporary file was rejected: the
 *   contract has no hook to remove that file when the stage ends.
 * - A serving namespace gives `target` shares of the current version's keys, pinned to that
 *   version (see {@link listServingKeys}).
 * - Inline records give `target` contiguous slices.
 *
 * @throws DataError when a path is missing, a directory holds no matching file, or a file cannot be read.
 * @example
 * const parts = await planPartitions({ kind: 'parquet', path: 'events.parquet' }, { target: 8 });
 */
export async function planPartitions(spec: SourceSpec, options: PlanOptions = {}): Promise<SourcePartition[]> {
  const target = options.target ?? SOURCE_DEFAULTS.target;
  if (!Number.isSafeInteger(target) || target < 1) throw new InvalidArgumentError('target', `must be an integer ≥ 1, got ${String(target)}`);
  switch (spec?.kind) {
    case 'csv':
    case 'jsonl':
    case 'parquet':
      return planFiles(spec.kind, spec.path, target);
    case 'query':
      return planQuery(spec.sql, target);
    case 'serving':
      return planServing(spec.url, spec.namespace, target);
    case 'records': {
      if (!Array.isArray(spec.records)) throw new InvalidArgumentError('source.records', 'must be an array');
      return numbered(
        splitEvenly(spec.records.length, target).map(([start, end]) => ({ label: `records ${start}–${end}`, locator: { start, end } satisfies RecordsLocator })),
      );
    }
    default:
      throw new InvalidArgumentError('source.kind', `must be csv, jsonl, parquet, query, serving or records, got ${JSON.stringify((spec as { kind?: unknown })?.kind)}`);
  }
}

/**
 * Reads one partition planned by {@link planPartitions}, streaming: batches of at most
 * `batchSize` records, each a plain object keyed by column (JSONL lines and inline records
 * come as they are). DuckDB values become JSON-like values: BIGINT and larger integers a number
 * when within ±2^53 and a decimal string beyond, DECIMAL a number, timestamps ISO-8601 strings
 * (millisecond precision, naive ones read as UTC), dates `YYYY-MM-DD`, lists arrays, structs
 * objects, maps `[{ key, value }]`, BLOBs `Uint8Array`. DuckDB hands over one chunk (2048 rows)
 * at a time, so memory stays bounded whatever the file size.
 *
 * @throws DataError naming the file and the line (CSV, JSONL) of a malformed row.
 */
export async function* readPartition(spec: SourceSpec, partition: SourcePartition, options: ReadPartitionOptions = {}): AsyncIterable<unknown[]> {
  const batchSize = options.batchSize ?? SOURCE_DEFAULTS.batchSize;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize', `must be an integer ≥ 1, got ${String(batchSize)}`);
  switch (spec.kind) {
    case 'jsonl':
      yield* readJsonl(partition.locator as FileLocator, spec.columns, batchSize);
      return;
    case 'csv':
    case 'parquet': {
      const loc = partition.locator as FileLocator;
      yield* readDuckDb((con) => fileQuery(con, spec.kind as 'csv' | 'parquet', loc, spec.columns), batchSize, loc.file);
      return;
    }
    case 'query': {
      const loc = partition.locator as QueryLocator;
      const range = loc.limit === undefined ? '' : ` LIMIT ${Number(loc.limit)} OFFSET ${Number(loc.offset ?? 0)}`;
      yield* readDuckDb(async () => `SELECT * FROM (${trimSql(spec.sql)})${range}`, batchSize, undefined);
      return;
    }
    case 'serving':
      yield* readServing(spec.url, spec.namespace, partition.locator as ServingLocator, batchSize);
      return;
    case 'records': {
      const { start, end } = partition.locator as RecordsLocator;
      for (let at = start; at < end; at += batchSize) yield spec.records.slice(at, Math.min(end, at + batchSize));
      return;
    }
    default:
      throw new InvalidArgumentError('source.kind', `unknown source kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}

// ───────────────────────────── files ─────────────────────────────

async function planFiles(kind: FileKind, path: string, target: number): Promise<SourcePartition[]> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('source.path', 'must be a non-empty path');
  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file or directory not found');
  if (info.isDirectory()) {
    const names = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isFile() && !/^[._]/.test(e.name) && FILE_PATTERNS[kind].test(e.name))
      .map((e) => e.name)
      .sort();
    if (names.length === 0) throw new DataError({ file: path }, `the directory holds no ${kind} files (${FILE_PATTERNS[kind].source})`);
    return numbered(names.map((name) => ({ label: name, locator: { file: join(path, name) } satisfies FileLocator })));
  }
  if (!info.isFile()) throw new DataError({ file: path }, 'not a regular file or directory');
  if (kind === 'jsonl') return target === 1 ? numbered([{ label: path, locator: { file: path } }]) : planJsonlFile(path, info.size, target);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const schema = kind === 'csv' ? await sniffCsv(con, path) : undefined;
    if (target === 1) return numbered([{ label: path, locator: { file: path, ...(schema && { schema }) } satisfies FileLocator }]);
    const countSql =
      kind === 'parquet'
        ? `SELECT CAST(sum(num_rows) AS DOUBLE) FROM parquet_file_metadata(${sqlLiteral(path)})`
        : `SELECT CAST(count(*) AS DOUBLE) FROM ${csvTable(path, schema!)}`;
    const rows = Number((await runOrDataError(con, countSql, path)).getRowsJS()[0][0]);
    return numbered(
      splitEvenly(rows, target).map(([start, end]) => ({ label: `${path} rows ${start}–${end}`, locator: { file: path, rows: { start, end }, ...(schema && { schema }) } satisfies FileLocator })),
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

// The dialect is fixed rather than sniffed: a sniffer misreads the files whose bad rows are the
// very thing an error must point at (see read-interaction-log.ts). Types are still sniffed.
const CSV_DIALECT = `header = true, delim = ',', quote = '"', escape = '"'`;

/** Column names and types of a CSV file; malformed rows are skipped while sniffing so they are reported when read. */
async function sniffCsv(con: DuckDBConnection, file: string): Promise<[string, string][]> {
  const reader = await runOrDataError(con, `DESCRIBE SELECT * FROM read_csv(${sqlLiteral(file)}, ${CSV_DIALECT}, ignore_errors = true)`, file);
  return reader.getRowsJS().map((r) => [String(r[0]), String(r[1])]);
}

function csvTable(file: string, schema: [string, string][]): string {
  const columns = schema.map(([name, type]) => `${sqlLiteral(name)}: ${sqlLiteral(type)}`).join(', ');
  return `read_csv(${sqlLiteral(file)}, ${CSV_DIALECT}, auto_detect = false, columns = {${columns}})`;
}

async function fileQuery(con: DuckDBConnection, kind: 'csv' | 'parquet', loc: FileLocator, columns: string[] | undefined): Promise<string> {
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
    available = (await runOrDataError(con, `DESCRIBE SELECT * FROM read_parquet(${sqlLiteral(loc.file)})`, loc.file)).getRowsJS().map((r) => String(r[0]));
    if (loc.rows) where = ` WHERE file_row_number >= ${loc.rows.start} AND file_row_number < ${loc.rows.end}`;
  }
  const wanted = columns ?? available;
  const missing = wanted.find((c) => !available.includes(c));
  if (missing !== undefined) {
    throw new DataError({ file: loc.file, column: missing }, `no such column; the file has ${available.map((c) => `"${c}"`).join(', ')}`);
  }
  return `SELECT ${wanted.map(sqlIdent).join(', ')} FROM ${table}${where}${range}`;
}

/** Byte ranges of a plain JSONL file cut at the first line start at or after each even split. */
async function planJsonlFile(file: string, size: number, target: number): Promise<SourcePartition[]> {
  if (/\.gz$/i.test(file)) {
    // gzip cannot seek: count the records once, then each partition skips to its own.
    let records = 0;
    for await (const _ of jsonlLines(file, {})) records++;
    return numbered(splitEvenly(records, target).map(([start, end]) => ({ label: `${file} records ${start}–${end}`, locator: { file, rows: { start, end } } satisfies FileLocator })));
  }
  const cuts: { start: number; line: number }[] = [{ start: 0, line: 1 }];
  let goal = Math.ceil(size / target);
  let offset = 0;
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    // Past the last cut, the line numbers no longer matter.
    if (cuts.length >= target) break;
    for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) {
      lines++;
      const nextStart = offset + at + 1;
      if (nextStart >= goal && nextStart < size && cuts.length < target) {
        cuts.push({ start: nextStart, line: lines + 1 });
        goal = Math.ceil((size * (cuts.length)) / target);
        if (goal <= nextStart) goal = nextStart + 1;
      }
    }
    offset += chunk.length;
  }
  return numbered(
    cuts.map((cut, i) => {
      const end = i + 1 < cuts.length ? cuts[i + 1].start : size;
      return { label: `${file} bytes ${cut.start}–${end}`, locator: { file, bytes: { start: cut.start, end, line: cut.line } } satisfies FileLocator };
    }),
  );
}

/** Non-blank lines of a JSONL file (or byte range) with their 1-based line numbers. */
async function* jsonlLines(file: string, loc: Pick<FileLocator, 'bytes'>): AsyncGenerator<[text: string, line: number]> {
  const range = loc.bytes;
  if (range && range.end <= range.start) return;
  const raw = createReadStream(file, { highWaterMark: 1 << 20, ...(range && { start: range.start, end: range.end - 1 }) });
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  await opened.catch((cause: unknown) => {
    throw new DataError({ file }, `cannot be opened: ${(cause as Error).message}`, { cause });
  });
  const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  // pipe() does not forward the source's errors; the loop below must see them.
  if (stream !== raw) raw.once('error', (error) => stream.destroy(error));
  stream.setEncoding('utf8');
  let line = range?.line ?? 1;
  let rest = '';
  try {
    for await (const text of stream as AsyncIterable<string>) {
      const parts = (rest + text).split('\n');
      rest = parts.pop()!;
      for (const part of parts) {
        if (part.trim().length > 0) yield [part, line];
        line++;
      }
    }
  } catch (cause) {
    if (cause instanceof DataError) throw cause;
    throw new DataError({ file, line }, `cannot be read: ${(cause as Error).message}`, { cause });
  } finally {
    raw.destroy();
  }
  if (rest.trim().length > 0) yield [rest, line];
}

async function* readJsonl(loc: FileLocator, columns: string[] | undefined, batchSize: number): AsyncGenerator<unknown[]> {
  let batch: unknown[] = [];
  let index = 0;
  for await (const [text, line] of jsonlLines(loc.file, loc)) {
    const at = index++;
    if (loc.rows && at < loc.rows.start) continue;
    if (loc.rows && at >= loc.rows.end) break;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (cause) {
      throw new DataError({ file: loc.file, line }, `not valid JSON (${(cause as Error).message}): ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`, { cause });
    }
    if (columns !== undefined) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new DataError({ file: loc.file, line }, 'is not a JSON object, so columns cannot be picked from it');
      const picked: Record<string, unknown> = {};
      for (const c of columns) picked[c] = (record as Record<string, unknown>)[c] ?? null;
      record = picked;
    }
    batch.push(record);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

// ───────────────────────────── DuckDB ─────────────────────────────

/** Streams the rows of the query `build` returns as batches of plain objects. */
async function* readDuckDb(build: (con: DuckDBConnection) => Promise<string>, batchSize: number, file: string | undefined): AsyncGenerator<unknown[]> {
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
  if (file === undefined) return new InvalidArgumentError('source.sql', `the query failed: ${detail}`, { cause });
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
    const raw = (v as unknown as { micros?: bigint; millis?: bigint; seconds?: bigint; nanos?: bigint });
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
  if (typeof sql !== 'string' || sql.trim().length === 0) throw new InvalidArgumentError('source.sql', 'must be a non-empty SQL query');
  return sql.trim().replace(/;+\s*$/, '');
}

async function planQuery(sql: string, target: number): Promise<SourcePartition[]> {
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
    const rows = Number((await run(`SELECT CAST(count(*) AS DOUBLE) FROM (${inner})`)).getRowsJS()[0][0]);
    return numbered(splitEvenly(rows, target).map(([start, end]) => ({ label: `query rows ${start}–${end}`, locator: { offset: start, limit: end - start } satisfies QueryLocator })));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

// ───────────────────────────── serving ─────────────────────────────

/**
 * The keys of `namespace` in the current version of the serving store at `url`, in key order
 * for SQLite (SCAN order for Redis), and that version. {@link ServingStore} has no way to list
 * keys, so this reads each backend's layout directly (read-only, without changing the store
 * classes): the `serving_*` tables of the SQLite file, the `{prefix}v:{version}:{list}:` keys of
 * Redis. A `memory:` store is private to the process that opened it, so it cannot be listed.
 * Keys come back in their stored (string) form.
 */
export async function listServingKeys(url: string, namespace: string): Promise<{ version: string | null; keys: string[] }> {
  const backend = servingBackend(url);
  if (backend.kind === 'sqlite') {
    const db = openSqliteReadOnly(backend.path);
    try {
      const current = sqliteCurrent(db);
      if (current === null) return { version: null, keys: [] };
      const keys = db.prepare<[number, string], string>('SELECT key FROM serving_lists WHERE seq = ? AND list = ? ORDER BY key').pluck().all(current.seq, namespace);
      return { version: current.version, keys };
    } finally {
      db.close();
    }
  }
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const version = await redis.hget(`${backend.prefix}current`, 'version');
    if (version === null) return { version: null, keys: [] };
    const keys: string[] = [];
    for await (const key of redisScanKeys(redis, `${backend.prefix}v:${version}:${namespace}:`)) keys.push(key);
    return { version, keys };
  } finally {
    redis.disconnect();
  }
}

type ServingBackend = { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string; prefix: string };

function servingBackend(url: string): ServingBackend {
  if (typeof url === 'string' && url.startsWith('sqlite:') && url.length > 'sqlite:'.length && url !== 'sqlite::memory:') return { kind: 'sqlite', path: url.slice('sqlite:'.length) };
  if (typeof url === 'string' && (url.startsWith('redis://') || url.startsWith('rediss://'))) {
    const at = url.indexOf('?');
    const prefix = at < 0 ? null : new URLSearchParams(url.slice(at + 1)).get('prefix');
    return { kind: 'redis', url: at < 0 ? url : url.slice(0, at), prefix: prefix ?? 'kiban:' };
  }
  throw new InvalidArgumentError(
    'source.url',
    `"${String(url)}" cannot be read as a source; use sqlite:PATH or redis://HOST:PORT (a memory: or in-memory SQLite store is private to the process that opened it)`,
  );
}

function openSqliteReadOnly(path: string): Database.Database {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (cause) {
    throw new DataError({ file: path }, `cannot open the serving store: ${(cause as Error).message}`, { cause });
  }
}

function sqliteCurrent(db: Database.Database): { seq: number; version: string } | null {
  try {
    return (
      db
        .prepare<[], { seq: number; version: string }>('SELECT v.seq, v.version FROM serving_current c JOIN serving_versions v ON v.seq = c.seq WHERE c.id = 1')
        .get() ?? null
    );
  } catch (cause) {
    // A file without the tables was never written by a serving store.
    if (/no such table/.test((cause as Error).message)) return null;
    throw cause;
  }
}

async function* redisScanKeys(redis: Redis, base: string): AsyncGenerator<string> {
  const pattern = `${base.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    for (const full of found) yield full.slice(base.length);
    cursor = next;
  } while (cursor !== '0');
}

async function planServing(url: string, namespace: string, target: number): Promise<SourcePartition[]> {
  const backend = servingBackend(url);
  if (backend.kind === 'sqlite') {
    const { version, keys } = await listServingKeys(url, namespace);
    if (version === null) throw new DataError({ file: backend.path }, 'nothing is published in this serving store');
    // Shares are key ranges (after, upTo], so each partition reads one index range of the pinned version.
    return numbered(
      splitEvenly(keys.length, target).map(([start, end]) => ({
        label: `${namespace} keys ${start}–${end} of ${version}`,
        locator: { backend: 'sqlite', version, after: start === 0 ? null : keys[start - 1], upTo: end === keys.length ? null : keys[end - 1] } satisfies ServingLocator,
      })),
    );
  }
  // Redis keys come unordered from SCAN: shares are hash buckets, each partition scans all keys
  // of the version and keeps its own (no key list travels in the locators).
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    const version = await redis.hget(`${backend.prefix}current`, 'version');
    if (version === null) throw new DataError({ file: url }, 'nothing is published in this serving store');
    return numbered(
      Array.from({ length: target }, (_, shard) => ({ label: `${namespace} shard ${shard + 1}/${target} of ${version}`, locator: { backend: 'redis', version, shard, shards: target } satisfies ServingLocator })),
    );
  } finally {
    redis.disconnect();
  }
}

async function* readServing(url: string, namespace: string, loc: ServingLocator, batchSize: number): AsyncGenerator<unknown[]> {
  const backend = servingBackend(url);
  const all = { offset: 0, limit: Infinity };
  const gone = (): Error =>
    new NotFoundError(`version ${loc.version} of serving store ${url} (it was removed after two newer publishes; plan the partitions again)`);
  if (backend.kind === 'sqlite') {
    if (loc.backend !== 'sqlite') throw new InvalidArgumentError('partition.locator', 'was not planned for a SQLite serving store');
    const db = openSqliteReadOnly(backend.path);
    try {
      const seq = db.prepare<[string], number>("SELECT seq FROM serving_versions WHERE version = ? AND state = 'committed'").pluck().get(loc.version);
      if (seq === undefined) throw gone();
      const rows = db
        .prepare<unknown[], { key: string; items: Buffer }>(
          `SELECT key, items FROM serving_lists WHERE seq = ? AND list = ?${loc.after === null ? '' : ' AND key > ?'}${loc.upTo === null ? '' : ' AND key <= ?'} ORDER BY key`,
        )
        .iterate(seq, namespace, ...(loc.after === null ? [] : [loc.after]), ...(loc.upTo === null ? [] : [loc.upTo]));
      let batch: unknown[] = [];
      for (const row of rows) {
        batch.push({ key: row.key, items: decodeItems(row.items, all) });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      db.close();
    }
    return;
  }
  if (loc.backend !== 'redis') throw new InvalidArgumentError('partition.locator', 'was not planned for a Redis serving store');
  const redis = new Redis(backend.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    if ((await redis.zscore(`${backend.prefix}versions`, loc.version)) === null) throw gone();
    const base = `${backend.prefix}v:${loc.version}:${namespace}:`;
    let keys: string[] = [];
    const flush = async (): Promise<unknown[]> => {
      const values = await redis.mgetBuffer(...keys.map((k) => base + k));
      const out: unknown[] = [];
      values.forEach((value, i) => {
        if (value !== null) out.push({ key: keys[i], items: decodeItems(value, all) });
      });
      keys = [];
      return out;
    };
    for await (const key of redisScanKeys(redis, base)) {
      if (loc.shards > 1 && bucket(key, loc.shards) !== loc.shard) continue;
      keys.push(key);
      if (keys.length >= batchSize) yield await flush();
    }
    if (keys.length > 0) yield await flush();
  } finally {
    redis.disconnect();
  }
}

/** FNV-1a of a key, modulo `n`: a stable bucket whatever process computes it. */
function bucket(key: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}

// ───────────────────────────── helpers ─────────────────────────────

/** `[start, end)` ranges covering `0 … n` in `min(target, n)` near-equal parts (one empty range when n is 0). */
function splitEvenly(n: number, target: number): [number, number][] {
  const parts = Math.max(1, Math.min(target, n));
  return Array.from({ length: parts }, (_, i) => [Math.floor((n * i) / parts), Math.floor((n * (i + 1)) / parts)]);
}

function numbered(parts: { label: string; locator: unknown }[]): SourcePartition[] {
  return parts.map((p, index) => ({ index, ...p }));
}
