/**
 * Sources as JSON specs, so that any thread or process can open its share: a spec is planned
 * into partitions once (by the coordinator), then each partition is read where it is processed.
 */
export type SourceSpec =
  /** A file, or a directory whose matching files are each one partition (Spark-style output). */
  | { kind: 'csv' | 'jsonl' | 'parquet'; path: string; columns?: string[] }
  /** A DuckDB query (it may read files itself: `SELECT … FROM read_parquet('…')`). */
  | { kind: 'query'; sql: string }
  /** Published lists of a serving store: records `{ key, items: [{ id, score }] }`. */
  | { kind: 'serving'; url: string; namespace: 'user' | 'related' | 'popular' }
  /** Records given inline (tests, small inputs). */
  | { kind: 'records'; records: unknown[] }
  /**
   * Synthetic records `{ id }` for each integer id in `[from, to)` (`from` defaults to 0), made
   * where they are read: nothing but the bounds is planned or shipped, so benchmarks can feed
   * millions of records for free. Both bounds are safe integers and `to − from ≤ 2^53`.
   */
  | { kind: 'range'; from?: number; to: number };

/** One share of a source, read by one preprocess worker at a time. */
export interface SourcePartition {
  /** 0-based, dense. */
  index: number;
  /** For logs: the file, or the row range. */
  label: string;
  /** Kind-specific position (file path, row range), opaque to runners; JSON. */
  locator: unknown;
}
