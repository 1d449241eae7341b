import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tempSibling } from '../core/atomic-dir.js';
import { ConflictError, InvalidArgumentError } from '../core/errors.js';
import { sqlLiteral } from '../data/duckdb-sql.js';
import type { ScoredItem, ServingStore, VersionWriter } from '../storage/serving-store.js';
import type { SinkSpec, SinkWriter } from './sink.js';

/**
 * Opens the serving store a URL names (`app/open-stores.ts` has the one in use), refusing a bad
 * URL with an error naming `field`. Handed in by the caller, because turning a URL into a
 * backend is the composition root's job, not this library's. The sink closes what it opens.
 */
export type ServingStoreOpener = (url: string, field: string) => Promise<ServingStore>;

/** Options of {@link openSink} beyond the spec (tuning, tests, and the serving store opener). */
export interface OpenSinkOptions {
  /** Records per part file before a new part starts. @defaultValue 100000 */
  partRecords?: number;
  /** Lists handed to the serving store per `putLists` call. @defaultValue 5000 */
  servingBatch?: number;
  /**
   * Opens the store of a `serving` sink; required for that kind (an {@link InvalidArgumentError}
   * otherwise), unused by the others. @defaultValue none
   */
  openServingStore?: ServingStoreOpener;
}

/** Defaults of {@link OpenSinkOptions} (the opener has none). */
export const SINK_DEFAULTS: Readonly<Required<Omit<OpenSinkOptions, 'openServingStore'>>> =
  Object.freeze({ partRecords: 100_000, servingBatch: 5000 });

/** A `collect` sink: the records written, in write order (emptied by `abort`). */
export interface CollectSink extends SinkWriter {
  readonly records: unknown[];
}

/** The records a `collect` sink holds; throws for any other sink. */
export function collected(writer: SinkWriter): unknown[] {
  const records = (writer as Partial<CollectSink>).records;
  if (!Array.isArray(records))
    throw new InvalidArgumentError('sink', 'is not a collect sink, so it holds no records');
  return records;
}

/**
 * Opens the sink a spec names, for the coordinator (the only writer).
 *
 * - `jsonl`, `csv`, `parquet`: part files (`part-00000.jsonl`, … one per `partRecords` records)
 *   are written into a hidden temporary sibling of `path`, which replaces `path` at commit by
 *   renames (the previous directory is moved aside, the new one moved in, the old one removed;
 *   a failed move puts the previous one back). Readers see the old directory or the whole new
 *   one; between the two renames `path` is briefly absent. `abort` removes the temporary one.
 *   CSV takes its header from the first record's keys (a later record with another key is an
 *   error); nested values are written as JSON text. Parquet records are staged as JSONL and
 *   converted by DuckDB at commit, with one schema inferred over every record of every part
 *   (`union_by_name`, full sample), so heterogeneous records (missing keys, mixed nesting) all
 *   fit and every part has the same columns; an appender would need the schema up front.
 * - `serving`: a new version of the serving store (opened by `options.openServingStore`; meta
 *   `{ stage: true }`), lists written as records arrive, switched in by commit.
 * - `collect`: keeps the records in memory ({@link CollectSink}).
 *
 * Writes are serialised (concurrent `write` calls are queued in call order). `write` or `commit`
 * after `commit` or `abort` throws {@link ConflictError}; `abort` after either is a no-op.
 *
 * @example
 * const sink = await openSink({ kind: 'jsonl', path: 'out/scores' });
 * try { await sink.write(records); console.log(await sink.commit()); } catch (e) { await sink.abort(); throw e; }
 */
export async function openSink(spec: SinkSpec, options: OpenSinkOptions = {}): Promise<SinkWriter> {
  const o = {
    ...SINK_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<Omit<OpenSinkOptions, 'openServingStore'>> & OpenSinkOptions;
  for (const field of ['partRecords', 'servingBatch'] as const) {
    if (!Number.isSafeInteger(o[field]) || o[field] < 1)
      throw new InvalidArgumentError(field, `must be an integer ≥ 1, got ${String(o[field])}`);
  }
  switch (spec?.kind) {
    case 'jsonl':
    case 'csv':
    case 'parquet':
      if (typeof spec.path !== 'string' || spec.path.length === 0)
        throw new InvalidArgumentError('sink.path', 'must be a non-empty path');
      return DirectorySink.open(spec.kind, spec.path, o.partRecords);
    case 'serving':
      if (o.openServingStore === undefined)
        throw new InvalidArgumentError(
          'openServingStore',
          'is needed to open a serving sink (the caller passes the serving store opener)',
        );
      return ServingSink.open(spec, o.servingBatch, o.openServingStore);
    case 'collect':
      return new CollectingSink();
    default:
      throw new InvalidArgumentError(
        'sink.kind',
        `must be csv, jsonl, parquet, serving or collect, got ${JSON.stringify((spec as { kind?: unknown })?.kind)}`,
      );
  }
}

type SinkState = 'open' | 'committed' | 'aborted';

/** The life cycle all sinks share: serialised operations, and refusals after the end. */
abstract class BaseSink implements SinkWriter {
  #state: SinkState = 'open';
  #tail: Promise<unknown> = Promise.resolve();

  protected constructor(private readonly name: string) {}

  protected abstract append(records: readonly unknown[]): Promise<void>;
  protected abstract finish(): Promise<Record<string, number | string>>;
  protected abstract discard(): Promise<void>;

  write(records: readonly unknown[]): Promise<void> {
    return this.#serialise(async () => {
      this.#assertOpen('write');
      if (!Array.isArray(records))
        throw new InvalidArgumentError('records', `${this.name}: write takes an array of records`);
      await this.append(records);
    });
  }

  commit(): Promise<Record<string, number | string>> {
    return this.#serialise(async () => {
      this.#assertOpen('commit');
      const figures = await this.finish();
      this.#state = 'committed';
      return figures;
    });
  }

  abort(): Promise<void> {
    return this.#serialise(async () => {
      if (this.#state !== 'open') return;
      this.#state = 'aborted';
      await this.discard();
    });
  }

  #assertOpen(operation: string): void {
    if (this.#state !== 'open')
      throw new ConflictError(`${this.name}: cannot ${operation}, the sink is ${this.#state}`);
  }

  #serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(operation);
    // A failed operation must not poison the ones queued behind it (abort must still run).
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

// ───────────────────────────── files ─────────────────────────────

class DirectorySink extends BaseSink {
  #part: FileHandle | null = null;
  #partCount = 0;
  #inPart = 0;
  #records = 0;
  #bytes = 0;
  #header: string[] | null = null;

  private constructor(
    private readonly kind: 'jsonl' | 'csv' | 'parquet',
    private readonly path: string,
    private readonly tmp: string,
    private readonly partRecords: number,
  ) {
    super(`${kind} sink ${path}`);
  }

  static async open(
    kind: 'jsonl' | 'csv' | 'parquet',
    path: string,
    partRecords: number,
  ): Promise<DirectorySink> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempSibling(path);
    await mkdir(tmp);
    return new DirectorySink(kind, path, tmp, partRecords);
  }

  /** Parquet parts are staged as JSONL under a hidden name, converted at commit. */
  #partName(i: number, staged = this.kind === 'parquet'): string {
    const n = String(i).padStart(5, '0');
    return staged ? `.part-${n}.jsonl` : `part-${n}.${this.kind}`;
  }

  protected async append(records: readonly unknown[]): Promise<void> {
    let at = 0;
    while (at < records.length) {
      if (this.#part === null || this.#inPart >= this.partRecords) await this.#nextPart();
      const take = Math.min(records.length - at, this.partRecords - this.#inPart);
      const lines: string[] = [];
      for (let i = at; i < at + take; i++)
        lines.push(
          this.kind === 'csv'
            ? this.#csvLine(records[i], this.#records + i - at)
            : jsonLine(records[i], this.#records + i - at),
        );
      const text = Buffer.from(lines.join(''), 'utf8');
      await this.#part!.write(text);
      this.#bytes += text.length;
      this.#inPart += take;
      this.#records += take;
      at += take;
    }
  }

  async #nextPart(): Promise<void> {
    await this.#part?.close();
    this.#part = await open(join(this.tmp, this.#partName(this.#partCount++)), 'wx');
    this.#inPart = 0;
    if (this.kind === 'csv' && this.#header !== null) {
      const line = Buffer.from(`${this.#header.map(csvField).join(',')}\n`, 'utf8');
      await this.#part.write(line);
      this.#bytes += line.length;
    }
  }

  #csvLine(record: unknown, index: number): string {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new InvalidArgumentError(
        `records[${index}]`,
        `a CSV sink takes objects (one per row), got ${describe(record)}`,
      );
    }
    const row = record as Record<string, unknown>;
    let prefix = '';
    if (this.#header === null) {
      this.#header = Object.keys(row);
      if (this.#header.length === 0)
        throw new InvalidArgumentError(
          `records[${index}]`,
          'the first record has no keys to make the CSV header from',
        );
      prefix = `${this.#header.map(csvField).join(',')}\n`;
    }
    for (const key of Object.keys(row)) {
      if (!this.#header.includes(key)) {
        throw new InvalidArgumentError(
          `records[${index}].${key}`,
          `is not a column of the CSV header (${this.#header.join(', ')}), which comes from the first record`,
        );
      }
    }
    return `${prefix}${this.#header.map((k) => csvField(row[k])).join(',')}\n`;
  }

  protected async finish(): Promise<Record<string, number | string>> {
    await this.#part?.close();
    this.#part = null;
    if (this.kind === 'parquet' && this.#partCount > 0)
      this.#bytes = await this.#convertToParquet();
    // The rename dance of writeDirectoryAtomically (core/atomic-dir.ts), whose callback shape
    // does not fit writes spread over many calls; here a failed move also restores the old one.
    const old = `${this.tmp}.old`;
    const hadOld = await rename(this.path, old).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
    try {
      await rename(this.tmp, this.path);
    } catch (error) {
      if (hadOld) await rename(old, this.path).catch(() => undefined);
      throw error;
    }
    if (hadOld) await rm(old, { recursive: true, force: true });
    return { records: this.#records, parts: this.#partCount, bytes: this.#bytes, path: this.path };
  }

  /** Converts every staged JSONL part to Parquet with one schema inferred over all of them; returns the bytes written. */
  async #convertToParquet(): Promise<number> {
    const staged = Array.from({ length: this.#partCount }, (_, i) =>
      join(this.tmp, this.#partName(i, true)),
    );
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      const list = `[${staged.map(sqlLiteral).join(', ')}]`;
      const schema = (
        await con.runAndReadAll(
          `DESCRIBE SELECT * FROM read_json(${list}, format = 'newline_delimited', union_by_name = true, sample_size = -1)`,
        )
      )
        .getRowsJS()
        .map((r) => `${sqlLiteral(String(r[0]))}: ${sqlLiteral(String(r[1]))}`);
      let bytes = 0;
      for (let i = 0; i < staged.length; i++) {
        const out = join(this.tmp, this.#partName(i, false));
        await con.run(
          `COPY (SELECT * FROM read_json(${sqlLiteral(staged[i])}, format = 'newline_delimited', columns = {${schema.join(', ')}})) TO ${sqlLiteral(out)} (FORMAT parquet)`,
        );
        await rm(staged[i]);
        bytes += (await stat(out)).size;
      }
      return bytes;
    } finally {
      con.closeSync();
      instance.closeSync();
    }
  }

  protected async discard(): Promise<void> {
    await this.#part?.close().catch(() => undefined);
    this.#part = null;
    await rm(this.tmp, { recursive: true, force: true });
  }
}

function jsonLine(record: unknown, index: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(record);
  } catch (cause) {
    throw new InvalidArgumentError(
      `records[${index}]`,
      `is not JSON-serialisable: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (text === undefined)
    throw new InvalidArgumentError(
      `records[${index}]`,
      `is not JSON-serialisable (${typeof record})`,
    );
  return `${text}\n`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote, line break or edge spaces. */
function csvField(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    text = String(value);
  else if (value instanceof Date) text = value.toISOString();
  else text = JSON.stringify(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// ───────────────────────────── serving ─────────────────────────────

class ServingSink extends BaseSink {
  #records = 0;

  private constructor(
    private readonly store: ServingStore,
    private readonly writer: VersionWriter,
    private readonly namespace: string,
    private readonly batch: number,
  ) {
    super(`serving sink ${namespace}@${writer.version}`);
  }

  static async open(
    spec: Extract<SinkSpec, { kind: 'serving' }>,
    batch: number,
    openServingStore: ServingStoreOpener,
  ): Promise<ServingSink> {
    const store = await openServingStore(spec.url, 'sink.url');
    try {
      const version =
        spec.version ??
        `stage-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
      const writer = await store.beginVersion(version, { stage: true });
      return new ServingSink(store, writer, spec.namespace, batch);
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  protected async append(records: readonly unknown[]): Promise<void> {
    for (let at = 0; at < records.length; at += this.batch) {
      const entries: [string | number, ScoredItem[]][] = [];
      const end = Math.min(records.length, at + this.batch);
      for (let i = at; i < end; i++) entries.push(servingEntry(records[i], this.#records + i));
      await this.writer.putLists(this.namespace, entries);
    }
    this.#records += records.length;
  }

  protected async finish(): Promise<Record<string, number | string>> {
    await this.writer.commit();
    await this.store.close();
    return { records: this.#records, version: this.writer.version, namespace: this.namespace };
  }

  protected async discard(): Promise<void> {
    try {
      await this.writer.abort();
    } finally {
      await this.store.close();
    }
  }
}

/** Checks a `{ key, items: [{ id, score }] }` record, naming the field and the record's index. */
function servingEntry(record: unknown, index: number): [string | number, ScoredItem[]] {
  const at = `records[${index}]`;
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    throw new InvalidArgumentError(at, `must be { key, items }, got ${describe(record)}`);
  const { key, items } = record as { key?: unknown; items?: unknown };
  if (
    !(
      (typeof key === 'number' && Number.isFinite(key)) ||
      (typeof key === 'string' && key.length > 0)
    )
  ) {
    throw new InvalidArgumentError(
      `${at}.key`,
      `must be a finite number or a non-empty string, got ${describe(key)}`,
    );
  }
  if (!Array.isArray(items))
    throw new InvalidArgumentError(
      `${at}.items`,
      `must be an array of { id, score }, got ${describe(items)}`,
    );
  for (let j = 0; j < items.length; j++) {
    const item = items[j] as { id?: unknown; score?: unknown } | null;
    if (item === null || typeof item !== 'object')
      throw new InvalidArgumentError(
        `${at}.items[${j}]`,
        `must be { id, score }, got ${describe(item)}`,
      );
    if (
      !((typeof item.id === 'number' && Number.isFinite(item.id)) || typeof item.id === 'string')
    ) {
      throw new InvalidArgumentError(
        `${at}.items[${j}].id`,
        `must be a finite number or a string, got ${describe(item.id)}`,
      );
    }
    if (typeof item.score !== 'number' || !Number.isFinite(item.score)) {
      throw new InvalidArgumentError(
        `${at}.items[${j}].score`,
        `must be a finite number, got ${describe(item.score)}`,
      );
    }
  }
  return [key, items as ScoredItem[]];
}

// ───────────────────────────── collect ─────────────────────────────

class CollectingSink extends BaseSink implements CollectSink {
  readonly records: unknown[] = [];

  constructor() {
    super('collect sink');
  }

  protected async append(records: readonly unknown[]): Promise<void> {
    for (const r of records) this.records.push(r);
  }

  protected async finish(): Promise<Record<string, number | string>> {
    return { records: this.records.length };
  }

  protected async discard(): Promise<void> {
    this.records.length = 0;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}
