/**
 * File sources of `sources.ts`: directory listing, and JSONL planning and reading (plain Node
 * streams). CSV and Parquet files are planned and read by `sources-duckdb.ts`, loaded only when
 * one is, so that a JSONL stage never loads DuckDB.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import type { SourcePartition } from './source.js';
import { numbered, splitEvenly, type FileKind, type FileLocator } from './sources-common.js';

/** Which file names a directory partition of each kind matches. */
const FILE_PATTERNS: Record<FileKind, RegExp> = {
  csv: /\.csv(\.gz)?$/i,
  jsonl: /\.(jsonl|ndjson)(\.gz)?$/i,
  parquet: /\.parquet$/i,
};

/** Partitions of a file or directory source; see `planPartitions` in `sources.ts`. */
export async function planFiles(
  kind: FileKind,
  path: string,
  target: number,
): Promise<SourcePartition[]> {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('source.path', 'must be a non-empty path');
  const info = await stat(path).catch(() => null);
  if (info === null) throw new DataError({ file: path }, 'file or directory not found');
  if (info.isDirectory()) {
    const names = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isFile() && !/^[._]/.test(e.name) && FILE_PATTERNS[kind].test(e.name))
      .map((e) => e.name)
      .sort();
    if (names.length === 0)
      throw new DataError(
        { file: path },
        `the directory holds no ${kind} files (${FILE_PATTERNS[kind].source})`,
      );
    return numbered(
      names.map((name) => ({
        label: name,
        locator: { file: join(path, name) } satisfies FileLocator,
      })),
    );
  }
  if (!info.isFile()) throw new DataError({ file: path }, 'not a regular file or directory');
  if (kind === 'jsonl')
    return target === 1
      ? numbered([{ label: path, locator: { file: path } }])
      : planJsonlFile(path, info.size, target);
  const { planDuckDbFile } = await import('./sources-duckdb.js');
  return planDuckDbFile(kind, path, target);
}

/** Byte ranges of a plain JSONL file cut at the first line start at or after each even split. */
async function planJsonlFile(
  file: string,
  size: number,
  target: number,
): Promise<SourcePartition[]> {
  if (/\.gz$/i.test(file)) {
    // gzip cannot seek: count the records once, then each partition skips to its own.
    let records = 0;
    for await (const _ of jsonlLines(file, {})) records++;
    return numbered(
      splitEvenly(records, target).map(([start, end]) => ({
        label: `${file} records ${start}–${end}`,
        locator: { file, rows: { start, end } } satisfies FileLocator,
      })),
    );
  }
  const cuts: { start: number; line: number }[] = [{ start: 0, line: 1 }];
  let goal = Math.ceil(size / target);
  let offset = 0;
  let lines = 0;
  for await (const chunk of createReadStream(file, {
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    // Past the last cut, the line numbers no longer matter.
    if (cuts.length >= target) break;
    for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) {
      lines++;
      const nextStart = offset + at + 1;
      if (nextStart >= goal && nextStart < size && cuts.length < target) {
        cuts.push({ start: nextStart, line: lines + 1 });
        goal = Math.ceil((size * cuts.length) / target);
        if (goal <= nextStart) goal = nextStart + 1;
      }
    }
    offset += chunk.length;
  }
  return numbered(
    cuts.map((cut, i) => {
      const end = i + 1 < cuts.length ? cuts[i + 1].start : size;
      return {
        label: `${file} bytes ${cut.start}–${end}`,
        locator: { file, bytes: { start: cut.start, end, line: cut.line } } satisfies FileLocator,
      };
    }),
  );
}

/** Non-blank lines of a JSONL file (or byte range) with their 1-based line numbers. */
async function* jsonlLines(
  file: string,
  loc: Pick<FileLocator, 'bytes'>,
): AsyncGenerator<[text: string, line: number]> {
  const range = loc.bytes;
  if (range && range.end <= range.start) return;
  const raw = createReadStream(file, {
    highWaterMark: 1 << 20,
    ...(range && { start: range.start, end: range.end - 1 }),
  });
  const opened = new Promise<void>((resolve, reject) => {
    raw.once('open', () => resolve());
    raw.once('error', reject);
  });
  await opened.catch((cause: unknown) => {
    throw new DataError({ file }, `cannot be opened: ${(cause as Error).message}`, { cause });
  });
  const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  // pipe() does not forward the source's errors; the loop below must see them.
  if (stream !== raw) raw.once('error', (error) => stream.destroy(error));
  stream.setEncoding('utf8');
  let line = range?.line ?? 1;
  let rest = '';
  try {
    for await (const text of stream as AsyncIterable<string>) {
      const parts = (rest + text).split('\n');
      rest = parts.pop()!;
      for (const part of parts) {
        if (part.trim().length > 0) yield [part, line];
        line++;
      }
    }
  } catch (cause) {
    if (cause instanceof DataError) throw cause;
    throw new DataError({ file, line }, `cannot be read: ${(cause as Error).message}`, { cause });
  } finally {
    raw.destroy();
  }
  if (rest.trim().length > 0) yield [rest, line];
}

export async function* readJsonl(
  loc: FileLocator,
  columns: string[] | undefined,
  batchSize: number,
): AsyncGenerator<unknown[]> {
  let batch: unknown[] = [];
  let index = 0;
  for await (const [text, line] of jsonlLines(loc.file, loc)) {
    const at = index++;
    if (loc.rows && at < loc.rows.start) continue;
    if (loc.rows && at >= loc.rows.end) break;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (cause) {
      throw new DataError(
        { file: loc.file, line },
        `not valid JSON (${(cause as Error).message}): ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`,
        { cause },
      );
    }
    if (columns !== undefined) {
      if (record === null || typeof record !== 'object' || Array.isArray(record))
        throw new DataError(
          { file: loc.file, line },
          'is not a JSON object, so columns cannot be picked from it',
        );
      const picked: Record<string, unknown> = {};
      for (const c of columns) picked[c] = (record as Record<string, unknown>)[c] ?? null;
      record = picked;
    }
    batch.push(record);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
