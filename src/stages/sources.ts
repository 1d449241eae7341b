/**
 * Sources: planning a {@link SourceSpec} into partitions and reading one partition, in any thread
 * or process. The implementation of each kind is loaded on first use (`sources-files.ts`,
 * `sources-duckdb.ts`, `sources-serving.ts`), because every stage worker imports this module and
 * DuckDB, ioredis and better-sqlite3 together take most of a second to load; records and ranges
 * need none of them and live here.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type {
  ServingSourceOpener,
  ServingSourceOpenerRef,
  SourcePartition,
  SourceSpec,
} from './source.js';
import type { FileLocator, QueryLocator } from './sources-common.js';
import { numbered, splitEvenly } from './sources-common.js';

/** Options of {@link planPartitions}. */
export interface PlanOptions {
  /**
   * How many partitions to cut a single file, a query, a serving namespace, inline records or a
   * range into (fewer when there are fewer rows). A directory always gives one partition per file.
   * @defaultValue 1
   */
  target?: number;
  /**
   * Opens the store of a `serving` source (the composition root passes its own; see
   * {@link servingSourceOpener}). Planning a serving source without one fails.
   * @defaultValue none
   */
  openServingSource?: ServingSourceOpener;
}

/** Options of {@link readPartition}. */
export interface ReadPartitionOptions {
  /** Most records per yielded batch. @defaultValue 1024 */
  batchSize?: number;
  /** As {@link PlanOptions.openServingSource}, for reading. @defaultValue none */
  openServingSource?: ServingSourceOpener;
}

/** Defaults of {@link PlanOptions} and {@link ReadPartitionOptions}. */
export const SOURCE_DEFAULTS = Object.freeze({ target: 1, batchSize: 1024 });

/** Locator of an inline-records partition: indices `[start, end)`. */
interface RecordsLocator {
  start: number;
  end: number;
}

/** Locator of a range partition: ids `[start, end)`. */
interface RangeLocator {
  start: number;
  end: number;
}

/**
 * Cuts a source into partitions, each readable on its own by {@link readPartition} in any thread
 * or process (locators are JSON). Runs once, in the coordinator.
 *
 * - A directory gives one partition per matching file (non-recursive; names starting with `.` or
 *   `_` are skipped, as Spark's `_SUCCESS` and hidden temporaries), in name order.
 * - A single Parquet file gives `target` row ranges, sized from the footer's row count (no scan);
 *   each partition reads only the row groups its range overlaps.
 * - A single plain JSONL file gives `target` byte ranges cut at line boundaries (one pass over
 *   the bytes to find them and their line numbers); each partition reads only its bytes.
 * - A single CSV or gzipped file gives `target` row ranges after one counting pass. Partition k
 *   parses the file from its start up to its range's end (CSV may quote newlines, and gzip
 *   cannot seek), so reading all partitions costs about `(target + 1) / 2` full parses: prefer a
 *   directory of files, or Parquet, for wide parallelism over large inputs.
 * - A query gives `target` LIMIT/OFFSET ranges after one `count(*)`: every partition runs the
 *   query, so it must be deterministic (same rows in the same order every time; give it an
 *   `ORDER BY` when in doubt). Materialising it once to a temporary file was rejected: the
 *   contract has no hook to remove that file when the stage ends.
 * - A serving namespace gives `target` shares of the current version's keys, pinned to that
 *   version (see {@link listServingKeys}).
 * - Inline records give `target` contiguous slices.
 * - A range gives `target` contiguous sub-ranges of its ids (no records are made until read).
 *
 * @throws InvalidArgumentError when the spec is malformed (naming the field, as `source.to`).
 * @throws DataError when a path is missing, a directory holds no matching file, or a file cannot be read.
 * @example
 * const parts = await planPartitions({ kind: 'parquet', path: 'events.parquet' }, { target: 8 });
 */
export async function planPartitions(
  spec: SourceSpec,
  options: PlanOptions = {},
): Promise<SourcePartition[]> {
  const target = options.target ?? SOURCE_DEFAULTS.target;
  if (!Number.isSafeInteger(target) || target < 1)
    throw new InvalidArgumentError('target', `must be an integer ≥ 1, got ${String(target)}`);
  switch (spec?.kind) {
    case 'csv':
    case 'jsonl':
    case 'parquet':
      return (await import('./sources-files.js')).planFiles(spec.kind, spec.path, target);
    case 'query':
      return (await import('./sources-duckdb.js')).planQuery(spec.sql, target);
    case 'serving':
      return (await import('./sources-serving.js')).planServing(
        spec.url,
        spec.namespace,
        target,
        needOpener(options.openServingSource),
      );
    case 'records': {
      if (!Array.isArray(spec.records))
        throw new InvalidArgumentError('source.records', 'must be an array');
      return numbered(
        splitEvenly(spec.records.length, target).map(([start, end]) => ({
          label: `records ${start}–${end}`,
          locator: { start, end } satisfies RecordsLocator,
        })),
      );
    }
    case 'range': {
      const { from, to } = rangeBounds(spec);
      return numbered(
        splitEvenly(to - from, target).map(([start, end]) => ({
          label: `range ${from + start}–${from + end}`,
          locator: { start: from + start, end: from + end } satisfies RangeLocator,
        })),
      );
    }
    default:
      throw new InvalidArgumentError(
        'source.kind',
        `must be csv, jsonl, parquet, query, serving, records or range, got ${JSON.stringify((spec as { kind?: unknown })?.kind)}`,
      );
  }
}

/**
 * Reads one partition planned by {@link planPartitions}, streaming: batches of at most
 * `batchSize` records, each a plain object keyed by column (JSONL lines and inline records
 * come as they are; a range gives `{ id }`). DuckDB values become JSON-like values: BIGINT and larger integers a number
 * when within ±2^53 and a decimal string beyond, DECIMAL a number, timestamps ISO-8601 strings
 * (millisecond precision, naive ones read as UTC), dates `YYYY-MM-DD`, lists arrays, structs
 * objects, maps `[{ key, value }]`, BLOBs `Uint8Array`. DuckDB hands over one chunk (2048 rows)
 * at a time, so memory stays bounded whatever the file size.
 *
 * @throws DataError naming the file and the line (CSV, JSONL) of a malformed row.
 */
export async function* readPartition(
  spec: SourceSpec,
  partition: SourcePartition,
  options: ReadPartitionOptions = {},
): AsyncIterable<unknown[]> {
  const batchSize = options.batchSize ?? SOURCE_DEFAULTS.batchSize;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError('batchSize', `must be an integer ≥ 1, got ${String(batchSize)}`);
  switch (spec.kind) {
    case 'jsonl':
      yield* (await import('./sources-files.js')).readJsonl(
        partition.locator as FileLocator,
        spec.columns,
        batchSize,
      );
      return;
    case 'csv':
    case 'parquet':
      yield* (await import('./sources-duckdb.js')).readDuckDbFile(
        spec.kind,
        partition.locator as FileLocator,
        spec.columns,
        batchSize,
      );
      return;
    case 'query':
      yield* (await import('./sources-duckdb.js')).readQuery(
        spec.sql,
        partition.locator as QueryLocator,
        batchSize,
      );
      return;
    case 'serving': {
      const open = needOpener(options.openServingSource);
      const { readServing } = await import('./sources-serving.js');
      yield* readServing(
        spec.url,
        spec.namespace,
        partition.locator as Parameters<typeof readServing>[2],
        batchSize,
        open,
      );
      return;
    }
    case 'records': {
      const { start, end } = partition.locator as RecordsLocator;
      for (let at = start; at < end; at += batchSize)
        yield spec.records.slice(at, Math.min(end, at + batchSize));
      return;
    }
    case 'range': {
      rangeBounds(spec);
      const { start, end } = partition.locator as RangeLocator;
      for (let at = start; at < end; at += batchSize) {
        const stop = Math.min(end, at + batchSize);
        const batch: { id: number }[] = new Array(stop - at);
        for (let id = at; id < stop; id++) batch[id - at] = { id };
        yield batch;
      }
      return;
    }
    default:
      throw new InvalidArgumentError(
        'source.kind',
        `unknown source kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
      );
  }
}

/**
 * The keys of `namespace` in the current version of the serving store at `url`, in key order
 * for SQLite (SCAN order for Redis), and that version, through `ServingStore.listKeys`, on the
 * store `open` opens for reading (the composition root's opens the SQLite file read-only and
 * refuses a `memory:` store, which is private to the process that opened it). Keys come back in
 * their stored (string) form. (Implemented in `sources-serving.ts`, loaded on first call.)
 */
export async function listServingKeys(
  url: string,
  namespace: string,
  open: ServingSourceOpener,
): Promise<{ version: string | null; keys: string[] }> {
  return (await import('./sources-serving.js')).listServingKeys(url, namespace, open);
}

/**
 * The {@link ServingSourceOpener} a {@link ServingSourceOpenerRef} names, importing its module on
 * first use (so a worker that reads no serving source loads nothing). What stage workers on other
 * threads and processes read serving sources with.
 */
export function servingSourceOpener(ref: ServingSourceOpenerRef): ServingSourceOpener {
  let loaded: Promise<ServingSourceOpener> | undefined;
  return async (url, field) => {
    loaded ??= import(ref.module).then((module: Record<string, unknown>) => {
      const name = ref.export ?? 'openServingSource';
      const opener = module[name];
      if (typeof opener !== 'function')
        throw new InvalidArgumentError(
          'servingSourceOpener',
          `module ${ref.module} exports no function ${name}`,
        );
      return opener as ServingSourceOpener;
    });
    return (await loaded)(url, field);
  };
}

function needOpener(open: ServingSourceOpener | undefined): ServingSourceOpener {
  if (open === undefined)
    throw new InvalidArgumentError(
      'openServingSource',
      'is needed to read a serving source (the caller passes the serving source opener)',
    );
  return open;
}

// ───────────────────────────── range ─────────────────────────────

/** The checked bounds of a range source. */
function rangeBounds(spec: { from?: number; to: number }): { from: number; to: number } {
  const from = spec.from ?? 0;
  const { to } = spec;
  const integer = (field: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value))
      throw new InvalidArgumentError(
        field,
        `must be an integer within ±(2^53 − 1), got ${String(value)}`,
      );
  };
  integer('source.from', from);
  integer('source.to', to);
  if (from > to)
    throw new InvalidArgumentError('source.to', `must be ≥ source.from (${from}), got ${to}`);
  // Both are safe integers, so the difference is exact even when it exceeds 2^53 − 1.
  if (to - from > 2 ** 53)
    throw new InvalidArgumentError(
      'source.to',
      `must be at most 2^53 above source.from (${from}), got ${to}`,
    );
  return { from, to };
}
