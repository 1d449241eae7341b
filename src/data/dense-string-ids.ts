/**
 * String ids turned into dense codes inside DuckDB: each distinct id is decoded into a
 * JavaScript string once, rows share those strings, and the codes are recorded for
 * `IdMap.encode` so that building interactions hashes no row.
 *
 * @module
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { allValid, copyDoubles } from './duckdb-columns.js';
import { sqlIdent } from './duckdb-sql.js';
import { recordEncoding } from './id-map.js';
import type { InteractionLog } from './interaction-log.js';

/** The numeric key of `compareExternalIds` in SQL: canonical safe integers, else NULL. */
const NUMERIC_KEY = `CASE WHEN regexp_full_match(id, '-?(0|[1-9][0-9]{0,15})') AND id <> '-0'
  AND abs(TRY_CAST(id AS BIGINT)) <= ${Number.MAX_SAFE_INTEGER} THEN TRY_CAST(id AS BIGINT) END`;

/**
 * Reads `select` (user id, item id as VARCHAR, then optional value and timestamp as DOUBLE, in
 * that order) into log columns with shared strings and recorded encodings; null when a value
 * is NULL or there are no rows (the caller then takes its checked path).
 *
 * @param valueAt - index of the value column in `select`, or -1
 * @param timeAt - index of the timestamp column in `select`, or -1
 */
export async function readDenseStringIds(
  con: DuckDBConnection,
  select: string,
  valueAt: number,
  timeAt: number,
): Promise<Pick<InteractionLog, 'rows' | 'users' | 'items' | 'values' | 'timestamps'> | null> {
  await con.run(`CREATE TEMP TABLE staged AS ${select}`);
  const names = (await con.runAndReadAll('DESCRIBE staged')).getRowsJS().map((r) => String(r[0]));
  const cols = names.map(sqlIdent);
  const stats = await con.runAndReadAll(
    `SELECT count(*), count(*) FILTER (WHERE ${cols.map((c) => `${c} IS NULL`).join(' OR ')}) FROM staged`,
  );
  const [total, nulls] = stats.getRowsJS()[0].map(Number);
  if (total === 0 || nulls > 0) return null;
  const n = total;
  const dictionaries: string[][] = [];
  for (const [k, table] of [
    [0, 'dict_user'],
    [1, 'dict_item'],
  ] as const) {
    // Ascending by compareExternalIds: canonical integers numerically first, then the rest.
    await con.run(
      `CREATE TEMP TABLE ${table} AS SELECT id, (row_number() OVER (ORDER BY k NULLS LAST, id) - 1)::DOUBLE AS code
       FROM (SELECT id, ${NUMERIC_KEY} AS k FROM (SELECT DISTINCT ${cols[k]} AS id FROM staged))`,
    );
    const ids: string[] = [];
    const result = await con.stream(`SELECT id FROM ${table} ORDER BY code`);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const vector = chunk.getColumnVector(0);
      for (let r = 0; r < chunk.rowCount; r++) ids.push(vector.getItem(r) as string);
    }
    dictionaries.push(ids);
  }
  const userCodes = new Int32Array(n);
  const itemCodes = new Int32Array(n);
  const values = valueAt >= 0 ? new Float32Array(n) : null;
  const times = timeAt >= 0 ? new Float64Array(n) : null;
  const extra = [valueAt, timeAt].filter((at) => at >= 0).map((at) => `s.${cols[at]}`);
  // A join need not keep row order, so each row carries its rowid (0..n-1 in insertion order)
  // and is put back in place.
  const result = await con.stream(
    `SELECT s.rowid::DOUBLE, u.code, i.code${extra.map((e) => `, ${e}`).join('')}
     FROM staged s JOIN dict_user u ON s.${cols[0]} = u.id JOIN dict_item i ON s.${cols[1]} = i.id`,
  );
  const buffers = [0, 1, 2, 3, 4].map(() => new Float64Array(2048));
  let seen = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    const rows = chunk.rowCount;
    for (let c = 0; c < chunk.columnCount; c++) {
      const vector = chunk.getColumnVector(c);
      if (!allValid(vector, rows)) return null;
      if (buffers[c].length < rows) buffers[c] = new Float64Array(rows);
      copyDoubles(vector, rows, buffers[c], 0);
    }
    const [at, u, i] = buffers;
    const v = values === null ? null : buffers[3];
    const t = times === null ? null : buffers[values === null ? 3 : 4];
    for (let r = 0; r < rows; r++) {
      const row = at[r];
      if (!(row >= 0 && row < n)) return null;
      userCodes[row] = u[r];
      itemCodes[row] = i[r];
      if (v !== null) values![row] = v[r];
      if (t !== null) times![row] = t[r];
    }
    seen += rows;
  }
  if (seen !== n) return null;
  const [userIds, itemIds] = dictionaries;
  const users = new Array<string>(n);
  const items = new Array<string>(n);
  for (let r = 0; r < n; r++) {
    users[r] = userIds[userCodes[r]];
    items[r] = itemIds[itemCodes[r]];
  }
  if (!recordEncoding(users, userIds, userCodes)) return null;
  if (!recordEncoding(items, itemIds, itemCodes)) return null;
  return { rows: n, users, items, values, timestamps: times };
}
