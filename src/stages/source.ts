import type { ServingStore } from '../storage/serving-store.js';

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

/**
 * A serving store opened for reading by a `serving` source, and what the partition plan needs to
 * know of it. The composition root opens it (see {@link ServingSourceOpener}); sources never turn
 * a URL into a backend themselves.
 */
export interface ServingSourceStore {
  store: ServingStore;
  /**
   * How `listKeys` pages come: `sorted` in key order, with cursors that stay on their version
   * (SQLite), so partitions are runs of keys; `scan` unordered (Redis SCAN), so partitions are
   * hash buckets of the keys.
   */
  keyOrder: 'sorted' | 'scan';
  /** What errors name as the store's file: the SQLite path, the Redis URL. */
  file: string;
  /** The backend as messages name it, e.g. `SQLite`, `Redis`. */
  name: string;
}

/**
 * Opens the serving store at `url` read-only for a `serving` source. Rejects, with an
 * `InvalidArgumentError` naming `field`, a URL no other process can read (`memory:`, in-memory
 * SQLite) or no backend takes.
 */
export type ServingSourceOpener = (url: string, field: string) => Promise<ServingSourceStore>;

/**
 * A module exporting a {@link ServingSourceOpener}: how the opener reaches stage workers on other
 * threads and processes (a function cannot cross). As with a `StageRef`, the module must be
 * importable where the worker runs.
 */
export interface ServingSourceOpenerRef {
  /** Absolute path or file URL of the module. */
  module: string;
  /** Export name. @defaultValue 'openServingSource' */
  export?: string;
}
