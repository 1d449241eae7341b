/**
 * The offline log of pushed feature rows (issue 20, `POST /v1/features/push`): what streaming
 * updates add to a view besides its source, so that a point-in-time join made after a push sees
 * the pushed values.
 *
 * Layout: `<repository>/push-log/<view>/<received ms, 15 digits>-<uuid>.ndjson`, one file per
 * push, written whole to a hidden temporary name and renamed (a reader globbing `*.ndjson` never
 * sees half a file). Each line is one row:
 *
 * ```json
 * {"user_id": "42", "__event_time_us": 1765000000000000, "__created_time_us": 1765000001000000, "clicks_7d": 3, "spend_7d": 1.5}
 * ```
 *
 * - the view's join key columns under their own names: string keys as JSON strings, int64 keys as
 *   their decimal digits in a JSON string (exact beyond 2^53; cast to BIGINT when read);
 * - `__event_time_us`: the row's event time, epoch microseconds (UTC);
 * - `__created_time_us`: the row's created time, epoch microseconds: the source's created-time
 *   column when the push gave it, else when the server received the push, so a pushed row wins a
 *   tie in event time against a source row without a created time;
 * - every feature of the view under its name: numbers, strings, booleans, null; timestamp
 *   features as ISO-8601 text (as the online store keeps them).
 *
 * {@link pushLogTable} is the DuckDB table expression over a view's log that the offline store
 * unions with the view's source.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type {
  FeatureRepository,
  FeatureValueType,
  FeatureViewDefinition,
} from './feature-types.js';
import type { FeatureValue } from './online-store.js';

/**
 * The DuckDB type each value is read as from the log's JSON and the type it is cast to (the
 * offline store's type of the feature or key): timestamps are ISO-8601 text in the log, int64
 * keys decimal text.
 */
const LOG_TYPES: Record<FeatureValueType, { json: string; sql: string }> = {
  int64: { json: 'BIGINT', sql: 'BIGINT' },
  int32: { json: 'INTEGER', sql: 'INTEGER' },
  float64: { json: 'DOUBLE', sql: 'DOUBLE' },
  float32: { json: 'FLOAT', sql: 'FLOAT' },
  bool: { json: 'BOOLEAN', sql: 'BOOLEAN' },
  string: { json: 'VARCHAR', sql: 'VARCHAR' },
  timestamp: { json: 'VARCHAR', sql: 'TIMESTAMP' },
};

/** The directory under a repository's root that holds the push log. */
export const PUSH_LOG_DIR = 'push-log';

/** The push log's event-time column, epoch microseconds. */
export const PUSH_EVENT_TIME_COLUMN = '__event_time_us';
/** The push log's created-time column, epoch microseconds. */
export const PUSH_CREATED_TIME_COLUMN = '__created_time_us';

/** One pushed row, validated (see `POST /v1/features/push`). */
export interface PushLogRow {
  /** Join key values in the view's entity order, as the online store keys them (int64 as decimal text). */
  keys: readonly string[];
  /** Epoch milliseconds (fractions kept to the microsecond). */
  eventTime: number;
  /** Epoch milliseconds. */
  createdTime: number;
  /** The view's features in definition order. */
  values: readonly FeatureValue[];
}

/** The directory of one view's pushed rows. */
export function pushLogDirectory(repo: Pick<FeatureRepository, 'root'>, view: string): string {
  return join(repo.root, PUSH_LOG_DIR, view);
}

/**
 * Appends `rows` of `view` to the push log as one new file (atomic: complete or absent).
 * Resolves once the file is renamed into place; returns its path (null for no rows).
 */
export async function appendPushLog(
  repo: FeatureRepository,
  view: FeatureViewDefinition,
  rows: readonly PushLogRow[],
  receivedAt: number = Date.now(),
): Promise<string | null> {
  if (rows.length === 0) return null;
  const dir = pushLogDirectory(repo, view.name);
  await mkdir(dir, { recursive: true });
  const columns = keyColumns(repo, view);
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r += 1) {
    const row = rows[r];
    const record: Record<string, unknown> = {};
    for (let k = 0; k < columns.length; k += 1) record[columns[k]] = row.keys[k];
    record[PUSH_EVENT_TIME_COLUMN] = Math.round(row.eventTime * 1000);
    record[PUSH_CREATED_TIME_COLUMN] = Math.round(row.createdTime * 1000);
    for (let f = 0; f < view.features.length; f += 1)
      record[view.features[f].name] = row.values[f] ?? null;
    lines[r] = JSON.stringify(record);
  }
  const name = `${String(Math.floor(receivedAt)).padStart(15, '0')}-${randomUUID()}.ndjson`;
  const temp = join(dir, `.${name}.tmp`);
  try {
    await writeFile(temp, `${lines.join('\n')}\n`, { flag: 'wx' });
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return join(dir, name);
}

/** Whether `view` has pushed rows (a file of its log). */
export async function hasPushLog(
  repo: Pick<FeatureRepository, 'root'>,
  view: string,
): Promise<boolean> {
  const names = await readdir(pushLogDirectory(repo, view)).catch(() => [] as string[]);
  return names.some((n) => n.endsWith('.ndjson') && !n.startsWith('.'));
}

/**
 * A DuckDB table expression over `view`'s push log with the join key columns (cast to their
 * entity types, under their own names), `__event_time_us` and `__created_time_us` (BIGINT epoch
 * µs) and every feature of the view under its name, cast to its DuckDB type (timestamp features
 * from ISO-8601 text). Only valid when {@link hasPushLog} is true (DuckDB fails on a glob matching
 * nothing).
 */
export function pushLogTable(repo: FeatureRepository, view: FeatureViewDefinition): string {
  const glob = join(pushLogDirectory(repo, view.name), '*.ndjson');
  const keys = view.entities.map((name) => {
    const entity = repo.entities.get(name);
    if (entity === undefined) throw new Error(`view ${view.name}: no entity ${name}`);
    return entity;
  });
  const declared: string[] = [
    ...keys.map((k) => `${sqlLiteral(k.joinKey)}: 'VARCHAR'`),
    `${sqlLiteral(PUSH_EVENT_TIME_COLUMN)}: 'BIGINT'`,
    `${sqlLiteral(PUSH_CREATED_TIME_COLUMN)}: 'BIGINT'`,
    ...view.features.map((f) => `${sqlLiteral(f.name)}: '${LOG_TYPES[f.type].json}'`),
  ];
  const select = [
    ...keys.map(
      (k) => `CAST(${sqlIdent(k.joinKey)} AS ${LOG_TYPES[k.type].sql}) AS ${sqlIdent(k.joinKey)}`,
    ),
    sqlIdent(PUSH_EVENT_TIME_COLUMN),
    sqlIdent(PUSH_CREATED_TIME_COLUMN),
    ...view.features.map(
      (f) => `CAST(${sqlIdent(f.name)} AS ${LOG_TYPES[f.type].sql}) AS ${sqlIdent(f.name)}`,
    ),
  ];
  return `(SELECT ${select.join(', ')} FROM read_json(${sqlLiteral(glob)}, format = 'newline_delimited', columns = {${declared.join(', ')}}))`;
}

function keyColumns(repo: FeatureRepository, view: FeatureViewDefinition): string[] {
  return view.entities.map((name) => {
    const entity = repo.entities.get(name);
    if (entity === undefined) throw new Error(`view ${view.name}: no entity ${name}`);
    return entity.joinKey;
  });
}
