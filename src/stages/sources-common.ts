/**
 * Locator shapes and partition helpers shared by the source implementations of `sources.ts`
 * (`sources-files.ts`, `sources-duckdb.ts`, `sources-serving.ts`). Imports nothing heavy, so any
 * of them can use it without loading another's dependencies.
 *
 * @module
 */
import type { SourcePartition } from './source.js';

export type FileKind = 'csv' | 'jsonl' | 'parquet';

/** Locator of a file partition: the whole file, a range of its rows, or a byte range of whole lines. */
export interface FileLocator {
  file: string;
  /** 0-based data rows `[start, end)`; absent: every row. */
  rows?: { start: number; end: number };
  /** JSONL only: bytes `[start, end)` that begin and end at line boundaries; `line` is the first line's number. */
  bytes?: { start: number; end: number; line: number };
  /** CSV only: column names and DuckDB types, sniffed once at planning so every partition agrees. */
  schema?: [string, string][];
}

/** Locator of a query partition: rows `[offset, offset + limit)` of the query, or all of them. */
export interface QueryLocator {
  offset?: number;
  limit?: number;
}

/**
 * `[start, end)` ranges covering `0 … n` in `min(target, n)` near-equal parts (one empty range
 * when n is 0). Boundaries are `⌊n·i/parts⌋`, computed without forming `n·i` so that they stay
 * exact for any `n` up to 2^53.
 */
export function splitEvenly(n: number, target: number): [number, number][] {
  const parts = Math.max(1, Math.min(target, n));
  const r = n % parts;
  const q = (n - r) / parts;
  const at = (i: number): number => q * i + Math.floor((r * i) / parts);
  return Array.from({ length: parts }, (_, i) => [at(i), at(i + 1)]);
}

export function numbered(parts: { label: string; locator: unknown }[]): SourcePartition[] {
  return parts.map((p, index) => ({ index, ...p }));
}
