/**
 * Strict CSV reading through DuckDB shared by readInteractionLog and aggregateEvents:
 * the header is read by hand (no sniffing, which misreads the very files whose faults must be
 * reported), and the rows DuckDB rejects are described one per line.
 *
 * @module
 */
import { open } from 'node:fs/promises';
import { constants, gunzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../core/errors.js';
import type { BadRow } from './interaction-log.js';

/**
 * The column names on the first line of a CSV file (quotes honoured, a UTF-8 BOM dropped; a
 * `.gz` file is decompressed), in order, each mapped to `VARCHAR`.
 *
 * @throws DataError (line 1) when the file is empty or its first line is blank.
 */
export async function readCsvHeader(path: string, delimiter: string): Promise<Map<string, string>> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    let bytes = buf.subarray(0, bytesRead);
    if (/\.gz$/i.test(path) && bytesRead > 0) {
      try {
        // The start of the stream is enough for the header; a partial input is not an error here.
        bytes = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
      } catch (cause) {
        throw new DataError(
          { file: path },
          `cannot be decompressed as gzip: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
    if (text.trim().length === 0) {
      throw new DataError(
        { file: path },
        `the file is empty (${bytesRead === 0 ? '0 bytes' : 'only blank space'}); expected a header line naming the columns, then one row per line`,
      );
    }
    const end = text.search(/\r?\n/);
    const line = end < 0 ? text : text.slice(0, end);
    if (line.trim().length === 0)
      throw new DataError(
        { file: path, line: 1 },
        'the file has no header line (line 1 is blank); expected the column names there',
      );
    const names = line.split(delimiter).map((f) =>
      f
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .replaceAll('""', '"'),
    );
    return new Map(names.map((n) => [n, 'VARCHAR']));
  } finally {
    await handle.close();
  }
}

/**
 * Rows in a CSV file of `fileBytes` bytes, guessed from the line length of its first 64 KiB
 * (2% high, so that a typical file needs no second allocation); 0 for a `.gz` file or no lines.
 */
export async function estimateCsvRows(path: string, fileBytes: number): Promise<number> {
  if (/\.gz$/i.test(path)) return 0;
  const handle = await open(path, 'r');
  try {
    const sample = Buffer.alloc(Math.min(65536, fileBytes));
    const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
    let lines = 0;
    for (let i = 0; i < bytesRead; i++) if (sample[i] === 10) lines++;
    return lines === 0 ? 0 : Math.ceil((fileBytes / bytesRead) * lines * 1.02);
  } finally {
    await handle.close();
  }
}

/** What {@link readCsvRejects} found. */
export interface CsvRejects {
  /** Every rejected line (1-based, header = line 1), ascending, each once. */
  lines: number[];
  /** The first `max` rejected lines, one entry each, with the reason. */
  bad: BadRow[];
}

const FIELD_COUNT_ERRORS = new Set(['MISSING COLUMNS', 'TOO MANY COLUMNS']);

/**
 * The lines DuckDB rejected in the last `read_csv(…, store_rejects = true)` on `con`. DuckDB
 * records one error per missing field, so a short line appears several times; it counts once
 * here, described by its field count ("the line has 2 fields where the header has 4") rather
 * than by the first column it lacks.
 */
export async function readCsvRejects(
  con: DuckDBConnection,
  headerFields: number,
  max: number,
): Promise<CsvRejects> {
  const rejects = await con.runAndReadAll(
    `SELECT line, column_name, error_type, csv_line, error_message FROM reject_errors
     ORDER BY line, error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') DESC, column_idx`,
  );
  const lines: number[] = [];
  const bad: BadRow[] = [];
  for (const [line, column, type, text, message] of rejects.getRowsJS()) {
    const at = Number(line);
    if (lines.length > 0 && lines[lines.length - 1] === at) continue;
    lines.push(at);
    if (bad.length >= max) continue;
    if (FIELD_COUNT_ERRORS.has(String(type))) {
      const found = /Found: (\d+)/.exec(String(message))?.[1];
      const fields =
        found === undefined
          ? 'a different number of fields'
          : `${found} field${found === '1' ? '' : 's'}`;
      bad.push({
        line: at,
        reason: `the line has ${fields} where the header has ${headerFields}`,
        text: String(text),
      });
    } else {
      bad.push({
        line: at,
        ...(column === null ? {} : { column: String(column) }),
        reason: describeReject(String(type), String(message)),
        text: String(text),
      });
    }
  }
  return { lines, bad };
}

function describeReject(type: string, message: string): string {
  const cast = /Could not convert string "(.*)" to '(\w+)'/.exec(message);
  if (type === 'CAST' && cast) return `"${cast[1]}" is not ${describeSqlType(cast[2])}`;
  return message;
}

/** `BIGINT` → "an integer", `DOUBLE` → "a number", for messages about values. */
export function describeSqlType(sqlType: string): string {
  if (sqlType === 'BIGINT' || sqlType === 'INTEGER') return 'an integer';
  if (sqlType === 'DOUBLE') return 'a number';
  return `a ${sqlType.toLowerCase()}`;
}
