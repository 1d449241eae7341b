import type { ExternalIdColumn } from './id-map.js';

/** A bad row found while reading, with where it is and why it was refused. */
export interface BadRow {
  /** 1-based line in a CSV file (header = line 1), or 1-based row in a Parquet file. */
  line?: number;
  row?: number;
  column?: string;
  reason: string;
  /** The raw text of the line, where the format has lines. */
  text?: string;
}

/**
 * Interactions as read from a file, still on external ids, one entry per row in file order.
 * Only the user and item columns are required; values and timestamps are null where absent.
 */
export interface InteractionLog {
  /** The file it came from, for messages. */
  readonly source: string;
  readonly rows: number;
  readonly users: ExternalIdColumn;
  readonly items: ExternalIdColumn;
  readonly values: Float32Array | null;
  /** Seconds or milliseconds, as in the file. */
  readonly timestamps: Float64Array | null;
  /** Rows skipped because they were malformed (only when skipping was asked for). */
  readonly skipped: number;
  /** Up to the first ten skipped rows, for the report. */
  readonly badRows: readonly BadRow[];
}
