/**
 * Reading a set of vectors from a file: `.fvecs`, `.npy` (float32, 2-D, C order), or CSV / Parquet
 * with an `id` and a `vector` column, into one row-major `Float32Array`.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { endianness } from 'node:os';
import { extname } from 'node:path';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { assertAttributeName, MAX_ATTRIBUTE_VALUE, VectorAttributes } from './vector-attributes.js';

/** The file formats {@link readVectors} reads. */
export type VectorFileFormat = 'fvecs' | 'npy' | 'csv' | 'parquet';

/** The formats, in the order help texts list them. */
export const VECTOR_FILE_FORMATS: readonly VectorFileFormat[] = Object.freeze([
  'fvecs',
  'npy',
  'csv',
  'parquet',
]);

/** What {@link readVectors} returns. */
export interface VectorFile {
  /** String ids in row order (CSV, Parquet), or null when rows are identified by their 0-based number (fvecs, npy). */
  ids: string[] | null;
  /** Components per vector. */
  dim: number;
  /** `rows × dim`, row-major. */
  vectors: Float32Array;
  /** Row `r`'s attributes from the columns asked for (`ReadVectorsOptions.attributes`); empty when none were. */
  attributes: VectorAttributes;
}

/** Options of {@link readVectors}. */
export interface ReadVectorsOptions {
  /** @defaultValue from the extension: `.fvecs`, `.npy`, `.parquet`/`.pq`, `.csv` */
  format?: VectorFileFormat;
  /**
   * Extra columns of a CSV or Parquet file read as filterable attributes (strings; an empty or
   * null cell is no value). @defaultValue none
   */
  attributes?: readonly string[];
  /** The option named when `attributes` is refused. @defaultValue 'attributes' */
  attributesField?: string;
}

/**
 * The format a file name's extension implies, or null.
 *
 * @example
 * vectorFileFormat('items.npy'); // 'npy'
 */
export function vectorFileFormat(path: string): VectorFileFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === '.fvecs') return 'fvecs';
  if (ext === '.npy') return 'npy';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.csv') return 'csv';
  return null;
}

/**
 * Reads vectors from a file:
 * - `.fvecs`: per row, a little-endian int32 dimension then that many little-endian float32s
 *   (the TEXMEX format); every row must have the same dimension;
 * - `.npy`: a NumPy array of dtype `<f4`, 2-D, C order (`np.save(path, a.astype('float32'))`);
 * - CSV (with a header) and Parquet: an `id` column (any type, read as a string; unique) and a
 *   `vector` column. In Parquet `vector` is a list (or fixed-size array) of numbers; in CSV it is
 *   a JSON array of numbers in one field, quoted because it holds commas:
 *   `id,vector` / `a,"[0.1, 0.2, 0.3]"`.
 * - with `attributes`, those extra CSV/Parquet columns are read as strings into
 *   {@link VectorFile.attributes} (`id,vector,category` / `a,"[0.1, 0.2]",stickers`); an empty
 *   or null cell is no value. fvecs and npy hold no attributes (InvalidArgumentError naming
 *   `attributesField`).
 *
 * Every vector must have the same dimension (at least 1) and only finite components; there
 * must be at least one row.
 *
 * @throws InvalidArgumentError naming `format` when the format is unknown.
 * @throws DataError naming the file, the row (1-based; a CSV's line) and the reason: missing file
 *   or column, ragged rows, NaN or infinity, a wrong dtype or order, a duplicate or empty id.
 * @example
 * ```ts
 * const { ids, dim, vectors } = await readVectors('items.fvecs'); // ids null: row numbers
 * ```
 */
export async function readVectors(
  path: string,
  options: ReadVectorsOptions = {},
): Promise<VectorFile> {
  const format = options.format ?? vectorFileFormat(path);
  if (format === null)
    throw new InvalidArgumentError(
      'format',
      `cannot tell the format of "${path}" from its extension; use .fvecs, .npy, .csv or .parquet (or name the format)`,
    );
  if (!VECTOR_FILE_FORMATS.includes(format))
    throw new InvalidArgumentError(
      'format',
      `must be one of ${VECTOR_FILE_FORMATS.join(', ')}, got "${String(format)}"`,
    );
  const attributes = options.attributes ?? [];
  const attributesField = options.attributesField ?? 'attributes';
  for (const name of attributes) {
    assertAttributeName(name, attributesField);
    if (name === 'id' || name === 'vector')
      throw new InvalidArgumentError(attributesField, `"${name}" is not an attribute column`);
  }
  if (attributes.length > 0 && (format === 'fvecs' || format === 'npy'))
    throw new InvalidArgumentError(
      attributesField,
      `.${format} files hold only vectors; attributes come from extra columns of a CSV or Parquet file`,
    );
  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file not found');
  if (!info.isFile()) throw new DataError({ file: path }, 'not a regular file');
  if (format === 'fvecs') return parseFvecs(await readFile(path), path);
  if (format === 'npy') return parseNpy(await readFile(path), path);
  return readTableVectors(path, format, [...new Set(attributes)]);
}

/**
 * Parses the bytes of an `.fvecs` file (see {@link readVectors}); `file` names it in errors.
 *
 * @throws DataError naming the file and row.
 */
export function parseFvecs(bytes: Uint8Array, file: string): VectorFile {
  if (bytes.byteLength === 0) throw new DataError({ file }, 'the file is empty; no vectors');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw new DataError({ file, row: 1 }, 'truncated dimension');
  const dim = view.getInt32(0, true);
  if (dim < 1 || dim > 1 << 20)
    throw new DataError({ file, row: 1 }, `dimension ${dim} is not between 1 and ${1 << 20}`);
  const stride = 4 + 4 * dim;
  const rows = Math.floor(bytes.byteLength / stride);
  if (rows * stride !== bytes.byteLength) {
    // Find the first row whose header disagrees, for a precise message.
    for (let r = 0; r < rows; r++) {
      const d = view.getInt32(r * stride, true);
      if (d !== dim)
        throw new DataError(
          { file, row: r + 1 },
          `dimension ${d} differs from the first row's ${dim} (ragged rows)`,
        );
    }
    throw new DataError(
      { file, row: rows + 1 },
      `truncated: ${bytes.byteLength - rows * stride} trailing bytes do not make a row of ${dim} float32s`,
    );
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const words = aligned.byteLength / 4;
  const ints = new Int32Array(aligned.buffer, aligned.byteOffset, words);
  const floats = new Float32Array(aligned.buffer, aligned.byteOffset, words);
  const out = new Float32Array(rows * dim);
  const littleEndian = endianness() === 'LE';
  for (let r = 0; r < rows; r++) {
    const at = r * (dim + 1);
    const d = littleEndian ? ints[at] : view.getInt32(at * 4, true);
    if (d !== dim)
      throw new DataError(
        { file, row: r + 1 },
        `dimension ${d} differs from the first row's ${dim} (ragged rows)`,
      );
    if (littleEndian) out.set(floats.subarray(at + 1, at + 1 + dim), r * dim);
    else for (let j = 0; j < dim; j++) out[r * dim + j] = view.getFloat32((at + 1 + j) * 4, true);
  }
  assertFinite(out, dim, file);
  return { ids: null, dim, vectors: out, attributes: new VectorAttributes() };
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parses the bytes of a `.npy` file holding a 2-D float32 C-order array; `file` names it in
 * errors. Header: magic, version, header length (uint16 in version 1, uint32 in 2 and 3), then
 * a Python dict literal with `descr`, `fortran_order` and `shape`.
 *
 * @throws DataError naming the file and the reason (not NumPy, a dtype other than `<f4`, Fortran
 *   order, not 2-D, truncated, NaN or infinity with its row).
 */
export function parseNpy(bytes: Uint8Array, file: string): VectorFile {
  if (bytes.byteLength < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b))
    throw new DataError({ file }, 'not a NumPy .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new DataError({ file }, 'truncated .npy header');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new DataError({ file }, `unsupported .npy format version ${major}; 1, 2 or 3 are read`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.byteLength) throw new DataError({ file }, 'truncated .npy header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  );
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new DataError(
      { file },
      `malformed .npy header (needs descr, fortran_order and shape): ${JSON.stringify(header.trim())}`,
    );
  if (descr !== '<f4' && !(descr === '=f4' && endianness() === 'LE'))
    throw new DataError(
      { file },
      `dtype "${descr}" is not read; save the array as little-endian float32 ("<f4"), e.g. a.astype("float32")`,
    );
  if (fortran === 'True')
    throw new DataError(
      { file },
      'the array is in Fortran (column-major) order; save it in C order, e.g. np.ascontiguousarray(a)',
    );
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.length !== 2 || shape.some((n) => !Number.isSafeInteger(n) || n < 0))
    throw new DataError(
      { file },
      `the array has shape (${shapeText.trim()}); a 2-D array (rows, dim) is read`,
    );
  const [rows, dim] = shape;
  if (rows === 0) throw new DataError({ file }, 'the array has no rows');
  if (dim === 0) throw new DataError({ file }, 'the array has dimension 0');
  const needed = rows * dim * 4;
  if (bytes.byteLength - dataStart !== needed)
    throw new DataError(
      { file },
      `holds ${bytes.byteLength - dataStart} data bytes; shape (${rows}, ${dim}) of float32 needs ${needed}`,
    );
  const data = bytes.subarray(dataStart);
  const out = new Float32Array(rows * dim);
  if (endianness() === 'LE') {
    new Uint8Array(out.buffer).set(data);
  } else {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  assertFinite(out, dim, file);
  return { ids: null, dim, vectors: out, attributes: new VectorAttributes() };
}

/** @throws DataError naming the first row (1-based) holding NaN or an infinity. */
function assertFinite(vectors: Float32Array, dim: number, file: string): void {
  for (let i = 0; i < vectors.length; i++) {
    const x = vectors[i];
    if (x - x !== 0) {
      throw new DataError(
        { file, row: Math.floor(i / dim) + 1 },
        `component ${(i % dim) + 1} is ${x}; vectors must be finite`,
      );
    }
  }
}

async function readTableVectors(
  path: string,
  format: 'csv' | 'parquet',
  attributeColumns: readonly string[],
): Promise<VectorFile> {
  const [{ DuckDBInstance, DuckDBListVector, DuckDBFloatVector }, sql] = await Promise.all([
    import('@duckdb/node-api'),
    import('../data/duckdb-sql.js'),
  ]);
  const { itemTableSource, describeColumns } = sql;
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const source = itemTableSource(path, format);
    const columns = await describeColumns(con, source, path);
    for (const name of ['id', 'vector', ...attributeColumns]) {
      if (!columns.has(name))
        throw new DataError(
          { file: path, column: name },
          `missing required column "${name}"; the file has ${[...columns.keys()].map((c) => `"${c}"`).join(', ')}`,
        );
    }
    const where = (row: number) => (format === 'csv' ? { line: row + 1 } : { row });
    await con.run(
      `CREATE TEMP TABLE t AS SELECT row_number() OVER () AS r, CAST("id" AS VARCHAR) AS id, "vector" AS raw, TRY_CAST("vector" AS FLOAT[]) AS v${attributeColumns.map((c, i) => `, CAST("${c}" AS VARCHAR) AS a${i}`).join('')} FROM ${source}`,
    );
    const first = async (query: string): Promise<unknown[] | null> =>
      (await con.runAndReadAll(query)).getRowsJS()[0] ?? null;

    const count = Number((await first('SELECT count(*) FROM t'))?.[0] ?? 0);
    if (count === 0) throw new DataError({ file: path }, 'no data rows');
    const emptyId = await first(`SELECT r FROM t WHERE id IS NULL OR id = '' ORDER BY r LIMIT 1`);
    if (emptyId !== null)
      throw new DataError({ file: path, ...where(Number(emptyId[0])), column: 'id' }, 'empty id');
    const badVector = await first(
      // list_contains(v, NULL) is never true in DuckDB: count the non-null elements instead. A
      // number beyond float32's range reads as infinity (NaN is named further on, by component).
      'SELECT r, CAST(raw AS VARCHAR), v IS NOT NULL AND list_count(v) = len(v) FROM t WHERE v IS NULL OR list_count(v) < len(v) OR len(list_filter(v, lambda e: isinf(e))) > 0 ORDER BY r LIMIT 1',
    );
    if (badVector !== null) {
      const text = badVector[1] === null ? null : String(badVector[1]);
      throw new DataError(
        { file: path, ...where(Number(badVector[0])), column: 'vector' },
        text === null
          ? 'empty vector'
          : badVector[2] === true
            ? `${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)} holds a number beyond float32's range (about ±3.4e38)`
            : `${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)} is not a list of numbers${format === 'csv' ? ' (write it as a JSON array, e.g. "[0.1, 0.2]")' : ''}`,
      );
    }
    const dim = Number((await first('SELECT len(v) FROM t ORDER BY r LIMIT 1'))?.[0]);
    if (dim < 1)
      throw new DataError({ file: path, ...where(1), column: 'vector' }, 'the vector is empty');
    const ragged = await first(`SELECT r, len(v) FROM t WHERE len(v) <> ${dim} ORDER BY r LIMIT 1`);
    if (ragged !== null)
      throw new DataError(
        { file: path, ...where(Number(ragged[0])), column: 'vector' },
        `dimension ${Number(ragged[1])} differs from the first row's ${dim} (ragged rows)`,
      );
    const duplicate = await first(
      'SELECT id, min(r), max(r) FROM t GROUP BY id HAVING count(*) > 1 ORDER BY min(r) LIMIT 1',
    );
    if (duplicate !== null)
      throw new DataError(
        { file: path, ...where(Number(duplicate[2])), column: 'id' },
        `id "${String(duplicate[0])}" also appears in ${format === 'csv' ? 'line' : 'row'} ${where(Number(duplicate[1])).line ?? Number(duplicate[1])}; ids must be unique`,
      );

    const ids: string[] = new Array(count);
    const vectors = new Float32Array(count * dim);
    const result = await con.run('SELECT id, v FROM t ORDER BY r');
    let row = 0;
    for (let chunk = await result.fetchChunk(); chunk !== null && chunk.rowCount > 0; ) {
      const idVector = chunk.getColumnVector(0);
      const listVector = chunk.getColumnVector(1);
      if (!(listVector instanceof DuckDBListVector))
        throw new Error('readVectors: DuckDB returned the vector column as no list');
      const child = listVector.childVector;
      if (!(child instanceof DuckDBFloatVector))
        throw new Error('readVectors: DuckDB returned the vector elements as no FLOAT');
      for (let i = 0; i < chunk.rowCount; i++, row++) {
        ids[row] = String(idVector.getItem(i));
        const offset = listVector.getEntryOffset(i);
        const base = row * dim;
        for (let j = 0; j < dim; j++) vectors[base + j] = child.getItem(offset + j) as number;
      }
      chunk = await result.fetchChunk();
    }
    for (let i = 0; i < vectors.length; i++) {
      const x = vectors[i];
      if (x - x !== 0)
        throw new DataError(
          { file: path, ...where(Math.floor(i / dim) + 1), column: 'vector' },
          `component ${(i % dim) + 1} is ${x}; vectors must be finite`,
        );
    }
    const attributes = new VectorAttributes();
    if (attributeColumns.length > 0) {
      const columns = (
        await con.runAndReadAll(
          `SELECT ${attributeColumns.map((_, i) => `a${i}`).join(', ')} FROM t ORDER BY r`,
        )
      ).getColumnsJS();
      for (const name of attributeColumns) attributes.declare(name);
      const values: Record<string, string> = {};
      for (let r = 0; r < count; r++) {
        for (const key of Object.keys(values)) delete values[key];
        for (let c = 0; c < attributeColumns.length; c++) {
          const cell = columns[c]![r];
          if (cell === null || cell === undefined || cell === '') continue;
          const text = String(cell);
          if (text.length > MAX_ATTRIBUTE_VALUE)
            throw new DataError(
              { file: path, ...where(r + 1), column: attributeColumns[c]! },
              `value of ${text.length} characters; attributes hold at most ${MAX_ATTRIBUTE_VALUE}`,
            );
          values[attributeColumns[c]!] = text;
        }
        attributes.set(r, values);
      }
    }
    return { ids, dim, vectors, attributes };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
