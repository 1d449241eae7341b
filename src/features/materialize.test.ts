import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DAY,
  type ExpectedState,
  onlineState,
  T0,
  writeMaterializeRepo,
} from '../../test/fixtures/feature-materialize-repo.js';
import { mustRunRedis, redisAnswers, TEST_REDIS_URL } from '../../test/fixtures/redis-available.js';
import { InvalidArgumentError } from '../core/errors.js';
import { loadFeatureRepository } from './feature-definitions.js';
import type { FeatureRepository } from './feature-types.js';
import { materialize, type MaterializeProgress } from './materialize.js';
import { MemoryOnlineFeatureStore } from '../storage/memory-online-feature-store.js';
import { DuckDBOfflineFeatureStore } from './offline-store.js';
import type { OnlineFeatureStore } from './online-store.js';
import { RedisOnlineFeatureStore } from '../storage/redis-online-feature-store.js';
import { SqliteOnlineFeatureStore } from '../storage/sqlite-online-feature-store.js';

let dir: string;
let repo: FeatureRepository;
let expectedFor: (start: number, end: number) => ExpectedState;
const offline = new DuckDBOfflineFeatureStore({ threads: 1 });
const START = T0;
const END = T0 + 10 * DAY;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-materialize-'));
  expectedFor = await writeMaterializeRepo(join(dir, 'repo'));
  repo = await loadFeatureRepository(join(dir, 'repo'));
});
afterAll(async () => {
  await offline.close();
  await rm(dir, { recursive: true, force: true });
});

const reachable = await redisAnswers(TEST_REDIS_URL);
const base = `kiban-test:${randomUUID()}:`;
let prefixes = 0;
afterAll(async () => {
  if (!reachable) return;
  const raw = new Redis(TEST_REDIS_URL);
  const keys = await raw.keys(`${base}*`);
  if (keys.length > 0) await raw.unlink(...keys);
  await raw.quit();
});

const stores: [string, () => OnlineFeatureStore][] = [
  ['memory', () => new MemoryOnlineFeatureStore()],
  ['sqlite', () => new SqliteOnlineFeatureStore(join(dir, `online-${randomUUID()}.db`))],
];
if (mustRunRedis(reachable))
  stores.push([
    'redis',
    () => new RedisOnlineFeatureStore(TEST_REDIS_URL, { prefix: `${base}${prefixes++}:` }),
  ]);

for (const [name, open] of stores)
  describe(`materialize into ${name}`, () => {
    it("writes each entity's latest row of [start, end), window by window, and a rerun changes nothing", async () => {
      const online = open();
      try {
        const progress: MaterializeProgress[] = [];
        const result = await materialize({
          repo,
          offline,
          online,
          start: new Date(START),
          end: new Date(END),
          chunkRows: 7,
          onProgress: (p) => progress.push(p),
        });
        const expected = expectedFor(START, END);
        expect(await onlineState(online, expected)).toEqual(expected);
        // Keys with rows only outside the window stay absent.
        expect(
          [...expected.get('user_stats')!.values()].filter((r) => r === null).length,
        ).toBeGreaterThan(0);
        expect(result.views.map((v) => [v.view, v.windows, v.resumed])).toEqual([
          ['user_stats', 10, false],
          ['pair_stats', 10, false],
        ]);
        expect(result.rowsStored).toBe(result.rows);
        expect(result.rows).toBeGreaterThan(0);
        expect(progress.filter((p) => p.windowFinished).map((p) => p.windowsDone)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        expect(progress.at(-1)).toMatchObject({ windowsTotal: 20, rows: result.rows });
        const newest = Math.max(
          ...[...expected.get('user_stats')!.values()].map((r) => r?.eventTime ?? 0),
        );
        expect(await online.getMaterialized('user_stats')).toMatchObject({
          start: START,
          end: END,
          newestEventTime: newest,
        });

        // The same range again: resumed at the mark's end, nothing to do.
        const again = await materialize({
          repo,
          offline,
          online,
          start: new Date(START),
          end: new Date(END),
        });
        expect(again.views.map((v) => [v.windows, v.resumed, v.rows])).toEqual([
          [0, true, 0],
          [0, true, 0],
        ]);
        // Forced: every window read and written again, none of it stored.
        const forced = await materialize({
          repo,
          offline,
          online,
          start: new Date(START + 3 * DAY),
          end: new Date(END),
          force: true,
        });
        expect(forced.rows).toBeGreaterThan(0);
        expect(forced.rowsStored).toBe(0);
        expect(await onlineState(online, expected)).toEqual(expected);
        expect((await online.getMaterialized('pair_stats'))?.end).toBe(END);
      } finally {
        await online.close();
      }
    });

    it("resumes after an abort mid-window: the end state equals an uninterrupted run's", async () => {
      const online = open();
      try {
        const controller = new AbortController();
        const error = await materialize({
          repo,
          offline,
          online,
          views: ['pair_stats', 'user_stats'],
          start: new Date(START),
          end: new Date(END),
          chunkRows: 3,
          signal: controller.signal,
          onProgress: (p) => {
            // Inside user_stats' fourth window, after one of its chunks was written.
            if (p.view === 'user_stats' && p.windowsDone === 13 && !p.windowFinished)
              controller.abort();
          },
        }).catch((e: unknown) => e);
        expect((error as Error).name).toBe('AbortError');
        expect((await online.getMaterialized('pair_stats'))?.end).toBe(END);
        expect((await online.getMaterialized('user_stats'))?.end).toBe(START + 3 * DAY);

        const rerun = await materialize({
          repo,
          offline,
          online,
          start: new Date(START),
          end: new Date(END),
        });
        expect(rerun.views.map((v) => [v.view, v.resumed, v.windows, v.from.getTime()])).toEqual([
          ['user_stats', true, 7, START + 3 * DAY],
          ['pair_stats', true, 0, END],
        ]);
        const expected = expectedFor(START, END);
        expect(await onlineState(online, expected)).toEqual(expected);
      } finally {
        await online.close();
      }
    });
  });

describe('materialize', () => {
  it('continues a marked range with a later one, and leaves values of a later window in place when an earlier one is rerun', async () => {
    const online = new MemoryOnlineFeatureStore();
    await materialize({
      repo,
      offline,
      online,
      views: ['user_stats'],
      start: new Date(START),
      end: new Date(START + 5 * DAY),
    });
    const firstFive = expectedFor(START, START + 5 * DAY);
    expect((await onlineState(online, firstFive)).get('user_stats')).toEqual(
      firstFive.get('user_stats'),
    );
    const later = await materialize({
      repo,
      offline,
      online,
      views: ['user_stats'],
      start: new Date(START + 5 * DAY),
      end: new Date(END),
    });
    expect(later.views[0]).toMatchObject({ resumed: false, windows: 5 });
    expect(await online.getMaterialized('user_stats')).toMatchObject({ start: START, end: END });
    // An earlier window written again is older than what is stored: nothing changes.
    const early = await materialize({
      repo,
      offline,
      online,
      views: ['user_stats'],
      start: new Date(START),
      end: new Date(START + 2 * DAY),
      force: true,
    });
    expect(early.rowsStored).toBe(0);
    const expected = expectedFor(START, END);
    expect((await onlineState(online, expected)).get('user_stats')).toEqual(
      expected.get('user_stats'),
    );
  });

  it('refuses unknown views, an empty window and bad sizes, by field', async () => {
    const online = new MemoryOnlineFeatureStore();
    const field = async (options: Partial<Parameters<typeof materialize>[0]>): Promise<string> => {
      const error = await materialize({
        repo,
        offline,
        online,
        start: new Date(START),
        end: new Date(END),
        ...options,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      return (error as InvalidArgumentError).field;
    };
    expect(await field({ views: ['nope'] })).toBe('views');
    expect(await field({ end: new Date(START) })).toBe('end');
    expect(await field({ stepMs: 0 })).toBe('stepMs');
    expect(await field({ chunkRows: 1.5 })).toBe('chunkRows');
    expect(await online.listMaterialized()).toEqual(new Map());
  });

  it('after a SIGKILL mid-run, a rerun ends in the state of an uninterrupted run', async () => {
    const path = join(dir, 'killed.db');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/fixtures/materialize-until-killed.ts',
        join(dir, 'repo'),
        path,
        String(START),
        String(END),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const said = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('paused') || out.includes('finished')) resolve(out);
      });
      child.on('exit', (code) => reject(new Error(`fixture exited with ${code} before pausing`)));
    });
    expect(said).toContain('paused');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    const online = new SqliteOnlineFeatureStore(path);
    try {
      // 12 chunks of 5 rows: part of user_stats, its mark short of the end, pair_stats not begun.
      const mark = await online.getMaterialized('user_stats');
      expect(mark === null || mark.end < END).toBe(true);
      expect(await online.getMaterialized('pair_stats')).toBeNull();
      const rerun = await materialize({
        repo,
        offline,
        online,
        start: new Date(START),
        end: new Date(END),
      });
      expect(rerun.views[0]?.resumed).toBe(mark !== null);
      const expected = expectedFor(START, END);
      expect(await onlineState(online, expected)).toEqual(expected);
    } finally {
      await online.close();
    }
  });
});
