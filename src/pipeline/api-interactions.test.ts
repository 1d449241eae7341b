/**
 * The batch learns from the interactions written through the API (`metadata.interactions`):
 * aggregate pages them into a work file and adds them as a reserved event type, the log's window
 * stays the log's, a retry counts nothing twice, and publish records `interactionsThrough`.
 * Run with the real stores, SQLite and PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from '../../test/fixtures/postgres.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { taskLogLogger } from '../workflow/task-log-logger.js';
import {
  aggregateEvents,
  INTERACTIONS_THROUGH_KEY,
  readInteractionsThrough,
  writeApiInteractions,
} from './aggregate.js';
import { parsePipelineConfig } from './pipeline-config.js';
import { readEmbeddingMeta } from './steps/embedding-version.js';
import { runPipelineStep, type StepContext, stepConfig } from './steps/index.js';

const DAY = 86_400;
/** The log's newest event: 2018-03-01, long before the API events (sent "today"). */
const LOG_END = Date.UTC(2018, 2, 1) / 1000;
const TODAY = new Date(Date.UTC(2026, 11, 7, 12));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-api-interactions-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A historical log of 20 users who each viewed 8 of 16 items over the 60 days up to LOG_END
 * (user `uN` viewed items `i(N+k) mod 16`, k < 8): 160 events, every one inside a 90-day window
 * ending at the log's newest event.
 */
async function writeLog(name: string, extra: string[] = []): Promise<string> {
  const lines = ['user,item,event,value,timestamp'];
  for (let u = 0; u < 20; u++)
    for (let k = 0; k < 8; k++)
      lines.push(`u${u},i${(u + k) % 16},view,1,${LOG_END - ((u * 8 + k) % 60) * DAY}`);
  lines.push(...extra);
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

async function readPairs(parquet: string): Promise<Map<string, number>> {
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const rows = (
      await con.runAndReadAll(
        `SELECT "user", item, value FROM read_parquet('${parquet.replaceAll("'", "''")}')`,
      )
    ).getRowsJS();
    return new Map(rows.map(([u, i, v]) => [`${u}/${i}`, Number(v)]));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

describe('aggregateEvents with API interactions', () => {
  const apiFile = async (name: string, rows: object[]): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return path;
  };

  it('adds them weighted, once per seq, without moving the log window, and records the highest seq', async () => {
    const input = await writeLog('log-a.csv');
    const at = TODAY.getTime();
    const file = await apiFile('api-a.ndjson', [
      { seq: 3, user: 'u0', item: 'i0', atMs: at, weight: 3 },
      // The same seq twice (a file written by a retried page) counts once.
      { seq: 3, user: 'u0', item: 'i0', atMs: at, weight: 3 },
      { seq: 5, user: 'u1', item: 'i15', atMs: at, weight: 1 },
      // Older than the window's start (LOG_END − 90 days): dropped like a log event would be.
      { seq: 9, user: 'u2', item: 'i15', atMs: (LOG_END - 100 * DAY) * 1000, weight: 1 },
    ]);
    const output = join(dir, 'a.parquet');
    const figures = await aggregateEvents({
      input,
      output,
      eventWeights: { view: 1 },
      window: { days: 90 },
      api: { file, eventType: 'api-interaction', weight: 2 },
    });
    // Without the fix the window would end today and leave none of the 2018 log.
    expect(figures).toMatchObject({
      rowsIn: 160,
      rowsInWindow: 160,
      apiRowsIn: 3,
      apiRowsInWindow: 2,
      interactionsThrough: 9,
      pairsOut: 161,
    });
    const pairs = await readPairs(output);
    expect(pairs.get('u0/i0')).toBe(1 + 2 * 3);
    expect(pairs.get('u1/i15')).toBe(2);
    expect(pairs.has('u2/i15')).toBe(false);
    expect(await readInteractionsThrough(output)).toBe(9);

    // An explicit end bounds API events too.
    const ended = await aggregateEvents({
      input,
      output: join(dir, 'a-ended.parquet'),
      eventWeights: { view: 1 },
      window: { days: 90, end: new Date(LOG_END * 1000).toISOString() },
      api: { file, eventType: 'api-interaction', weight: 2 },
    });
    expect(ended).toMatchObject({ rowsInWindow: 160, apiRowsIn: 3, apiRowsInWindow: 0 });
    expect((await readPairs(join(dir, 'a-ended.parquet'))).get('u0/i0')).toBe(1);
  });

  it('records 0 without API interactions, and refuses a log holding the reserved type', async () => {
    const output = join(dir, 'b.parquet');
    const plain = await aggregateEvents({
      input: await writeLog('log-b.csv'),
      output,
      eventWeights: { view: 1 },
    });
    expect(plain).toMatchObject({ apiRowsIn: 0, interactionsThrough: 0 });
    expect(await readInteractionsThrough(output)).toBe(0);

    const reserved = await writeLog('log-c.csv', [`u0,i3,api-interaction,1,${LOG_END}`]);
    await expect(
      aggregateEvents({
        input: reserved,
        output,
        eventWeights: { view: 1 },
        api: {
          file: await apiFile('api-c.ndjson', []),
          eventType: 'api-interaction',
          weight: 1,
        },
      }),
    ).rejects.toThrow(/1 events have the type "api-interaction", which is reserved/);
    expect(() =>
      parsePipelineConfig({ aggregate: { eventWeights: { view: 1, 'api-interaction': 2 } } }),
    ).toThrow(/config\.aggregate\.eventWeights\.api-interaction: .*reserved/);
    expect(parsePipelineConfig({}).aggregate.apiInteractions).toEqual({
      enabled: true,
      eventType: 'api-interaction',
      weight: 1,
    });
    expect(INTERACTIONS_THROUGH_KEY).toBe('kiban.interactions_through');
    // A workflow task sets them as aggregate params, as text or not.
    const task = await stepConfig('aggregate', { apiInteractions: { weight: '3' } }, dir);
    expect(task.aggregate.apiInteractions).toEqual({
      enabled: true,
      eventType: 'api-interaction',
      weight: 3,
    });
    await expect(
      stepConfig('aggregate', { apiInteractions: { enabled: true, weight: 0 } }, dir),
    ).rejects.toThrow(/params\.apiInteractions\.weight/);
  });
});

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);
const schemas: string[] = [];
afterAll(async () => {
  if (postgresProblem === null) await dropSchemas(schemas);
});

describe.each([
  ['SQLite', () => KyselyMetadataStore.sqlite(':memory:')],
  [
    `PostgreSQL (${TEST_POSTGRES_URL})`,
    () => {
      const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema });
    },
  ],
])('the batch learns from API interactions on %s', (engine, open) => {
  let metadata: KyselyMetadataStore;
  const serving = new MemoryServingStore();
  let log: string;
  beforeAll(async () => {
    if (engine.startsWith('PostgreSQL'))
      expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
    metadata = open();
    await metadata.migrate();
    log = await writeLog(`log-${engine.slice(0, 6)}.csv`);
  });
  afterAll(async () => {
    await serving.close();
    await metadata?.close();
  });

  const context = (name: string, aggregate: Record<string, unknown> = {}): StepContext => ({
    config: parsePipelineConfig({
      data: { events: log },
      aggregate: {
        eventWeights: { view: 1 },
        window: { days: 90 },
        minUserItems: 5,
        minItemUsers: 2,
        ...aggregate,
      },
      model: { kind: 'graphsage', params: { epochs: 1, dim: 8 } },
      evaluate: { holdout: 0 },
      candidates: { users: 3, related: 3, popular: 3 },
      stores: { artifacts: join(dir, `models-${name}`), work: join(dir, `work-${name}`) },
    }),
    runId: `api-${name}`,
    workDir: join(dir, `work-${name}`),
    serving: async () => serving,
    metadata,
    logger: taskLogLogger(() => undefined),
  });

  it('aggregates them with their weight, retries without double counting, and publishes interactionsThrough', async () => {
    // A user known only through the API (6 items), and an existing user's repeat of a log item.
    const fresh = Array.from({ length: 6 }, (_, k) => ({
      id: `fresh-${k}`,
      user: 'api-only',
      item: `i${k}`,
      at: TODAY,
    }));
    expect(await metadata.interactions.append(fresh)).toEqual({ accepted: 6, duplicates: 0 });
    const repeat = { id: 'u0-again', user: 'u0', item: 'i0', at: TODAY, weight: 3 };
    await metadata.interactions.append([repeat]);
    // The client retried: the store skips the id, the batch must not see it twice either.
    expect(await metadata.interactions.append([repeat])).toEqual({ accepted: 0, duplicates: 1 });
    const stored = await metadata.interactions.list();
    expect(stored).toHaveLength(7);
    const through = stored[6].seq;

    const name = `${engine.slice(0, 6)}-1`;
    const ctx = context(name, { apiInteractions: { weight: 2 } });
    const aggregated = await runPipelineStep('aggregate', ctx);
    expect(aggregated).toMatchObject({
      rowsIn: 160,
      rowsInWindow: 160,
      apiRowsIn: 7,
      apiRowsInWindow: 7,
      interactionsThrough: through,
      users: 21,
    });
    const parquet = join(ctx.workDir, 'interactions.parquet');
    const pairs = await readPairs(parquet);
    expect(pairs.get('u0/i0')).toBe(1 + 2 * 3);
    for (let k = 0; k < 6; k++) expect(pairs.get(`api-only/i${k}`)).toBe(2);
    const apiFileText = await readFile(join(ctx.workDir, 'api-interactions.ndjson'), 'utf8');
    expect(apiFileText.trim().split('\n')).toHaveLength(7);

    // A retried step rewrites the work file from the store: the same figures, nothing twice.
    expect(await runPipelineStep('aggregate', ctx)).toEqual(aggregated);
    expect((await readPairs(parquet)).get('u0/i0')).toBe(7);

    const trained = await runPipelineStep('train', ctx);
    expect(trained).toMatchObject({ users: 21, interactionsThrough: through });
    expect((await metadata.getModel(String(trained.modelId)))?.dataSnapshot).toMatchObject({
      interactionsThrough: through,
    });
    await runPipelineStep('candidates', ctx);
    await runPipelineStep('publish', ctx);
    const version = await serving.currentVersion();
    expect(readEmbeddingMeta(version!.meta)).toMatchObject({ interactionsThrough: through });
    // The API-only user was trained on: a list and an embedding of their own.
    expect(await serving.getList('user', 'api-only')).toHaveLength(3);
    expect(await serving.getVector('user', 'api-only')).toHaveLength(8);

    // What arrives after the batch is newer than it; the next batch reads it too.
    await metadata.interactions.append([{ user: 'api-only', item: 'i9', at: TODAY }]);
    expect(await metadata.interactions.forUser('api-only', { after: through })).toMatchObject([
      { item: 'i9' },
    ]);
    const next = await runPipelineStep('aggregate', context(`${engine.slice(0, 6)}-2`));
    // Seqs may have gaps (a skipped duplicate can use one up): the highest stored is recorded.
    const newest = (await metadata.interactions.list({ after: through }))[0].seq;
    expect(newest).toBeGreaterThan(through);
    expect(next).toMatchObject({ apiRowsIn: 8, interactionsThrough: newest });
  }, 120_000);

  it('reads the log alone with apiInteractions.enabled false', async () => {
    const ctx = context(`${engine.slice(0, 6)}-off`, { apiInteractions: { enabled: false } });
    expect(await runPipelineStep('aggregate', ctx)).toMatchObject({
      apiRowsIn: 0,
      interactionsThrough: 0,
      users: 20,
    });
    expect(await readInteractionsThrough(join(ctx.workDir, 'interactions.parquet'))).toBe(0);
  });
});

describe('writeApiInteractions', () => {
  it('pages through the store in seq order, one page in memory, each seq once', async () => {
    const metadata = KyselyMetadataStore.sqlite(':memory:');
    await metadata.migrate();
    try {
      const events = Array.from({ length: 25 }, (_, k) => ({
        user: `user "${k % 3}", with a comma\nand a line`,
        item: `item-${k}`,
        at: new Date(Date.UTC(2026, 0, 1) + k * 1000),
        weight: k + 0.5,
      }));
      await metadata.interactions.append(events);
      const pages: number[] = [];
      const store = {
        list: async (options?: { after?: number; limit?: number }) => {
          const page = await metadata.interactions.list(options);
          pages.push(page.length);
          return page;
        },
      };
      const file = join(dir, 'paged', 'api.ndjson');
      expect(await writeApiInteractions(store, file, { pageSize: 10 })).toEqual({
        rows: 25,
        through: 25,
      });
      expect(pages).toEqual([10, 10, 5]);
      const rows = (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, k) => k + 1));
      expect(rows[4]).toEqual({
        seq: 5,
        user: events[4].user,
        item: 'item-4',
        atMs: events[4].at.getTime(),
        weight: 4.5,
      });
      // Ids with quotes, commas and newlines reach the aggregation intact.
      const output = join(dir, 'paged.parquet');
      await aggregateEvents({
        input: await writeLog('log-paged.csv'),
        output,
        eventWeights: { view: 1 },
        api: { file, eventType: 'api-interaction', weight: 1 },
      });
      expect((await readPairs(output)).get(`${events[4].user}/item-4`)).toBe(4.5);
    } finally {
      await metadata.close();
    }
  });
});
