/**
 * The item catalogue (issue 22): what a service knows about its items beyond interactions —
 * categories (for `?category=` filters and category-popular fallbacks), the creator of each item
 * (for user→creator recommendations) and whether an item is retired (never served). Read from an
 * item table (CSV with a header line, or Parquet) through DuckDB, aligned to a model's items.
 *
 * @module
 */
import { DataError } from '../core/errors.js';
import type { IdMap } from './id-map.js';

/** Which columns of the item table hold what (`data.items` in the pipeline configuration). */
export interface ItemCatalogueColumns {
  /** The id column. @defaultValue the table's first column */
  id?: string;
  /** Categories of each item: one value, or several split by {@link categorySeparator} (or a list column). */
  category?: string;
  /** @defaultValue `|` */
  categorySeparator?: string;
  /** The creator (artist, seller, author) of each item. */
  creator?: string;
  /** A boolean (or 0/1, `true`/`false`) column: a true cell retires the item. */
  retired?: string;
}

/** The catalogue of a model's items, indexed by dense item id. */
export interface ItemCatalogue {
  /** Each item's categories (empty when it has none or is not in the table). */
  categories: readonly (readonly string[])[];
  /** Each item's creator, or null. */
  creators: readonly (string | null)[];
  /** 1 where the item is retired. */
  retired: Uint8Array;
  /** Table rows matched to one of the model's items. */
  matched: number;
}

const TRUE_CELLS = new Set(['true', '1', 't', 'yes', 'y']);
const FALSE_CELLS = new Set(['false', '0', 'f', 'no', 'n', '']);

/**
 * Reads the catalogue columns of an item table for the items of `items` (a table id matches as
 * {@link IdMap.indexOf} matches, so `"589"` is item 589); rows of other items are skipped.
 *
 * @example
 * const catalogue = await readItemCatalogue('items.csv', { category: 'genres', creator: 'artist' }, data.items);
 * @throws DataError naming the file, line and column for a missing column, an empty or duplicate
 *   id, or a `retired` cell that is not a boolean.
 */
export async function readItemCatalogue(
  path: string,
  columns: ItemCatalogueColumns,
  items: IdMap,
): Promise<ItemCatalogue> {
  const format = path.toLowerCase().endsWith('.parquet') ? 'parquet' : 'csv';
  const { sqlIdent, withItemTable } = await import('./duckdb-sql.js');
  const idOf = (described: Map<string, string>): string => columns.id ?? [...described.keys()][0];
  const required = (described: Map<string, string>) =>
    [idOf(described), columns.category, columns.creator, columns.retired].filter(
      (c): c is string => c !== undefined,
    );
  return withItemTable(path, format, required, async ({ con, source, columns: described }) => {
    const idColumn = idOf(described);
    const text = (column: string | undefined): string =>
      column === undefined
        ? 'NULL'
        : described.get(column)!.endsWith('[]')
          ? `array_to_string(CAST(${sqlIdent(column)} AS VARCHAR[]), chr(31))`
          : `CAST(${sqlIdent(column)} AS VARCHAR)`;
    const rows = (
      await con.runAndReadAll(
        `SELECT CAST(${sqlIdent(idColumn)} AS VARCHAR), ${text(columns.category)}, ${text(columns.creator)}, ${text(columns.retired)} FROM ${source}`,
      )
    ).getRowsJS() as (string | null)[][];
    const categoryIsList =
      columns.category !== undefined && described.get(columns.category)!.endsWith('[]');
    const separator = categoryIsList ? '\u001f' : (columns.categorySeparator ?? '|');
    const categories: string[][] = Array.from({ length: items.size }, () => []);
    const creators: (string | null)[] = new Array(items.size).fill(null);
    const retired = new Uint8Array(items.size);
    const seen = new Uint8Array(items.size);
    let matched = 0;
    for (let r = 0; r < rows.length; r++) {
      const [id, category, creator, retiredCell] = rows[r];
      const where = { file: path, ...(format === 'csv' ? { line: r + 2 } : { row: r + 1 }) };
      if (id === null || id === '') throw new DataError({ ...where, column: idColumn }, 'empty id');
      const i = items.indexOf(id);
      if (i < 0) continue;
      if (seen[i] === 1)
        throw new DataError(
          { ...where, column: idColumn },
          `id "${id}" appears twice; ids must be unique`,
        );
      seen[i] = 1;
      matched++;
      if (category !== null)
        categories[i] = [
          ...new Set(
            category
              .split(separator)
              .map((c) => c.trim())
              .filter((c) => c !== ''),
          ),
        ];
      if (creator !== null && creator.trim() !== '') creators[i] = creator.trim();
      if (retiredCell !== null) {
        const cell = retiredCell.trim().toLowerCase();
        if (TRUE_CELLS.has(cell)) retired[i] = 1;
        else if (!FALSE_CELLS.has(cell))
          throw new DataError(
            { ...where, column: columns.retired! },
            `"${retiredCell}" is not a boolean (true/false, 1/0, yes/no, or empty)`,
          );
      }
    }
    return { categories, creators, retired, matched };
  });
}
