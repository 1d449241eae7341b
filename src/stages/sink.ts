/** Sinks as JSON specs. The coordinator is the only writer; parts become visible only at commit. */
export type SinkSpec =
  /** A directory of part files (`part-00000.jsonl`, …), replaced whole at commit. */
  | { kind: 'csv' | 'jsonl' | 'parquet'; path: string }
  /** A new serving version from records `{ key, items: [{ id, score }] }`, switched to at commit. */
  | { kind: 'serving'; url: string; namespace: 'user' | 'related' | 'popular'; version?: string }
  /** Outputs are returned by the runner (tests, small results) and nothing is written. */
  | { kind: 'collect' };

/**
 * An open sink. `write` may be called many times; nothing is visible to readers until
 * `commit`; `abort` removes whatever was written (a failed stage leaves no partial output).
 */
export interface SinkWriter {
  write(records: readonly unknown[]): Promise<void>;
  /** Makes everything written visible at once; resolves with figures (records, bytes, path). */
  commit(): Promise<Record<string, number | string>>;
  abort(): Promise<void>;
}
