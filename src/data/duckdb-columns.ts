/**
 * Whole-chunk access to DuckDB result vectors, so that reading millions of rows costs a few
 * thousand typed-array copies instead of one `getItem` call per value.
 *
 * `@duckdb/node-api` keeps a numeric vector's data as a typed array over DuckDB's own memory
 * and its validity mask as 64-bit words, but does not expose either; both are reached here
 * behind shape checks, and every function falls back to `getItem` when the shape is not the
 * expected one, so a library upgrade can only make reading slower, never wrong.
 *
 * @module
 */
import type { DuckDBVector } from '@duckdb/node-api';

interface VectorInternals {
  items?: unknown;
  validity?: { data?: unknown; offset?: unknown };
}

/**
 * The values of a DOUBLE vector's first `rows` rows as a Float64Array over DuckDB's memory
 * (copy it before the chunk goes), or null when the vector is not a DOUBLE vector of that shape.
 */
export function doubleData(vector: DuckDBVector, rows: number): Float64Array | null {
  const items = (vector as unknown as VectorInternals).items;
  return items instanceof Float64Array && items.length >= rows ? items : null;
}

/** Whether none of the first `rows` rows of `vector` is NULL. */
export function allValid(vector: DuckDBVector, rows: number): boolean {
  const validity = (vector as unknown as VectorInternals).validity;
  if (validity !== undefined && validity.offset === 0) {
    // DuckDB leaves the mask out entirely when every row is valid.
    if (validity.data === null) return true;
    const words = validity.data;
    if (words instanceof BigUint64Array && words.length * 64 >= rows) {
      const full = rows >>> 6;
      for (let w = 0; w < full; w++) if (words[w] !== 0xffff_ffff_ffff_ffffn) return false;
      const rest = rows & 63;
      if (rest === 0) return true;
      const mask = (1n << BigInt(rest)) - 1n;
      return (words[full] & mask) === mask;
    }
  }
  for (let r = 0; r < rows; r++) if (vector.getItem(r) === null) return false;
  return true;
}

/**
 * Appends the first `rows` values of a DOUBLE vector (no NULLs) to `out` at `at`, converting to
 * the element type of `out` (a Float32Array rounds each value as `Math.fround` does).
 */
export function copyDoubles(
  vector: DuckDBVector,
  rows: number,
  out: Float64Array | Float32Array,
  at: number,
): void {
  const data = doubleData(vector, rows);
  if (data !== null) {
    out.set(rows === data.length ? data : data.subarray(0, rows), at);
    return;
  }
  for (let r = 0; r < rows; r++) out[at + r] = vector.getItem(r) as number;
}

/** A Float64Array or Float32Array that grows as chunks arrive and ends exactly `length` long. */
export class GrowableColumn<T extends Float64Array | Float32Array> {
  private data: T;
  /** Values written so far. */
  length = 0;

  /**
   * @param make - allocates an array of the column's type
   * @param expected - rows expected; the exact count avoids any copy at the end
   */
  constructor(
    private readonly make: (size: number) => T,
    expected: number,
  ) {
    this.data = make(Math.max(expected, 2048));
  }

  /** Room for `rows` more values at {@link GrowableColumn.length}; returns the array to fill. */
  reserve(rows: number): T {
    if (this.length + rows > this.data.length) {
      const grown = this.make(Math.max(this.data.length * 2, this.length + rows));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    return this.data;
  }

  /** The column, exactly {@link GrowableColumn.length} long. */
  finish(): T {
    return (this.data.length === this.length ? this.data : this.data.slice(0, this.length)) as T;
  }
}
