import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlLiteral } from '../data/duckdb-sql.js';
import { RedisServingStore } from '../storage/redis-serving-store.js';
import { SqliteServingStore } from '../storage/sqlite-serving-store.js';
import { openServingSource, openServingStore } from '../../test/fixtures/open-serving-store.js';
import { redisAnswers, TEST_REDIS_URL } from '../../test/fixtures/redis-available.js';
import type { SinkSpec } from './sink.js';
import { collected, openSink } from './sinks.js';
import type { SourceSpec } from './source.js';
import { listServingKeys, planPartitions, readPartition } from './sources.js';

const redisUp = await redisAnswers();
let dir: string;
const N = 1000;
const rows = Array.from({ length: N }, (_, i) => ({ id: i, name: `n${i}`, score: i / 4 }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-stages-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const csvOf = (rs: typeof rows): string =>
  `id,name,score\n${rs.map((r) => `${r.id},${r.name},${r.score}`).join('\n')}\n`;
const jsonlOf = (rs: unknown[]): string => rs.map((r) => `${JSON.stringify(r)}\n`).join('');

async function duckdb<T>(
  fn: (run: (sql: string) => Promise<unknown[][]>) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    return await fn(async (sql) => (await con.runAndReadAll(sql)).getRowsJS());
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Every record of every partition, in partition order, and the largest batch seen. */
async function readAll(
  spec: SourceSpec,
  target?: number,
  batchSize?: number,
): Promise<{ records: unknown[]; partitions: number; maxBatch: number }> {
  // The opener is what serving sources read through; other kinds ignore it.
  const partitions = await planPartitions(
    spec,
    target === undefined ? { openServingSource } : { target, openServingSource },
  );
  partitions.forEach((p, i) => expect(p.index).toBe(i));
  const records: unknown[] = [];
  let maxBatch = 0;
  for (const p of partitions) {
    // Locators must survive a trip to another process.
    const copy = JSON.parse(JSON.stringify(p));
    for await (const batch of readPartition(
      spec,
      copy,
      batchSize === undefined ? { openServingSource } : { batchSize, openServingSource },
    )) {
      maxBatch = Math.max(maxBatch, batch.length);
      records.push(...batch);
    }
  }
  return { records, partitions: partitions.length, maxBatch };
}

describe('planPartitions and readPartition over files', () => {
  let csv: string;
  let jsonl: string;
  let parquet: string;
  beforeAll(async () => {
    csv = join(dir, 'rows.csv');
    jsonl = join(dir, 'rows.jsonl');
    parquet = join(dir, 'rows.parquet');
    await writeFile(csv, csvOf(rows));
    await writeFile(jsonl, jsonlOf(rows));
    // Small row groups so that row ranges cross group boundaries.
    await duckdb((run) =>
      run(
        `COPY (SELECT * FROM read_csv(${sqlLiteral(csv)})) TO ${sqlLiteral(parquet)} (FORMAT parquet, ROW_GROUP_SIZE 100)`,
      ),
    );
  });

  for (const kind of ['csv', 'jsonl', 'parquet'] as const) {
    it(`reads a single ${kind} file as target partitions, every row once and in order`, async () => {
      const path = { csv: () => csv, jsonl: () => jsonl, parquet: () => parquet }[kind]();
      for (const target of [1, 3, 7]) {
        const { records, partitions, maxBatch } = await readAll({ kind, path }, target, 64);
        expect(partitions).toBe(target);
        expect(maxBatch).toBeLessThanOrEqual(64);
        expect(records).toEqual(rows);
      }
    });
  }

  it('reads a gzipped JSONL file in record ranges and a gzipped CSV', async () => {
    const gz = join(dir, 'rows.jsonl.gz');
    await writeFile(gz, gzipSync(jsonlOf(rows)));
    expect((await readAll({ kind: 'jsonl', path: gz }, 4)).records).toEqual(rows);
    const csvGz = join(dir, 'rows.csv.gz');
    await writeFile(csvGz, gzipSync(csvOf(rows)));
    expect((await readAll({ kind: 'csv', path: csvGz }, 2)).records).toEqual(rows);
  });

  it('reads a directory as one partition per matching file, sorted, skipping hidden and other files', async () => {
    const parts = join(dir, 'parts');
    await mkdir(parts);
    const chunks = [rows.slice(0, 300), rows.slice(300, 310), rows.slice(310)];
    for (let i = 0; i < chunks.length; i++) {
      await writeFile(join(parts, `part-${i}.csv`), csvOf(chunks[i]));
      await writeFile(join(parts, `part-${i}.jsonl`), jsonlOf(chunks[i]));
      await duckdb((run) =>
        run(
          `COPY (SELECT * FROM read_csv(${sqlLiteral(join(parts, `part-${i}.csv`))})) TO ${sqlLiteral(join(parts, `part-${i}.parquet`))} (FORMAT parquet)`,
        ),
      );
    }
    await writeFile(join(parts, '_SUCCESS'), '');
    await writeFile(join(parts, '.part-9.csv'), 'junk');
    for (const kind of ['csv', 'jsonl', 'parquet'] as const) {
      const plan = await planPartitions({ kind, path: parts }, { target: 10 });
      expect(plan.map((p) => p.label)).toEqual([
        `part-0.${kind}`,
        `part-1.${kind}`,
        `part-2.${kind}`,
      ]);
      const { records, maxBatch } = await readAll({ kind, path: parts }, 10, 100);
      expect(records).toEqual(rows);
      expect(maxBatch).toBeLessThanOrEqual(100);
    }
    await expect(planPartitions({ kind: 'csv', path: join(dir, 'nope') })).rejects.toThrow(
      DataError,
    );
    const empty = join(dir, 'empty');
    await mkdir(empty);
    await expect(planPartitions({ kind: 'parquet', path: empty })).rejects.toThrow(
      /no parquet files/,
    );
  });

  it('projects columns and converts DuckDB types to JSON-like values', async () => {
    expect(
      (await readAll({ kind: 'csv', path: csv, columns: ['name'] })).records.slice(0, 2),
    ).toEqual([{ name: 'n0' }, { name: 'n1' }]);
    const typed = join(dir, 'typed.parquet');
    await duckdb((run) =>
      run(
        `COPY (SELECT 9007199254740993::BIGINT AS big, 42::BIGINT AS small, TIMESTAMP '2024-05-06 07:08:09.123' AS ts, DATE '2024-05-06' AS d, [1, 2]::INTEGER[] AS list, {'a': 1, 'b': 'x'} AS s, 1.25::DECIMAL(5,2) AS dec, NULL::VARCHAR AS nothing) TO ${sqlLiteral(typed)} (FORMAT parquet)`,
      ),
    );
    const [record] = (await readAll({ kind: 'parquet', path: typed })).records;
    expect(record).toEqual({
      big: '9007199254740993',
      small: 42,
      ts: '2024-05-06T07:08:09.123Z',
      d: '2024-05-06',
      list: [1, 2],
      s: { a: 1, b: 'x' },
      dec: 1.25,
      nothing: null,
    });
    await expect(readAll({ kind: 'parquet', path: typed, columns: ['nope'] })).rejects.toThrow(
      /column "nope": no such column/,
    );
  });

  it('names the file and line of a malformed CSV row', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'a,b\n1,x\n2,y\n3,z,extra\n4,w\n');
    const error = await readAll({ kind: 'csv', path: bad }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).location).toMatchObject({ file: bad, line: 4 });
    expect((error as Error).message).toContain(`${bad}, line 4:`);
  });

  it('names the file and line of a malformed JSONL line, in any byte-range partition', async () => {
    const bad = join(dir, 'bad.jsonl');
    const lines = rows.slice(0, 50).map((r) => JSON.stringify(r));
    lines[40] = '{"id": 40, oops';
    await writeFile(bad, `${lines.join('\n')}\n`);
    const error = await readAll({ kind: 'jsonl', path: bad }, 4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).location).toEqual({ file: bad, line: 41 });
  });
});

describe('query and records sources', () => {
  it('partitions a deterministic query by row ranges', async () => {
    const spec: SourceSpec = {
      kind: 'query',
      sql: 'SELECT range AS i, range * 2 AS twice FROM range(1000) ORDER BY i;',
    };
    const { records, partitions, maxBatch } = await readAll(spec, 5, 128);
    expect(partitions).toBe(5);
    expect(maxBatch).toBeLessThanOrEqual(128);
    expect(records).toEqual(Array.from({ length: 1000 }, (_, i) => ({ i, twice: 2 * i })));
    await expect(
      planPartitions({ kind: 'query', sql: 'SELECT nope FROM nowhere' }),
    ).rejects.toThrow(InvalidArgumentError);
  });

  it('slices inline records', async () => {
    const records = Array.from({ length: 10 }, (_, i) => ({ i }));
    const out = await readAll({ kind: 'records', records }, 3, 2);
    expect(out.partitions).toBe(3);
    expect(out.maxBatch).toBe(2);
    expect(out.records).toEqual(records);
    expect((await readAll({ kind: 'records', records: [] }, 4)).records).toEqual([]);
  });
});

describe('range source', () => {
  it('plans contiguous sub-ranges that carry no records', async () => {
    const parts = await planPartitions({ kind: 'range', from: 5, to: 15 }, { target: 3 });
    expect(parts).toEqual([
      { index: 0, label: 'range 5–8', locator: { start: 5, end: 8 } },
      { index: 1, label: 'range 8–11', locator: { start: 8, end: 11 } },
      { index: 2, label: 'range 11–15', locator: { start: 11, end: 15 } },
    ]);
    // Ten million ids plan as small as ten.
    const big = await planPartitions({ kind: 'range', to: 10_000_000 }, { target: 8 });
    expect(big).toHaveLength(8);
    expect(JSON.stringify(big).length).toBeLessThan(1000);
    expect(big[0].locator).toEqual({ start: 0, end: 1_250_000 });
    expect(big[7].locator).toEqual({ start: 8_750_000, end: 10_000_000 });
  });

  it('yields every id exactly once across partitions, in batches of at most batchSize', async () => {
    for (const [from, to, target, batchSize] of [
      [0, 1000, 7, 64],
      [-20, 17, 4, 5],
      [3, 4, 5, 10],
      [0, 1, 1, 1],
    ] as const) {
      const { records, partitions, maxBatch } = await readAll(
        { kind: 'range', from, to },
        target,
        batchSize,
      );
      expect(partitions).toBe(Math.min(target, to - from));
      expect(maxBatch).toBeLessThanOrEqual(batchSize);
      expect(records).toEqual(Array.from({ length: to - from }, (_, i) => ({ id: from + i })));
    }
    const defaults = await readAll({ kind: 'range', to: 3000 }, 2);
    expect(defaults.records).toHaveLength(3000);
    expect(defaults.maxBatch).toBe(1024);
  });

  it('gives one empty partition for an empty range', async () => {
    const parts = await planPartitions({ kind: 'range', from: 7, to: 7 }, { target: 4 });
    expect(parts).toEqual([{ index: 0, label: 'range 7–7', locator: { start: 7, end: 7 } }]);
    expect((await readAll({ kind: 'range', from: 7, to: 7 }, 4)).records).toEqual([]);
  });

  it('stays exact at the edges of the safe integers', async () => {
    const to = Number.MAX_SAFE_INTEGER;
    const from = to - 2 ** 53;
    const parts = await planPartitions({ kind: 'range', from, to }, { target: 3 });
    expect(parts[0].locator).toMatchObject({ start: from });
    expect(parts[2].locator).toMatchObject({ end: to });
    for (let i = 1; i < parts.length; i++)
      expect((parts[i].locator as { start: number }).start).toBe(
        (parts[i - 1].locator as { end: number }).end,
      );
    const tail = await readAll({ kind: 'range', from: to - 5, to }, 2, 2);
    expect(tail.records).toEqual([1, 2, 3, 4, 5].map((k) => ({ id: to - 6 + k })));
  });

  it('rejects malformed bounds, naming the field', async () => {
    const fails = (spec: unknown, field: string) =>
      expect(planPartitions(spec as SourceSpec)).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        field,
      });
    await fails({ kind: 'range', to: 1.5 }, 'source.to');
    await fails({ kind: 'range' }, 'source.to');
    await fails({ kind: 'range', to: '10' }, 'source.to');
    await fails({ kind: 'range', to: 2 ** 53 }, 'source.to');
    await fails({ kind: 'range', from: -1.5, to: 3 }, 'source.from');
    await fails({ kind: 'range', from: 5, to: 3 }, 'source.to');
    await fails(
      { kind: 'range', from: -Number.MAX_SAFE_INTEGER, to: Number.MAX_SAFE_INTEGER },
      'source.to',
    );
    await expect(planPartitions({ kind: 'range', from: 5, to: 3 })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});

const lists = Array.from({ length: 25 }, (_, k) => ({
  key: `u${String(k).padStart(2, '0')}`,
  items: [
    { id: k, score: 1 },
    { id: `i${k}`, score: 0.5 },
  ],
}));

describe('serving source', () => {
  it('reads the current version of a SQLite serving store in key ranges', async () => {
    const path = join(dir, 'serving.db');
    const store = new SqliteServingStore(path);
    const w = await store.beginVersion('v1', {});
    await w.putLists(
      'user',
      lists.map((l) => [l.key, l.items] as const),
    );
    await w.putLists('related', [['x', [{ id: 1, score: 1 }]]]);
    await w.commit();
    const spec: SourceSpec = { kind: 'serving', url: `sqlite:${path}`, namespace: 'user' };
    expect((await listServingKeys(spec.url, 'user', openServingSource)).keys).toEqual(
      lists.map((l) => l.key),
    );
    const { records, partitions, maxBatch } = await readAll(spec, 4, 3);
    expect(partitions).toBe(4);
    expect(maxBatch).toBeLessThanOrEqual(3);
    expect(records).toEqual(lists);
    // Partitions stay on the version they were planned against.
    const plan = await planPartitions(spec, { target: 2, openServingSource });
    const w2 = await store.beginVersion('v2', {});
    await w2.putLists('user', [['new', [{ id: 1, score: 1 }]]]);
    await w2.commit();
    const again: unknown[] = [];
    for (const p of plan)
      for await (const b of readPartition(spec, p, { openServingSource })) again.push(...b);
    expect(again).toEqual(lists);
    await store.close();
    await expect(
      planPartitions({ kind: 'serving', url: 'memory:', namespace: 'user' }, { openServingSource }),
    ).rejects.toThrow(/private/);
  });

  it.skipIf(!redisUp)(
    'reads the current version of a Redis serving store in hash shards',
    async () => {
      const prefix = `kiban-test-src-${process.pid}-${Date.now()}:`;
      const store = new RedisServingStore(TEST_REDIS_URL, { prefix });
      try {
        const w = await store.beginVersion('v1', {});
        await w.putLists(
          'user',
          lists.map((l) => [l.key, l.items] as const),
        );
        await w.commit();
        const spec: SourceSpec = {
          kind: 'serving',
          url: `${TEST_REDIS_URL}?prefix=${encodeURIComponent(prefix)}`,
          namespace: 'user',
        };
        const { records, partitions } = await readAll(spec, 3, 4);
        expect(partitions).toBe(3);
        const byKey = (a: unknown, b: unknown) =>
          String((a as { key: string }).key).localeCompare((b as { key: string }).key);
        expect(records.sort(byKey)).toEqual(lists);
      } finally {
        await store.clear();
        await store.close();
      }
    },
  );
});

describe('file sinks', () => {
  const records = Array.from({ length: 25 }, (_, i) => ({
    id: i,
    name: i % 3 === 0 ? `a "quoted", name\n${i}` : `n${i}`,
    tags: [i, i + 1],
    extra: i % 2 === 0 ? null : { k: i },
  }));

  async function readBack(kind: 'jsonl' | 'csv' | 'parquet', path: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const p of await planPartitions({ kind, path }))
      for await (const b of readPartition({ kind, path }, p)) out.push(...b);
    return out;
  }

  for (const kind of ['jsonl', 'csv', 'parquet'] as const) {
    it(`${kind}: parts are invisible until commit, which replaces the directory whole`, async () => {
      const path = join(dir, `out-${kind}`);
      await mkdir(path);
      await writeFile(join(path, 'previous.txt'), 'old');
      const sink = await openSink({ kind, path }, { partRecords: 10 });
      await sink.write(records.slice(0, 7));
      await sink.write(records.slice(7));
      expect(await readdir(path)).toEqual(['previous.txt']);
      const figures = await sink.commit();
      expect(figures).toMatchObject({ records: 25, parts: 3, path });
      expect(figures.bytes).toBeGreaterThan(0);
      expect(await readdir(path)).toEqual([
        `part-00000.${kind}`,
        `part-00001.${kind}`,
        `part-00002.${kind}`,
      ]);
      expect((await readdir(dir)).filter((n) => n.startsWith(`.out-${kind}`))).toEqual([]);
      const back = await readBack(kind, path);
      if (kind === 'csv') {
        // CSV holds text: nested values come back as their JSON.
        expect(back).toEqual(
          records.map((r) => ({
            id: r.id,
            name: r.name,
            tags: JSON.stringify(r.tags),
            extra: r.extra === null ? null : JSON.stringify(r.extra),
          })),
        );
      } else expect(back).toEqual(records);
      await expect(sink.write([{ id: 1 }])).rejects.toThrow(ConflictError);
      await expect(sink.commit()).rejects.toThrow(/committed/);
      await sink.abort(); // a no-op after commit
      expect(await readdir(path)).toHaveLength(3);
    });

    it(`${kind}: abort leaves nothing and the previous content intact`, async () => {
      const path = join(dir, `kept-${kind}`);
      await mkdir(path);
      await writeFile(join(path, 'previous.txt'), 'old');
      const sink = await openSink({ kind, path }, { partRecords: 10 });
      await sink.write(records);
      await sink.abort();
      expect(await readdir(path)).toEqual(['previous.txt']);
      expect(await readFile(join(path, 'previous.txt'), 'utf8')).toBe('old');
      expect((await readdir(dir)).filter((n) => n.startsWith(`.kept-${kind}`))).toEqual([]);
      await expect(sink.write(records)).rejects.toThrow(/aborted/);
      // A new path that was never committed does not appear.
      const fresh = join(dir, `fresh-${kind}`);
      const s2 = await openSink({ kind, path: fresh });
      await s2.write(records);
      await s2.abort();
      expect((await readdir(dir)).some((n) => n.includes(`fresh-${kind}`))).toBe(false);
    });
  }

  it('parquet: heterogeneous records share one schema, and DuckDB reads back what was written', async () => {
    const path = join(dir, 'hetero');
    const sink = await openSink({ kind: 'parquet', path }, { partRecords: 2 });
    await sink.write([{ a: 1, b: 'x' }, { a: 2 }, { a: 3, c: [1.5, 2] }, { a: 4, b: 'y', c: [] }]);
    await sink.commit();
    const rows = await duckdb((run) =>
      run(`SELECT a, b, c FROM read_parquet(${sqlLiteral(join(path, '*.parquet'))}) ORDER BY a`),
    );
    expect(rows).toEqual([
      [1n, 'x', null],
      [2n, null, null],
      [3n, null, [1.5, 2]],
      [4n, 'y', []],
    ]);
  });

  it('csv: refuses a record with a key outside the header, naming the record', async () => {
    const sink = await openSink({ kind: 'csv', path: join(dir, 'csv-bad') });
    await expect(sink.write([{ a: 1 }, { a: 2, b: 3 }])).rejects.toThrow(
      'records[1].b: is not a column of the CSV header',
    );
    await sink.abort();
  });
});

describe('serving and collect sinks', () => {
  it('serving: writes a version that readers see only after commit', async () => {
    const path = join(dir, 'serving-sink.db');
    const url = `sqlite:${path}`;
    const store = new SqliteServingStore(path);
    const sink = await openSink(
      { kind: 'serving', url, namespace: 'user', version: 'stage-v1' } satisfies SinkSpec,
      { servingBatch: 4, openServingStore },
    );
    await sink.write(lists.slice(0, 10));
    await sink.write(lists.slice(10));
    expect(await store.currentVersion()).toBeNull();
    expect(await sink.commit()).toEqual({ records: 25, version: 'stage-v1', namespace: 'user' });
    expect((await store.currentVersion())?.meta).toEqual({ stage: true });
    expect(await store.getList('user', 'u03')).toEqual(lists[3].items);

    const aborted = await openSink(
      { kind: 'serving', url, namespace: 'user' },
      { openServingStore },
    );
    await aborted.write([{ key: 'zz', items: [] }]);
    await aborted.abort();
    expect((await store.currentVersion())?.version).toBe('stage-v1');
    expect(await store.getList('user', 'zz')).toBeNull();
    await store.close();
  });

  it('serving: names the record and field of an invalid record', async () => {
    const sink = await openSink(
      { kind: 'serving', url: 'memory:', namespace: 'related' },
      { openServingStore },
    );
    await sink.write([{ key: 1, items: [] }]);
    await expect(
      sink.write([
        { key: 2, items: [{ id: 1, score: 1 }] },
        { key: 3, items: [{ id: 1, score: 'high' }] },
      ]),
    ).rejects.toThrow('records[2].items[0].score: must be a finite number, got "high"');
    await expect(sink.write([{ items: [] }])).rejects.toThrow('records[1].key');
    await sink.abort();
  });

  it('collect: keeps records in write order', async () => {
    const sink = await openSink({ kind: 'collect' });
    await Promise.all([sink.write([1, 2]), sink.write([3])]);
    expect(await sink.commit()).toEqual({ records: 3 });
    expect(collected(sink)).toEqual([1, 2, 3]);
    await expect(sink.write([4])).rejects.toThrow(ConflictError);
    expect(() =>
      collected({ write: async () => {}, commit: async () => ({}), abort: async () => {} }),
    ).toThrow(InvalidArgumentError);
  });
});
