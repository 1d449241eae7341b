import { DataError, InvalidArgumentError } from '../core/errors.js';
import type { IdMap } from './id-map.js';

/** One column of an item table and how it becomes features. */
export interface ItemFeatureColumn {
  /** The column's name in the table. */
  column: string;
  /**
   * `multi`: multi-hot, the cell split on `separator` (a list column of a Parquet file: its
   * elements), one feature per distinct value; `cat`: one-hot, one feature per distinct value;
   * `num`: one numeric feature, standardised to mean 0 and standard deviation 1 over the model's
   * items, a missing or empty cell 0 plus a `column:missing` indicator feature.
   */
  kind: 'multi' | 'cat' | 'num';
  /** Separator of a `multi` text cell. @defaultValue '|' */
  separator?: string;
}

/**
 * Item side features aligned to a model's dense item indices: a CSR matrix of `items.size` rows
 * (row i: the nonzero features of dense item i; an item not in the table has none) and
 * `names.length` columns.
 */
export interface ItemFeatures {
  /** Feature names: `genres=Comedy`, `kind=film`, `year`, `year:missing`, in column order. */
  names: string[];
  /** Number of feature columns (`names.length`). */
  nFeatures: number;
  /** `items + 1` offsets into `indices` and `values`. */
  indptr: Int32Array;
  /** Feature columns of each row, ascending within a row. */
  indices: Int32Array;
  values: Float32Array;
  /** How many of the model's items the table had a row for. */
  matched: number;
}

/**
 * Parses a column spec such as `genres:multi:|,kind:cat,year:num`: comma-separated entries
 * `column:kind[:separator]` (the separator of `multi`, default `|`, may be any text without a
 * comma).
 * @throws InvalidArgumentError naming `field` on an empty spec, an unknown kind or a column twice.
 */
export function parseItemFeatureSpec(
  spec: string,
  field = 'itemFeatureColumns',
): ItemFeatureColumn[] {
  const out: ItemFeatureColumn[] = [];
  for (const entry of spec.split(',')) {
    if (entry.trim() === '') continue;
    const [column, kind, ...rest] = entry.split(':');
    const name = column.trim();
    if (name === '')
      throw new InvalidArgumentError(field, `"${entry}" names no column (write column:kind)`);
    if (kind !== 'multi' && kind !== 'cat' && kind !== 'num')
      throw new InvalidArgumentError(
        field,
        `column "${name}": kind ${kind === undefined ? 'missing' : `"${kind}"`}, expected multi, cat or num (e.g. genres:multi:|, kind:cat, year:num)`,
      );
    const separator = rest.join(':');
    if (kind !== 'multi' && separator !== '')
      throw new InvalidArgumentError(
        field,
        `column "${name}": only multi takes a separator, got "${separator}"`,
      );
    if (out.some((c) => c.column === name))
      throw new InvalidArgumentError(field, `column "${name}" is named twice`);
    out.push(
      kind === 'multi'
        ? { column: name, kind, separator: separator || '|' }
        : { column: name, kind },
    );
  }
  if (out.length === 0) throw new InvalidArgumentError(field, 'names no column');
  return out;
}

/** Options of {@link readItemFeatures}. */
export interface ReadItemFeaturesOptions {
  /** The id column. @defaultValue the table's first column */
  idColumn?: string;
  /** @defaultValue `parquet` for a `.parquet` file, else `csv` */
  format?: 'csv' | 'parquet';
}

/**
 * Reads item side features from an item table (a CSV with a header line, or a Parquet file)
 * through DuckDB, for the items of `items` (a model's item id map: a table id is matched as
 * {@link IdMap.indexOf} matches, so `"589"` is item 589): the columns of `spec` (see
 * {@link parseItemFeatureSpec}) become the features of {@link ItemFeatures}. Table rows of items
 * the model does not know are skipped, and so are values only they have: every feature occurs
 * in at least one of the model's items. Deterministic: value features are ordered by column,
 * then value.
 *
 * @example
 * const features = await readItemFeatures('movies.csv', 'genres:multi:|', data.items);
 * await model.fit(data, { itemFeatures: features });
 * @throws DataError naming the file and column for a missing column, an empty or duplicate id,
 *   or a `num` cell that is not a number.
 * @throws InvalidArgumentError for a bad spec.
 */
export async function readItemFeatures(
  path: string,
  spec: string | readonly ItemFeatureColumn[],
  items: IdMap,
  options: ReadItemFeaturesOptions = {},
): Promise<ItemFeatures> {
  const columns = typeof spec === 'string' ? parseItemFeatureSpec(spec) : spec;
  const format = options.format ?? (path.toLowerCase().endsWith('.parquet') ? 'parquet' : 'csv');
  const { sqlIdent, withItemTable } = await import('./duckdb-sql.js');
  const idOf = (described: Map<string, string>): string =>
    options.idColumn ?? [...described.keys()][0];
  const required = (described: Map<string, string>) => [
    idOf(described),
    ...columns.map((c) => c.column),
  ];
  return withItemTable(path, format, required, async ({ con, source, columns: described }) => {
    const idColumn = idOf(described);
    const select = columns.map((c, x) => {
      const isList = described.get(c.column)!.endsWith('[]');
      return c.kind === 'multi' && isList
        ? `CAST(${sqlIdent(c.column)} AS VARCHAR[]) AS c${x}`
        : `CAST(${sqlIdent(c.column)} AS VARCHAR) AS c${x}`;
    });
    const rows = (
      await con.runAndReadAll(
        `SELECT CAST(${sqlIdent(idColumn)} AS VARCHAR) AS id${select.map((s) => `, ${s}`).join('')} FROM ${source}`,
      )
    ).getRowsJS();
    const where = (r: number) => (format === 'csv' ? { line: r + 2 } : { row: r + 1 });
    const rowOf = new Int32Array(items.size).fill(-1);
    let matched = 0;
    for (let r = 0; r < rows.length; r++) {
      const id = rows[r][0];
      if (id === null || id === '')
        throw new DataError({ file: path, ...where(r), column: idColumn }, 'empty id');
      const i = items.indexOf(String(id));
      if (i < 0) continue;
      if (rowOf[i] >= 0)
        throw new DataError(
          { file: path, ...where(r), column: idColumn },
          `id "${String(id)}" appears twice; ids must be unique`,
        );
      rowOf[i] = r;
      matched++;
    }

    // Per column: the features of each item, as (name, value) pairs, and the column's names.
    const names: string[] = [];
    const perItem: { f: number; v: number }[][] = Array.from({ length: items.size }, () => []);
    for (let x = 0; x < columns.length; x++) {
      const c = columns[x];
      const cell = (i: number): unknown => (rowOf[i] < 0 ? null : rows[rowOf[i]][x + 1]);
      if (c.kind === 'num') {
        const value = new Float64Array(items.size);
        const present = new Uint8Array(items.size);
        let sum = 0;
        let count = 0;
        let missing = 0;
        for (let i = 0; i < items.size; i++) {
          if (rowOf[i] < 0) continue;
          const raw = cell(i);
          const text = raw === null ? '' : String(raw).trim();
          if (text === '') {
            missing++;
            continue;
          }
          const n = Number(text);
          if (!Number.isFinite(n))
            throw new DataError(
              { file: path, ...where(rowOf[i]), column: c.column },
              `"${text}" is not a number (a num column holds numbers; leave a cell empty for a missing value)`,
            );
          value[i] = n;
          present[i] = 1;
          sum += n;
          count++;
        }
        const mean = count === 0 ? 0 : sum / count;
        let ss = 0;
        for (let i = 0; i < items.size; i++) if (present[i]) ss += (value[i] - mean) ** 2;
        const std = count > 1 ? Math.sqrt(ss / count) : 0;
        const f = names.length;
        names.push(c.column);
        const fMissing = missing > 0 ? names.push(`${c.column}:missing`) - 1 : -1;
        for (let i = 0; i < items.size; i++) {
          if (rowOf[i] < 0) continue;
          if (present[i]) {
            const z = std > 0 ? (value[i] - mean) / std : 0;
            if (z !== 0) perItem[i].push({ f, v: z });
          } else perItem[i].push({ f: fMissing, v: 1 });
        }
        continue;
      }
      const valuesOf = (i: number): string[] => {
        const raw = cell(i);
        if (raw === null) return [];
        const parts = Array.isArray(raw)
          ? raw.filter((e) => e !== null).map(String)
          : c.kind === 'multi'
            ? String(raw).split(c.separator ?? '|')
            : [String(raw)];
        return [...new Set(parts.map((p) => p.trim()).filter((p) => p !== ''))];
      };
      const vocabulary = new Set<string>();
      const itemValues: string[][] = new Array(items.size);
      for (let i = 0; i < items.size; i++) {
        itemValues[i] = valuesOf(i);
        for (const v of itemValues[i]) vocabulary.add(v);
      }
      const sorted = [...vocabulary].sort();
      const index = new Map(sorted.map((v, k) => [v, names.length + k]));
      for (const v of sorted) names.push(`${c.column}=${v}`);
      for (let i = 0; i < items.size; i++)
        for (const v of itemValues[i]) perItem[i].push({ f: index.get(v)!, v: 1 });
    }
    const indptr = new Int32Array(items.size + 1);
    for (let i = 0; i < items.size; i++) indptr[i + 1] = indptr[i] + perItem[i].length;
    const indices = new Int32Array(indptr[items.size]);
    const values = new Float32Array(indptr[items.size]);
    for (let i = 0; i < items.size; i++) {
      const row = perItem[i].sort((a, b) => a.f - b.f);
      for (let k = 0; k < row.length; k++) {
        indices[indptr[i] + k] = row[k].f;
        values[indptr[i] + k] = row[k].v;
      }
    }
    return { names, nFeatures: names.length, indptr, indices, values, matched };
  });
}
