/**
 * What `kiban vectors embed` reads from a CSV or Parquet file of items: the id column and either
 * the item texts (several columns joined) or numeric features (several number columns, or one
 * list column) for an ONNX encoder. Read through DuckDB; missing columns are flag errors (exit
 * 2) naming the flag, bad cells data errors (exit 3) naming the file, row and column.
 *
 * @module
 */
import { DataError, InvalidArgumentError } from '../core/errors.js';

/** Where the item columns come from. */
export interface ItemTableSource {
  path: string;
  format: 'csv' | 'parquet';
  /** The id column, and the flag that named it. */
  idColumn: string;
  idFlag: string;
}

/** Item texts: ids and texts in file order. */
export interface ItemTexts {
  ids: string[];
  texts: string[];
}

/** Item features: ids and a row-major `ids.length × width` matrix. */
export interface ItemFeatures {
  ids: string[];
  width: number;
  rows: Float32Array;
}

type Connection = import('@duckdb/node-api').DuckDBConnection;

/**
 * Opens the file in DuckDB as temp table `t` (row number `r`, the id as text `id`, and the
 * columns `select` makes from the described columns), checks ids, and runs `read`.
 */
async function withItemTable<T>(
  source: ItemTableSource,
  select: (columns: Map<string, string>, ident: (s: string) => string) => string,
  read: (con: Connection, count: number) => Promise<T>,
): Promise<T> {
  const [{ DuckDBInstance }, { itemTableSource, sqlIdent, describeColumns }] = await Promise.all([
    import('@duckdb/node-api'),
    import('../data/duckdb-sql.js'),
  ]);
  const { path, format, idColumn, idFlag } = source;
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const from = itemTableSource(path, format);
    const columns = await describeColumns(con, from, path);
    requireColumns(columns, [idColumn], idFlag, path);
    await con.run(
      `CREATE TEMP TABLE t AS SELECT row_number() OVER () AS r, CAST(${sqlIdent(idColumn)} AS VARCHAR) AS id, ${select(columns, sqlIdent)} FROM ${from}`,
    );
    const first = async (query: string): Promise<unknown[] | null> =>
      (await con.runAndReadAll(query)).getRowsJS()[0] ?? null;
    const count = Number((await first('SELECT count(*) FROM t'))?.[0] ?? 0);
    if (count === 0) throw new DataError({ file: path }, 'no data rows');
    const emptyId = await first(`SELECT r FROM t WHERE id IS NULL OR id = '' ORDER BY r LIMIT 1`);
    if (emptyId !== null)
      throw new DataError(
        { file: path, ...where(format, Number(emptyId[0])), column: idColumn },
        'empty id',
      );
    const duplicate = await first(
      'SELECT id, min(r), max(r) FROM t GROUP BY id HAVING count(*) > 1 ORDER BY min(r) LIMIT 1',
    );
    if (duplicate !== null)
      throw new DataError(
        { file: path, ...where(format, Number(duplicate[2])), column: idColumn },
        `id "${String(duplicate[0])}" also appears in ${format === 'csv' ? `line ${Number(duplicate[1]) + 1}` : `row ${Number(duplicate[1])}`}; ids must be unique`,
      );
    return await read(con, count);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/**
 * Reads ids and texts: each item's text is its `textColumns` joined by spaces, in the order
 * given; a list column (Parquet `tags: ["a", "b"]`) contributes its elements joined by spaces,
 * a missing value nothing.
 *
 * @throws InvalidArgumentError naming `textFlag` (or the id flag) when a column is not in the file.
 * @throws DataError naming the file and row on an empty or duplicate id, or a file with no rows.
 */
export async function readItemTexts(
  source: ItemTableSource,
  textColumns: readonly string[],
  textFlag: string,
): Promise<ItemTexts> {
  return withItemTable(
    source,
    (columns, ident) => {
      requireColumns(columns, textColumns, textFlag, source.path);
      const parts = textColumns.map((c) =>
        /\[\d*\]$/.test(columns.get(c) ?? '')
          ? `array_to_string(${ident(c)}, ' ')`
          : `CAST(${ident(c)} AS VARCHAR)`,
      );
      return `concat_ws(' ', ${parts.join(', ')}) AS text`;
    },
    async (con) => {
      const reader = await con.runAndReadAll('SELECT id, text FROM t ORDER BY r');
      const ids: string[] = [];
      const texts: string[] = [];
      for (const [id, text] of reader.getRowsJS()) {
        ids.push(String(id));
        texts.push(text === null ? '' : String(text));
      }
      return { ids, texts };
    },
  );
}

/**
 * Reads ids and numeric features: either the number columns `featureColumns` (in that order), or
 * the one list column `vectorColumn` (in CSV a JSON array in one quoted field, `"[0.1, 0.2]"`).
 *
 * @throws InvalidArgumentError naming `flag` when a column is not in the file.
 * @throws DataError naming the file, row and column on a value that is no finite number, a list
 *   of another length than the first row's, or an empty or duplicate id.
 */
export async function readItemFeatures(
  source: ItemTableSource,
  columns: { featureColumns: readonly string[] } | { vectorColumn: string },
  flag: string,
): Promise<ItemFeatures> {
  const { path, format } = source;
  const named = 'vectorColumn' in columns ? [columns.vectorColumn] : columns.featureColumns;
  return withItemTable(
    source,
    (described, ident) => {
      requireColumns(described, named, flag, path);
      if ('vectorColumn' in columns)
        return `CAST(${ident(columns.vectorColumn)} AS VARCHAR) AS raw, TRY_CAST(${ident(columns.vectorColumn)} AS DOUBLE[]) AS v`;
      const casts = columns.featureColumns.map((c) => `TRY_CAST(${ident(c)} AS DOUBLE)`);
      const raws = columns.featureColumns.map((c) => `CAST(${ident(c)} AS VARCHAR)`);
      return `list_value(${raws.join(', ')}) AS raw, list_value(${casts.join(', ')}) AS v`;
    },
    async (con, count) => {
      const first = async (query: string): Promise<unknown[] | null> =>
        (await con.runAndReadAll(query)).getRowsJS()[0] ?? null;
      /**
       * The error for row `r` (1-based): at component `at` (a value that is no finite number once
       * read), else at its first missing or non-numeric value, or the whole cell.
       */
      const badValue = (r: number, raw: unknown, values: unknown, at = -1): DataError => {
        const list = Array.isArray(values) ? (values as unknown[]) : null;
        const vector = 'vectorColumn' in columns;
        const j = at >= 0 || list === null ? at : list.indexOf(null);
        const column = vector ? named[0] : named[Math.max(j, 0)];
        const location = { file: path, ...where(format, r), column };
        if (at >= 0)
          return new DataError(
            location,
            vector
              ? `component ${at + 1} is ${String(list?.[at])}; values must be finite and within float32's range`
              : `${String(list?.[at])} is not a finite number within float32's range`,
          );
        const cell = vector || !Array.isArray(raw) ? raw : raw[Math.max(j, 0)];
        const shown =
          cell === null || cell === undefined
            ? 'an empty value'
            : JSON.stringify(String(cell).slice(0, 80));
        return new DataError(
          location,
          vector
            ? `${shown} is not a list of numbers${format === 'csv' ? ' (write it as a JSON array, e.g. "[0.1, 0.2]")' : ''}`
            : `${shown} is not a number`,
        );
      };
      const bad = await first(
        'SELECT r, raw, v FROM t WHERE v IS NULL OR len(v) = 0 OR list_count(v) < len(v) ORDER BY r LIMIT 1',
      );
      if (bad !== null) {
        const [r, raw, values] = bad as [unknown, unknown, unknown];
        throw badValue(Number(r), raw, values);
      }
      const width = Number((await first('SELECT len(v) FROM t ORDER BY r LIMIT 1'))?.[0]);
      const ragged = await first(
        `SELECT r, len(v) FROM t WHERE len(v) <> ${width} ORDER BY r LIMIT 1`,
      );
      if (ragged !== null)
        throw new DataError(
          { file: path, ...where(format, Number(ragged[0])), column: named[0] },
          `has ${Number(ragged[1])} values, the first row ${width}; every row must have as many`,
        );
      const ids: string[] = new Array(count);
      const rows = new Float32Array(count * width);
      const reader = await con.runAndReadAll('SELECT id, v FROM t ORDER BY r');
      let i = 0;
      for (const [id, v] of reader.getRowsJS()) {
        ids[i] = String(id);
        const values = v as readonly number[];
        for (let j = 0; j < width; j++) {
          rows[i * width + j] = values[j];
          const x = rows[i * width + j];
          // NaN and infinities (also doubles beyond float32's range) are refused here.
          if (x - x !== 0) throw badValue(i + 1, null, values, j);
        }
        i++;
      }
      return { ids, width, rows };
    },
  );
}

function requireColumns(
  columns: Map<string, string>,
  wanted: readonly string[],
  flag: string,
  path: string,
): void {
  for (const name of wanted) {
    if (!columns.has(name))
      throw new InvalidArgumentError(
        flag,
        `column "${name}" is not in ${path}; its columns: ${[...columns.keys()].map((c) => `"${c}"`).join(', ')}`,
      );
  }
}

/** A row's place in errors: a CSV's line (the header is line 1) or a Parquet row. */
function where(format: 'csv' | 'parquet', row: number): { line: number } | { row: number } {
  return format === 'csv' ? { line: row + 1 } : { row };
}
