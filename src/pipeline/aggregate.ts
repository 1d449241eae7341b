import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { dirname, extname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { readCsvHeader, readCsvRejects } from '../data/csv-input.js';
import { describeColumns, sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import { type InteractionStore, MAX_INTERACTION_LIMIT } from '../storage/interaction-store.js';

/** Options of {@link aggregateEvents}: how raw events become training interactions. */
export interface AggregateOptions {
  /** Raw events (CSV with a header, optionally .gz, or Parquet). */
  input: string;
  /** Parquet file to write (replaced atomically). */
  output: string;
  /** Column names of the raw log. @defaultValue user, item, event, value, timestamp */
  columns?: {
    user?: string;
    item?: string;
    event?: string;
    value?: string | null;
    timestamp?: string;
  };
  /** Weight of each event type; events of other types are dropped. */
  eventWeights: Record<string, number>;
  /** How several weighted events of one (user, item) combine. @defaultValue 'sum' */
  combine?: 'sum' | 'max';
  /**
   * Keep only events in the `days` days up to `end` (ISO-8601; default: the newest event of
   * `input`, never one of `api`). Without `end`, API events newer than the log's newest are kept:
   * they only arrived later, and must neither be dropped nor shift the log's window.
   */
  window?: { days: number; end?: string };
  /**
   * Interactions written through the API, added to `input`'s events as events of the type
   * `eventType` (value: their stored weight), weighted `weight`. `file` is newline-delimited JSON
   * with one {@link ApiInteractionRow} a line (see {@link writeApiInteractions}); a `seq` met twice
   * counts once. `input` may not hold events of `eventType`, nor `eventWeights` name it.
   */
  api?: { file: string; eventType: string; weight: number };
  /** Drop users with fewer distinct items, and items with fewer distinct users (repeated until stable). */
  minUserItems?: number;
  minItemUsers?: number;
}

/** Row counts of each stage, for the run record. */
export interface AggregateFigures {
  rowsIn: number;
  rowsDistinct: number;
  rowsInWindow: number;
  rowsWeighted: number;
  pairs: number;
  pairsOut: number;
  users: number;
  items: number;
  /** API interactions read (distinct `seq`), and those of them inside the window. 0 without `api`. */
  apiRowsIn: number;
  apiRowsInWindow: number;
  /** The highest `seq` of the API interactions read (0: none), also stored in the output's metadata. */
  interactionsThrough: number;
}

/** One line of the API interactions work file (see {@link AggregateOptions.api}). */
export interface ApiInteractionRow {
  seq: number;
  user: string;
  item: string;
  /** Epoch milliseconds. */
  atMs: number;
  weight: number;
}

/** The Parquet key-value metadata key under which the output records {@link AggregateFigures.interactionsThrough}. */
export const INTERACTIONS_THROUGH_KEY = 'kiban.interactions_through';

/**
 * Turns a raw event log into training interactions with DuckDB SQL: exact duplicate events are
 * removed, events outside the time window or of unweighted types dropped, each (user, item)
 * gets the sum (or max) of its weighted events (weight × value), then users and items below the
 * minimum counts are pruned until none is left below them. Writes Parquet with columns
 * `user, item, value, timestamp` (latest event, epoch seconds), ordered by user and then time,
 * and returns the row counts. Ids are written as strings, exactly as they appear in the input
 * (`"007"` and `"7"` stay two ids); a CSV line with the wrong number of fields is an error
 * naming its line.
 *
 * @example
 * await aggregateEvents({ input: 'events.csv.gz', output: 'train.parquet', eventWeights: { view: 1, like: 4 } });
 */
export async function aggregateEvents(options: AggregateOptions): Promise<AggregateFigures> {
  const cols = {
    user: 'user',
    item: 'item',
    event: 'event',
    value: 'value' as string | null,
    timestamp: 'timestamp',
    ...options.columns,
  };
  const weights = Object.entries(options.eventWeights);
  if (weights.length === 0)
    throw new InvalidArgumentError('eventWeights', 'must weight at least one event type');
  for (const [event, w] of weights) {
    if (!Number.isFinite(w) || w <= 0)
      throw new InvalidArgumentError(
        `eventWeights.${event}`,
        `must be a positive number, got ${w}`,
      );
  }
  const combine = options.combine ?? 'sum';
  if (combine !== 'sum' && combine !== 'max')
    throw new InvalidArgumentError('combine', `must be "sum" or "max", got "${String(combine)}"`);
  const minUser = options.minUserItems ?? 1;
  const minItem = options.minItemUsers ?? 1;
  if (options.window !== undefined && !(options.window.days > 0))
    throw new InvalidArgumentError('window.days', 'must be a positive number of days');
  if ((await stat(options.input).catch(() => null)) === null)
    throw new DataError({ file: options.input }, 'file not found');
  const api = options.api;
  if (api !== undefined) {
    if (!(Number.isFinite(api.weight) && api.weight > 0))
      throw new InvalidArgumentError('api.weight', `must be a positive number, got ${api.weight}`);
    if (Object.hasOwn(options.eventWeights, api.eventType))
      throw new InvalidArgumentError(
        `eventWeights.${api.eventType}`,
        `"${api.eventType}" is the event type reserved for API interactions`,
      );
    if ((await stat(api.file).catch(() => null)) === null)
      throw new DataError({ file: api.file }, 'file not found');
  }

  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const count = async (table: string): Promise<number> =>
    Number((await con.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRowsJS()[0][0]);
  try {
    const parquet = /\.(parquet|pq)$/i.test(options.input);
    const csvArgs = `header = true, delim = ',', quote = '"', escape = '"'`;
    // CSV is read strictly: the header by hand and every column as text, so that no sniffer
    // misreads a file (a ragged line, an empty file) or turns ids into numbers ("007" → 7).
    const found = parquet
      ? await describeColumns(con, `read_parquet(${sqlLiteral(options.input)})`, options.input)
      : await readCsvHeader(options.input, ',');
    for (const [role, name] of Object.entries(cols)) {
      if (name === null || name === undefined) continue;
      if (!found.has(name)) {
        throw new DataError(
          { file: options.input, column: name },
          `missing the ${role} column "${name}"; the file has ${[...found.keys()].map((c) => `"${c}"`).join(', ')}`,
        );
      }
    }
    const source = parquet
      ? `read_parquet(${sqlLiteral(options.input)})`
      : `read_csv(${sqlLiteral(options.input)}, ${csvArgs}, auto_detect = false, columns = {${[...found.keys()].map((c) => `${sqlLiteral(c)}: 'VARCHAR'`).join(', ')}}, store_rejects = true)`;
    const ts = sqlIdent(cols.timestamp);
    const tsType = found.get(cols.timestamp)!;
    // Epoch seconds (numbers, or text holding them) or anything DuckDB reads as a timestamp.
    const tsExpr =
      tsType === 'VARCHAR'
        ? `coalesce(to_timestamp(TRY_CAST(${ts} AS DOUBLE)), TRY_CAST(${ts} AS TIMESTAMPTZ))`
        : /INT|DOUBLE|FLOAT|DECIMAL|REAL/.test(tsType)
          ? `to_timestamp(CAST(${ts} AS DOUBLE))`
          : `CAST(${ts} AS TIMESTAMPTZ)`;
    const valueExpr =
      cols.value === null
        ? '1.0'
        : `coalesce(CAST(nullif(trim(CAST(${sqlIdent(cols.value)} AS VARCHAR)), '') AS DOUBLE), 1.0)`;
    await con
      .run(
        `CREATE TEMP TABLE ev AS SELECT CAST(${sqlIdent(cols.user)} AS VARCHAR) AS u, CAST(${sqlIdent(cols.item)} AS VARCHAR) AS i, CAST(${sqlIdent(cols.event)} AS VARCHAR) AS e, ${valueExpr} AS v, ${tsExpr} AS t FROM ${source}`,
      )
      .catch((cause: unknown) => {
        throw new DataError(
          { file: options.input },
          `cannot be read as events: ${(cause as Error).message.split('\n')[0]}`,
          { cause },
        );
      });
    if (!parquet) {
      const rejects = await readCsvRejects(con, found.size, 1);
      if (rejects.lines.length > 0) {
        const first = rejects.bad[0];
        throw new DataError(
          { file: options.input, line: first.line, column: first.column },
          `${first.reason}${first.text === undefined ? '' : ` (line text: ${JSON.stringify(first.text)})`}${rejects.lines.length > 1 ? `; ${rejects.lines.length} malformed lines in all` : ''}`,
        );
      }
    }
    const rowsIn = await count('ev');
    if (rowsIn === 0)
      throw new DataError(
        { file: options.input },
        parquet ? 'no events' : 'the file has a header line but no events',
      );
    const nulls = Number(
      (
        await con.runAndReadAll(
          'SELECT count(*) FROM ev WHERE u IS NULL OR i IS NULL OR e IS NULL OR t IS NULL',
        )
      ).getRowsJS()[0][0],
    );
    if (nulls > 0)
      throw new DataError(
        { file: options.input },
        `${nulls} events lack a user, item, event or timestamp`,
      );

    await con.run('CREATE TEMP TABLE uniq AS SELECT DISTINCT u, i, e, v, t FROM ev');
    const rowsDistinct = await count('uniq');
    if (api !== undefined) {
      const reserved = Number(
        (
          await con.runAndReadAll(
            `SELECT count(*) FROM uniq WHERE e = ${sqlLiteral(api.eventType)}`,
          )
        ).getRowsJS()[0][0],
      );
      if (reserved > 0)
        throw new DataError(
          { file: options.input, column: cols.event },
          `${reserved} events have the type "${api.eventType}", which is reserved for API interactions; rename them or choose another aggregate.apiInteractions.eventType`,
        );
    }
    // The window is the log's: API events neither end it nor (without `end`) fall after it.
    let windowFilter = 'TRUE';
    let apiWindowFilter = 'TRUE';
    if (options.window !== undefined) {
      const end =
        options.window.end === undefined
          ? '(SELECT max(t) FROM uniq)'
          : `CAST(${sqlLiteral(options.window.end)} AS TIMESTAMPTZ)`;
      const start = `t > ${end} - INTERVAL (${Number(options.window.days)}) DAY`;
      windowFilter = `t <= ${end} AND ${start}`;
      apiWindowFilter = options.window.end === undefined ? start : windowFilter;
    }
    await con.run(`CREATE TEMP TABLE win AS SELECT * FROM uniq WHERE ${windowFilter}`);
    const rowsInWindow = await count('win');
    let apiRowsIn = 0;
    let apiRowsInWindow = 0;
    let interactionsThrough = 0;
    if (api !== undefined) {
      const json = `read_json(${sqlLiteral(api.file)}, format = 'newline_delimited', columns = {seq: 'BIGINT', user: 'VARCHAR', item: 'VARCHAR', atMs: 'BIGINT', weight: 'DOUBLE'})`;
      // One row per seq, whatever a retried write left in the file.
      await con
        .run(
          `CREATE TEMP TABLE api AS SELECT seq, any_value("user") AS u, any_value(item) AS i, any_value(weight) AS v, to_timestamp(any_value(atMs) / 1000.0) AS t FROM ${json} GROUP BY seq`,
        )
        .catch((cause: unknown) => {
          throw new DataError(
            { file: api.file },
            `cannot be read as API interactions: ${(cause as Error).message.split('\n')[0]}`,
            { cause },
          );
        });
      apiRowsIn = await count('api');
      interactionsThrough = Number(
        (await con.runAndReadAll('SELECT coalesce(max(seq), 0) FROM api')).getRowsJS()[0][0],
      );
      await con.run(
        `INSERT INTO win SELECT u, i, ${sqlLiteral(api.eventType)}, v, t FROM api WHERE ${apiWindowFilter}`,
      );
      apiRowsInWindow = (await count('win')) - rowsInWindow;
    }
    const weightRows = [
      ...weights,
      ...(api === undefined ? [] : ([[api.eventType, api.weight]] as const)),
    ]
      .map(([e, w]) => `(${sqlLiteral(e)}, ${Number(w)})`)
      .join(', ');
    await con.run(
      `CREATE TEMP TABLE weighted AS SELECT u, i, w.weight * v AS v, t FROM win JOIN (VALUES ${weightRows}) w(event, weight) ON win.e = w.event`,
    );
    const rowsWeighted = await count('weighted');
    await con.run(
      `CREATE TEMP TABLE pairs AS SELECT u, i, ${combine}(v) AS v, max(t) AS t FROM weighted GROUP BY u, i`,
    );
    const pairs = await count('pairs');
    // Pruning items can push users below their minimum and back; repeat until nothing changes.
    for (let round = 0; round < 100; round++) {
      const before = await count('pairs');
      await con.run(
        `DELETE FROM pairs WHERE i IN (SELECT i FROM pairs GROUP BY i HAVING count(*) < ${minItem})`,
      );
      await con.run(
        `DELETE FROM pairs WHERE u IN (SELECT u FROM pairs GROUP BY u HAVING count(*) < ${minUser})`,
      );
      if ((await count('pairs')) === before) break;
    }
    const pairsOut = await count('pairs');
    if (pairsOut === 0)
      throw new DataError(
        { file: options.input },
        'no interactions are left after the window, event weights and minimum counts',
      );
    const [users, items] = (
      await con.runAndReadAll('SELECT count(DISTINCT u), count(DISTINCT i) FROM pairs')
    )
      .getRowsJS()[0]
      .map(Number);

    await mkdir(dirname(options.output), { recursive: true });
    const tmp = `${options.output}.tmp-${process.pid}${extname(options.output)}`;
    await con.run(
      `COPY (SELECT u AS "user", i AS item, CAST(v AS DOUBLE) AS value, CAST(epoch(t) AS BIGINT) AS "timestamp" FROM pairs ORDER BY 1, 4, 2) TO ${sqlLiteral(tmp)} (FORMAT parquet, KV_METADATA {${sqlLiteral(INTERACTIONS_THROUGH_KEY)}: ${sqlLiteral(String(interactionsThrough))}})`,
    );
    await rename(tmp, options.output).catch(async (error: unknown) => {
      await rm(tmp, { force: true });
      throw error;
    });
    return {
      rowsIn,
      rowsDistinct,
      rowsInWindow,
      rowsWeighted,
      pairs,
      pairsOut,
      users,
      items,
      apiRowsIn,
      apiRowsInWindow,
      interactionsThrough,
    };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** What {@link writeApiInteractions} wrote. */
export interface WrittenApiInteractions {
  /** Interactions written. */
  rows: number;
  /** The highest `seq` written; 0 when none was. */
  through: number;
}

/**
 * Pages through every interaction stored through the API (`list({after})`, in commit order,
 * `pageSize` at a time) into `file` as newline-delimited JSON ({@link ApiInteractionRow} a line),
 * for {@link aggregateEvents}' `api.file`. Only one page is held in memory. The file is written to
 * a temporary sibling and renamed, so a retry replaces it whole; `seq` increases strictly from
 * page to page, so no interaction is written twice. Interactions committed while it pages are
 * included up to the last page it reads; later ones have a higher `seq` and wait for the next batch.
 *
 * @example
 * const { through } = await writeApiInteractions(metadata.interactions, 'work/api-interactions.ndjson');
 */
export async function writeApiInteractions(
  store: Pick<InteractionStore, 'list'>,
  file: string,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<WrittenApiInteractions> {
  const pageSize = options.pageSize ?? MAX_INTERACTION_LIMIT;
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { encoding: 'utf8' });
  let rows = 0;
  let through = 0;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      const page = await store.list({ after: through, limit: pageSize });
      if (page.length === 0) break;
      let text = '';
      for (const e of page) {
        const row: ApiInteractionRow = {
          seq: e.seq,
          user: e.user,
          item: e.item,
          atMs: e.at.getTime(),
          weight: e.weight,
        };
        text += `${JSON.stringify(row)}\n`;
      }
      if (!out.write(text)) await once(out, 'drain');
      rows += page.length;
      const last = page[page.length - 1].seq;
      if (!(last > through))
        throw new DataError(
          { file },
          `the interaction store returned seq ${last} after ${through}`,
        );
      through = last;
      if (page.length < pageSize) break;
    }
    out.end();
    await finished(out);
    await rename(tmp, file);
  } catch (error) {
    out.destroy();
    await rm(tmp, { force: true });
    throw error;
  }
  return { rows, through };
}

/**
 * The highest API interaction `seq` that {@link aggregateEvents} recorded in the metadata of its
 * output; 0 when it recorded none (API interactions off, or a file from before they were read).
 */
export async function readInteractionsThrough(parquet: string): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const rows = (
      await con.runAndReadAll(
        `SELECT decode(value) FROM parquet_kv_metadata(${sqlLiteral(parquet)}) WHERE decode(key) = ${sqlLiteral(INTERACTIONS_THROUGH_KEY)}`,
      )
    ).getRowsJS();
    const through = rows.length === 0 ? 0 : Number(rows[0][0]);
    if (!Number.isSafeInteger(through) || through < 0)
      throw new DataError({ file: parquet }, `holds a malformed ${INTERACTIONS_THROUGH_KEY}`);
    return through;
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
