import { existsSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { describeColumns, sqlIdent, sqlLiteral } from './duckdb-sql.js';

/** What to do with several rows of one unit in one variant. */
export type DuplicatePolicy = 'first' | 'last' | 'sum' | 'mean' | 'max' | 'exclude';

/** The policies of {@link DuplicatePolicy}. */
export const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = [
  'first',
  'last',
  'sum',
  'mean',
  'max',
  'exclude',
];

/** Options of {@link aggregateAbCsv}. */
export interface AbCsvOptions {
  /** Column naming the unit (user, session…). */
  unit: string;
  /** Column naming the variant. */
  variant: string;
  /** Column of the metric: numbers, or true/false or yes/no (any case) as 1/0. */
  metric: string;
  /** Column of a pre-period covariate for CUPED. @defaultValue none */
  covariate?: string;
  /** A SQL condition on the columns (read as text) keeping only some rows, e.g. `landing_page = 'new_page'`. @defaultValue none */
  where?: string;
  /** @defaultValue 'first' (in file order) */
  duplicates?: DuplicatePolicy;
  /**
   * Column of each row's time, for the timeline: ISO-8601 or `YYYY-MM-DD hh:mm:ss` (read as UTC
   * unless it carries an offset), or epoch seconds or milliseconds (numbers below 10^11 are
   * seconds). A unit's time is the earliest of its rows, as its first exposure. @defaultValue none
   */
  time?: string;
  /** Width of the timeline's buckets in ms, aligned to the epoch (UTC days). @defaultValue one day */
  bucketMs?: number;
}

/** The most timeline buckets {@link aggregateAbCsv} builds; more means the bucket is too narrow for the data. */
export const MAX_TIMELINE_BUCKETS = 1000;

/** Per-variant sums over the units kept. */
export interface VariantSums {
  variant: string;
  units: number;
  /** Units whose metric is > 0. */
  converted: number;
  sum: number;
  sumSquares: number;
  /** With a covariate: Σx, Σx², Σxy. */
  covariate?: { sum: number; sumSquares: number; sumProducts: number };
}

/** Row and unit counts of everything the reader excluded, and why. */
export interface AbCsvQuality {
  rows: number;
  /** Rows dropped by `where`. */
  rowsFilteredOut: number;
  /** Rows without a unit, variant, metric or (when asked for) covariate or time, by column. */
  missing: { unit: number; variant: number; metric: number; covariate: number; time: number };
  /** Rows whose metric (or covariate) is not a number, true/false or yes/no. */
  notNumeric: { metric: number; covariate: number };
  /** Rows whose time is neither a timestamp nor an epoch number. */
  notTime: number;
  /** Units seen in more than one variant: all their rows are excluded. */
  multiVariantUnits: number;
  multiVariantRows: number;
  /** Units with several rows in their one variant, and the rows beyond their first. */
  duplicateUnits: number;
  duplicateRows: number;
  /** Units excluded by the `exclude` duplicate policy. */
  duplicateUnitsExcluded: number;
  /** Units that every figure is computed from. */
  unitsAnalysed: number;
}

/** What {@link aggregateAbCsv} returns. */
export interface AbCsvAggregates {
  variants: VariantSums[];
  /** Whether every metric value kept is 0 or 1 (then it is analysed as a conversion rate). */
  binary: boolean;
  quality: AbCsvQuality;
  duplicates: DuplicatePolicy;
  /** With `time`: per bucket of the units' first time (not cumulative), the same sums; in time order. Empty without. */
  timeline: { bucketStartMs: number; variants: VariantSums[] }[];
  /** The bucket width of the timeline, in ms. */
  bucketMs: number;
}

/**
 * Reads an A/B test's rows from a CSV file (any columns; one row per unit, or several) with
 * DuckDB and sums them per variant, counting every data problem instead of failing on it: rows
 * with missing or non-numeric values are dropped, units in several variants are excluded, and
 * several rows of a unit in one variant are combined by `duplicates`. A million rows take about
 * a second. @throws DataError when the file cannot be read, lacks a named column, or its metric
 * or covariate column holds values but no number among them;
 * InvalidArgumentError for a bad option or a `where` that DuckDB refuses.
 */
export async function aggregateAbCsv(
  path: string,
  options: AbCsvOptions,
): Promise<AbCsvAggregates> {
  const duplicates = options.duplicates ?? 'first';
  if (!DUPLICATE_POLICIES.includes(duplicates))
    throw new InvalidArgumentError(
      'duplicates',
      `must be one of ${DUPLICATE_POLICIES.join(', ')}, got "${String(duplicates)}"`,
    );
  const bucketMs = options.bucketMs ?? 86_400_000;
  if (!(Number.isInteger(bucketMs) && bucketMs >= 1000))
    throw new InvalidArgumentError(
      'bucketMs',
      `must be a whole number of ms, at least 1000, got ${bucketMs}`,
    );
  if (!existsSync(path)) throw new DataError({ file: path }, 'does not exist');
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    // Times without an offset are UTC, whatever the machine's zone.
    await con.run("set TimeZone = 'UTC'");
    const source = `read_csv(${sqlLiteral(path)}, header = true, all_varchar = true)`;
    const columns = await describeColumns(con, source, path);
    const named: [string, string | undefined][] = [
      ['unit', options.unit],
      ['variant', options.variant],
      ['metric', options.metric],
      ['covariate', options.covariate],
      ['time', options.time],
    ];
    for (const [field, column] of named) {
      if (column !== undefined && !columns.has(column))
        throw new DataError(
          { file: path, column },
          `is not a column (--${field}); columns: ${[...columns.keys()].join(', ')}`,
        );
    }
    const text = (column: string) => `nullif(trim(${sqlIdent(column)}), '')`;
    // true/false and yes/no (any case) count as 1/0, so a boolean "converted" column needs no preprocessing.
    const number = (column: string) =>
      `coalesce(try_cast(${text(column)} as double), case lower(${text(column)}) when 'true' then 1.0 when 'yes' then 1.0 when 'false' then 0.0 when 'no' then 0.0 end)`;
    const covariate = options.covariate;
    const time = options.time;
    // Epoch numbers below 10^11 are seconds (10^11 s is the year 5138; 10^11 ms is 1973).
    const epochMs = (column: string) =>
      `coalesce(epoch_ms(try_cast(${text(column)} as timestamptz))::double, case when abs(try_cast(${text(column)} as double)) < 1e11 then try_cast(${text(column)} as double) * 1000 else try_cast(${text(column)} as double) end)`;
    await run(
      con,
      path,
      `create temp table rows as select row_number() over () as rn, * from ${source}`,
    );
    const where = options.where === undefined ? 'true' : `(${options.where})`;
    try {
      await run(con, path, `create temp table kept as select * from rows where ${where}`);
    } catch (cause) {
      throw new InvalidArgumentError(
        'where',
        `DuckDB refused it: ${(cause as Error).message.split('\n')[0]}`,
        { cause },
      );
    }
    await run(
      con,
      path,
      `create temp table parsed as select rn, ${text(options.unit)} as unit, ${text(options.variant)} as variant,
        ${text(options.metric)} as metric_text, ${number(options.metric)} as y,
        ${covariate === undefined ? 'null' : text(covariate)} as covariate_text, ${covariate === undefined ? 'null::double' : number(covariate)} as x,
        ${time === undefined ? 'null' : text(time)} as time_text, ${time === undefined ? 'null::double' : epochMs(time)} as t
       from kept`,
    );
    const counts = await one(
      con,
      `select (select count(*) from rows) as rows_total, (select count(*) from kept) as rows_kept,
        count(*) filter (where unit is null) as missing_unit,
        count(*) filter (where variant is null) as missing_variant,
        count(*) filter (where metric_text is null) as missing_metric,
        count(*) filter (where metric_text is not null and y is null) as bad_metric,
        count(*) filter (where y is not null) as good_metric,
        count(*) filter (where x is not null) as good_covariate,
        count(*) filter (where ${covariate === undefined ? 'false' : 'covariate_text is null'}) as missing_covariate,
        count(*) filter (where ${covariate === undefined ? 'false' : 'covariate_text is not null and x is null'}) as bad_covariate,
        count(*) filter (where ${time === undefined ? 'false' : 'time_text is null'}) as missing_time,
        count(*) filter (where ${time === undefined ? 'false' : 'time_text is not null and t is null'}) as bad_time
       from parsed`,
    );
    await refuseTextColumn(
      con,
      path,
      'metric',
      options.metric,
      'metric_text',
      'y',
      Number(counts.bad_metric),
      Number(counts.good_metric),
    );
    if (covariate !== undefined)
      await refuseTextColumn(
        con,
        path,
        'covariate',
        covariate,
        'covariate_text',
        'x',
        Number(counts.bad_covariate),
        Number(counts.good_covariate),
      );
    const needX = covariate === undefined ? '' : ' and x is not null';
    const needT = time === undefined ? '' : ' and t is not null';
    await run(
      con,
      path,
      `create temp table valid as select * from parsed where unit is not null and variant is not null and y is not null${needX}${needT}`,
    );
    await run(
      con,
      path,
      `create temp table per_unit_variants as select unit, count(distinct variant) as variants, count(*) as n from valid group by unit`,
    );
    const split = await one(
      con,
      `select count(*) filter (where variants > 1) as multi_units, coalesce(sum(n) filter (where variants > 1), 0) as multi_rows,
        count(*) filter (where variants = 1 and n > 1) as dup_units, coalesce(sum(n - 1) filter (where variants = 1 and n > 1), 0) as dup_rows
       from per_unit_variants`,
    );
    const combine: Record<DuplicatePolicy, string> = {
      first: 'arg_min(y, rn)',
      last: 'arg_max(y, rn)',
      sum: 'sum(y)',
      mean: 'avg(y)',
      max: 'max(y)',
      exclude: 'any_value(y)',
    };
    const combineX: Record<DuplicatePolicy, string> = {
      first: 'arg_min(x, rn)',
      last: 'arg_max(x, rn)',
      sum: 'sum(x)',
      mean: 'avg(x)',
      max: 'max(x)',
      exclude: 'any_value(x)',
    };
    await run(
      con,
      path,
      `create temp table units as select v.unit, any_value(v.variant) as variant, ${combine[duplicates]} as y, ${combineX[duplicates]} as x, min(v.t) as t, count(*) as n
       from valid v join per_unit_variants p on p.unit = v.unit where p.variants = 1 group by v.unit
       ${duplicates === 'exclude' ? 'having count(*) = 1' : ''}`,
    );
    const sumsSql = `count(*) as units, count(*) filter (where y > 0) as converted, sum(y) as s, sum(y * y) as ss,
        sum(x) as sx, sum(x * x) as sxx, sum(x * y) as sxy, bool_and(y = 0 or y = 1) as binary`;
    const toSums = (r: Record<string, unknown>): VariantSums => {
      const v: VariantSums = {
        variant: String(r.variant),
        units: Number(r.units),
        converted: Number(r.converted),
        sum: Number(r.s),
        sumSquares: Number(r.ss),
      };
      if (covariate !== undefined)
        v.covariate = { sum: Number(r.sx), sumSquares: Number(r.sxx), sumProducts: Number(r.sxy) };
      return v;
    };
    const sums = await con.runAndReadAll(
      `select variant, ${sumsSql} from units group by variant order by variant`,
    );
    const variants: VariantSums[] = [];
    let binary = true;
    let analysed = 0;
    for (const r of sums.getRowObjectsJS()) {
      const v = toSums(r);
      variants.push(v);
      binary &&= r.binary === true;
      analysed += v.units;
    }
    const timeline = time === undefined ? [] : await timelineOf(con, bucketMs, sumsSql, toSums);
    const rows = Number(counts.rows_total);
    return {
      variants,
      binary,
      duplicates,
      timeline,
      bucketMs,
      quality: {
        rows,
        rowsFilteredOut: rows - Number(counts.rows_kept),
        missing: {
          unit: Number(counts.missing_unit),
          variant: Number(counts.missing_variant),
          metric: Number(counts.missing_metric),
          covariate: Number(counts.missing_covariate),
          time: Number(counts.missing_time),
        },
        notNumeric: { metric: Number(counts.bad_metric), covariate: Number(counts.bad_covariate) },
        notTime: Number(counts.bad_time),
        multiVariantUnits: Number(split.multi_units),
        multiVariantRows: Number(split.multi_rows),
        duplicateUnits: Number(split.dup_units),
        duplicateRows: Number(split.dup_rows),
        duplicateUnitsExcluded: duplicates === 'exclude' ? Number(split.dup_units) : 0,
        unitsAnalysed: analysed,
      },
    };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Per-variant sums per bucket of the units' first time; refuses more than {@link MAX_TIMELINE_BUCKETS} buckets. */
async function timelineOf(
  con: DuckDBConnection,
  bucketMs: number,
  sumsSql: string,
  toSums: (r: Record<string, unknown>) => VariantSums,
): Promise<AbCsvAggregates['timeline']> {
  const bucket = `floor(t / ${bucketMs}) * ${bucketMs}`;
  const span = await one(
    con,
    `select count(distinct ${bucket}) as buckets, min(t) as first, max(t) as last from units`,
  );
  if (Number(span.buckets) > MAX_TIMELINE_BUCKETS) {
    const days = (Number(span.last) - Number(span.first)) / 86_400_000;
    throw new InvalidArgumentError(
      'bucketMs',
      `the times span ${days.toFixed(1)} days, which makes ${Number(span.buckets)} buckets of ${bucketMs / 1000} s (at most ${MAX_TIMELINE_BUCKETS}); choose a wider bucket`,
    );
  }
  const reader = await con.runAndReadAll(
    `select ${bucket} as b, variant, ${sumsSql} from units group by b, variant order by b, variant`,
  );
  const out: AbCsvAggregates['timeline'] = [];
  for (const r of reader.getRowObjectsJS()) {
    const start = Number(r.b);
    if (out.length === 0 || out[out.length - 1].bucketStartMs !== start)
      out.push({ bucketStartMs: start, variants: [] });
    out[out.length - 1].variants.push(toSums(r));
  }
  return out;
}

/**
 * A metric or covariate column with values but not one number among them is the wrong column (or
 * text such as "clicked"/"skipped"): dropping every row would leave nothing to analyse and the
 * error would blame another option, so say which column and show some of its values.
 */
async function refuseTextColumn(
  con: DuckDBConnection,
  path: string,
  option: string,
  column: string,
  textColumn: string,
  valueColumn: string,
  bad: number,
  good: number,
): Promise<void> {
  if (bad === 0 || good > 0) return;
  const reader = await con.runAndReadAll(
    `select distinct ${textColumn} as v from parsed where ${textColumn} is not null and ${valueColumn} is null order by v limit 3`,
  );
  const examples = reader.getRowObjectsJS().map((r) => JSON.stringify(String(r.v)));
  throw new DataError(
    { file: path, column },
    `holds no numbers (--${option}): values like ${examples.join(', ')} are not a number, true/false or yes/no (which are read as 1/0)`,
  );
}

async function run(con: DuckDBConnection, path: string, statement: string): Promise<void> {
  try {
    await con.run(statement);
  } catch (cause) {
    const message = (cause as Error).message.split('\n')[0];
    if (/CSV|sniff/i.test(message))
      throw new DataError({ file: path }, `cannot be read as CSV: ${message}`, { cause });
    throw cause;
  }
}

async function one(con: DuckDBConnection, query: string): Promise<Record<string, unknown>> {
  const reader = await con.runAndReadAll(query);
  return reader.getRowObjectsJS()[0] as Record<string, unknown>;
}
