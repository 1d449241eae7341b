import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import type {
  FeatureRepository,
  FeatureViewDefinition,
  SourceDefinition,
} from './feature-types.js';
import { DuckDBOfflineFeatureStore, type LatestRow } from './offline-store.js';

let dir: string;
const store = new DuckDBOfflineFeatureStore({ threads: 2 });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-offline-store-'));
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});
const file = (name: string): string => join(dir, name);

/** A CSV file from a header and rows (cells written as given; null as an empty cell). */
async function csv(name: string, header: string[], rows: unknown[][]): Promise<string> {
  const text = [header, ...rows.map((r) => r.map((c) => (c === null ? '' : String(c))))]
    .map((r) => r.join(','))
    .join('\n');
  await writeFile(file(name), `${text}\n`);
  return file(name);
}

/** The cells of a CSV file without quoting (the tests write none), header first. */
async function readCsv(path: string): Promise<string[][]> {
  return (await readFile(path, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => l.split(','));
}

function repository(
  views: FeatureViewDefinition[],
  sources: SourceDefinition[],
  keyType: 'string' | 'int64' = 'string',
): FeatureRepository {
  return {
    root: dir,
    entities: new Map([
      ['user', { name: 'user', joinKey: 'user_id', type: keyType }],
      ['item', { name: 'item', joinKey: 'item_id', type: keyType }],
    ]),
    sources: new Map(sources.map((s) => [s.name, s])),
    featureViews: new Map(views.map((v) => [v.name, v])),
    featureServices: new Map(),
  };
}

const view = (
  name: string,
  entities: string[],
  ttlSeconds: number,
  features: string[] = ['x'],
): FeatureViewDefinition => ({
  name,
  entities,
  source: name,
  ttlSeconds,
  features: features.map((f) => ({ name: f, type: 'int64' })),
  tags: {},
});

describe('DuckDBOfflineFeatureStore.historical', () => {
  it('takes the latest row at or before each row, created time breaking ties, TTL half-open', async () => {
    const source = await csv(
      'stats.csv',
      ['user_id', 'event_time', 'created', 'x', 'y'],
      [
        ['a', 100, 100, 1, 10],
        ['a', 100, 150, 2, null], // same event time, created later: wins, y null stays null
        ['a', 200, 200, 3, 30],
        ['b', 100, 100, 4, 40],
        ['b', 1000, 1000, 5, 50], // the future for every row below
      ],
    );
    const repo = repository(
      [{ ...view('stats', ['user'], 60, ['x', 'y']) }],
      [{ name: 'stats', path: source, timestamp: 'event_time', createdTimestamp: 'created' }],
    );
    const entities = await csv(
      'rows.csv',
      ['label', 'user_id', 'event_time'],
      [
        ['r0', 'a', '1970-01-01T00:03:19Z'], // 199: the tie at 100 (created 150), 99 s old: expired
        ['r1', 'a', '1970-01-01T00:01:40Z'], // 100: exactly at the event time
        ['r2', 'a', '1970-01-01T00:02:39Z'], // 159: 59 s old, valid
        ['r3', 'a', '1970-01-01T00:02:40Z'], // 160: exactly the TTL old: expired
        ['r4', 'b', '1970-01-01T00:01:39Z'], // 99: before every row of b
        ['r5', 'c', '1970-01-01T00:02:00Z'], // no rows at all
        ['r6', 'a', '1970-01-01T00:03:20Z'], // 200: the row at 200
        ['r7', 'a', '1970-01-01T00:01:40Z'], // a duplicate of r1
        ['r8', 'b', ''], // no timestamp
      ],
    );
    const out = file('out.csv');
    const result = await store.historical({
      repo,
      entities,
      output: out,
      features: [
        { view: 'stats', feature: 'y' },
        { view: 'stats', feature: 'x' },
      ],
    });
    expect(result.rows).toBe(9);
    expect(result.columns).toEqual(['label', 'user_id', 'event_time', 'stats__y', 'stats__x']);
    const rows = await readCsv(out);
    expect(rows[0]).toEqual(result.columns);
    expect(rows.slice(1).map((r) => [r[0], r[3], r[4]])).toEqual([
      ['r0', '', ''],
      ['r1', '', '2'],
      ['r2', '', '2'],
      ['r3', '', ''],
      ['r4', '', ''],
      ['r5', '', ''],
      ['r6', '30', '3'],
      ['r7', '', '2'],
      ['r8', '', ''],
    ]);
    // Input cells are written as read.
    expect(rows[1]![2]).toBe('1970-01-01T00:03:19Z');
    expect(await readdir(dir)).not.toContainEqual(expect.stringContaining('.tmp-'));
  });

  it('reads epoch seconds, Parquet in and out, and a view keyed by two entities', async () => {
    const source = await csv(
      'pairs.csv',
      ['user_id', 'item_id', 'ts', 'x'],
      [
        [1, 7, '2024-01-01T00:00:00Z', 11],
        [1, 8, '2024-01-01T00:00:00Z', 12],
        [2, 7, '2024-01-02T00:00:00+02:00', 13],
      ],
    );
    const repo = repository(
      [view('pairs', ['user', 'item'], 0)],
      [{ name: 'pairs', path: source, timestamp: 'ts' }],
      'int64',
    );
    await csv(
      'pair-rows.csv',
      ['user_id', 'item_id', 'when'],
      [
        [1, 8, 1704067200], // 2024-01-01T00:00:00Z
        [1, 7, 1704067199.5],
        [2, 7, 1704146400], // 2024-01-01T22:00:00Z
        [2, 8, 1804146400],
      ],
    );
    const con = await (await import('@duckdb/node-api')).DuckDBInstance.create(':memory:');
    const c = await con.connect();
    await c.run(
      `COPY (SELECT * FROM read_csv('${file('pair-rows.csv')}')) TO '${file('pair-rows.parquet')}' (FORMAT parquet)`,
    );
    const result = await store.historical({
      repo,
      entities: file('pair-rows.parquet'),
      timestampColumn: 'when',
      output: file('pairs-out.parquet'),
      features: [{ view: 'pairs', feature: 'x' }],
    });
    expect(result.rows).toBe(4);
    const read = await c.runAndReadAll(
      `SELECT user_id, item_id, pairs__x FROM read_parquet('${file('pairs-out.parquet')}')`,
    );
    c.closeSync();
    con.closeSync();
    expect(read.getRowsJS()).toEqual([
      [1n, 8n, 12n],
      [1n, 7n, null],
      [2n, 7n, 13n],
      [2n, 8n, null],
    ]);
  });

  it('names the column and the reason when the input is wrong', async () => {
    const source = await csv('s.csv', ['user_id', 'event_time', 'x'], [['a', 1, 2]]);
    const repo = repository(
      [view('s', ['user'], 0)],
      [{ name: 's', path: source, timestamp: 'event_time' }],
    );
    const features = [{ view: 's', feature: 'x' }];
    const output = file('never.csv');
    const bad = await csv(
      'bad.csv',
      ['user_id', 'event_time'],
      [
        ['a', '2024-01-01'],
        ['a', 'yesterday'],
      ],
    );
    await expect(store.historical({ repo, entities: bad, output, features })).rejects.toThrow(
      new DataError(
        { file: bad, column: 'event_time' },
        '"yesterday" is neither an ISO-8601 timestamp nor epoch seconds',
      ),
    );
    const mixed = await csv(
      'mixed.csv',
      ['user_id', 'event_time'],
      [
        ['a', '2024-01-01'],
        ['a', '12'],
      ],
    );
    await expect(store.historical({ repo, entities: mixed, output, features })).rejects.toThrow(
      /event_time.*mixes epoch seconds and ISO-8601/,
    );
    const noKey = await csv('nokey.csv', ['uid', 'event_time'], [['a', 1]]);
    await expect(store.historical({ repo, entities: noKey, output, features })).rejects.toThrow(
      /missing join key column "user_id"/,
    );
    const good = await csv('good.csv', ['user_id', 'event_time'], [['a', 1]]);
    await expect(
      store.historical({ repo, entities: good, output, features: [{ view: 's', feature: 'z' }] }),
    ).rejects.toThrow(
      new InvalidArgumentError('features', 'view "s" has no feature "z"; it has "x"'),
    );
    await expect(
      store.historical({ repo, entities: good, output: file('x.json'), features }),
    ).rejects.toThrow(/output: cannot tell the format/);
    const badSource = await csv('s2.csv', ['user_id', 'event_time', 'x'], [['a', 1, 'many']]);
    const repo2 = repository(
      [view('s', ['user'], 0)],
      [{ name: 's', path: badSource, timestamp: 'event_time' }],
    );
    await expect(
      store.historical({ repo: repo2, entities: good, output, features }),
    ).rejects.toThrow(new DataError({ file: badSource, column: 'x' }, '"many" is not a int64'));
    expect(await readdir(dir)).not.toContain('never.csv');
  });
});

describe('DuckDBOfflineFeatureStore sources and cancelling', () => {
  it('reads a view from a DuckDB query, with its own column types', async () => {
    const raw = await csv(
      'raw.csv',
      ['uid', 'day', 'n'],
      [
        ['a', '2024-01-01', 1],
        ['a', '2024-01-02', 2],
        ['a', '2024-01-02', 3],
      ],
    );
    const repo = repository(
      [view('q', ['user'], 0)],
      [
        {
          name: 'q',
          query: `SELECT uid AS user_id, CAST(day AS DATE) AS day, sum(n) AS x FROM read_csv('${raw}') GROUP BY ALL`,
          timestamp: 'day',
        },
      ],
    );
    const entities = await csv(
      'q-rows.csv',
      ['user_id', 'event_time'],
      [
        ['a', '2024-01-01T12:00:00Z'],
        ['a', '2024-01-03'],
      ],
    );
    await store.historical({
      repo,
      entities,
      output: file('q.csv'),
      features: [{ view: 'q', feature: 'x' }],
    });
    expect((await readCsv(file('q.csv'))).map((r) => r[2])).toEqual(['q__x', '1', '5']);
  });

  it('stops when its signal is aborted, writing nothing', async () => {
    const source = await csv('ab.csv', ['user_id', 'event_time', 'x'], [['a', 1, 1]]);
    const repo = repository(
      [view('ab', ['user'], 0)],
      [{ name: 'ab', path: source, timestamp: 'event_time' }],
    );
    const entities = await csv('ab-rows.csv', ['user_id', 'event_time'], [['a', 2]]);
    const controller = new AbortController();
    controller.abort();
    await expect(
      store.historical({
        repo,
        entities,
        output: file('ab-out.csv'),
        features: [{ view: 'ab', feature: 'x' }],
        signal: controller.signal,
      }),
    ).rejects.toThrow(/abort/i);
    expect(await readdir(dir)).not.toContain('ab-out.csv');
  });
});

describe('DuckDBOfflineFeatureStore.latest and readLatest', () => {
  it('gives each key its latest row in [start, end)', async () => {
    const a = await csv(
      'la.csv',
      ['user_id', 'event_time', 'x'],
      [
        ['a', 10, 1],
        ['a', 20, 2],
        ['a', 30, 3], // at end: outside
        ['b', 5, 4], // before start: outside
        ['c', 29, 5],
      ],
    );
    const b = await csv(
      'lb.csv',
      ['user_id', 'event_time', 'x'],
      [
        ['d', 15, 6],
        ['a', 12, 7],
      ],
    );
    const repo = repository(
      [view('va', ['user'], 3600), { ...view('vb', ['user'], 0), source: 'vb' }],
      [
        { name: 'va', path: a, timestamp: 'event_time' },
        { name: 'vb', path: b, timestamp: 'event_time' },
      ],
    );
    const start = new Date(10_000);
    const end = new Date(30_000);
    const out = file('latest.csv');
    const result = await store.latest({
      repo,
      start,
      end,
      output: out,
      features: [
        { view: 'va', feature: 'x' },
        { view: 'vb', feature: 'x' },
      ],
    });
    expect(result.columns).toEqual(['user_id', 'va__x', 'vb__x']);
    expect(await readCsv(out)).toEqual([
      ['user_id', 'va__x', 'vb__x'],
      ['a', '2', '7'],
      ['c', '5', ''],
      ['d', '', '6'],
    ]);
    const rows: LatestRow[] = [];
    for await (const chunk of store.readLatest({ repo, view: 'va', start, end }))
      rows.push(...chunk);
    rows.sort((p, q) => String(p.key[0]).localeCompare(String(q.key[0])));
    expect(rows).toEqual([
      { key: ['a'], eventTimeUs: 20_000_000n, values: [2n] },
      { key: ['c'], eventTimeUs: 29_000_000n, values: [5n] },
    ]);
  });
});
