/**
 * The feature store (issue 20), materialisation: `materialize` (src/features/materialize.ts) from
 * the DuckDB offline store into the online store, by default the real Redis, timed.
 *
 *   npx tsx bench/features-materialize.ts                      # 10M rows: 1M users × 10 days
 *   npx tsx bench/features-materialize.ts --rows 1000000 --entities 100000
 *   npx tsx bench/features-materialize.ts --online sqlite:/tmp/features.db
 *   npx tsx bench/features-materialize.ts --read-only          # the offline read alone
 *
 * Data (seeded, made with DuckDB SQL as Parquet in a temporary directory): a view `user_stats`
 * keyed by an int64 `user_id`, `--entities` users each with one row per UTC day for
 * `--rows / --entities` days from 2024-01-01 (at a random time of the day), four features
 * (int64, float64, float64, string). Materialised in daily windows, each window writes every
 * user's row of that day: `--rows` rows in all. The Redis keys go under a prefix of their own and
 * are removed after. Printed last: one JSON line.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { sqlLiteral } from '../src/data/duckdb-sql.js';
import type { FeatureRepository } from '../src/features/feature-types.js';
import { DAY_MS, materialize } from '../src/features/materialize.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';
import type { OnlineFeatureStore } from '../src/features/online-store.js';
import { openOnlineFeatureStore } from '../src/app/open-online-store.js';
import { RedisOnlineFeatureStore } from '../src/storage/redis-online-feature-store.js';

const HELP = `Usage: npx tsx bench/features-materialize.ts [options]

Materialisation of a feature view from the DuckDB offline store to the online store.
Goal (issue 20, 2 cores): 10M rows to Redis at >= 200,000 rows/s. The last line printed is one
JSON object.

Options:
  --rows N           rows to materialise (default 10000000)
  --entities N       distinct users; days = rows / entities (default 1000000)
  --online URL       online store (default redis://127.0.0.1:6379, under a prefix of its own)
  --chunk-rows N     rows per online write (default 10000)
  --batch-size N     Redis: rows per write script call (default: the store's, 500)
  --threads N        DuckDB threads (default: DuckDB's, the core count)
  --read-only        only read the windows from the offline store (no writes)
  --seed N           data seed (default 1)
  --dir DIR          keep the data in DIR (made once, reused) instead of a temp dir
  --help             this text
`;

const T0 = 1_704_067_200_000; // 2024-01-01T00:00:00Z, ms

async function generate(
  dir: string,
  rows: number,
  entities: number,
  seed: number,
): Promise<number> {
  const started = performance.now();
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const h = (salt: number) => `hash(i, ${seed * 100 + salt})`;
  try {
    // Ordered by day, so each window's read skips the other days' row groups.
    await con.run(
      `COPY (SELECT CAST(i % ${entities} AS BIGINT) AS user_id, ` +
        `make_timestamp(CAST(${T0 * 1000} + (i // ${entities}) * 86400000000 + ${h(1)} % 86400000000 AS BIGINT)) AS event_time, ` +
        `CAST(${h(2)} % 1000 AS BIGINT) AS clicks_1d, CAST(${h(3)} % 100000 AS DOUBLE) / 100 AS spend_1d, ` +
        `CAST(${h(4)} % 1000000 AS DOUBLE) / 1000000 AS score, ` +
        `'segment-' || CAST(${h(5)} % 20 AS VARCHAR) AS segment ` +
        `FROM range(${rows}) t(i)) TO ${sqlLiteral(join(dir, 'user_stats.parquet'))} (FORMAT parquet)`,
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
  return (performance.now() - started) / 1000;
}

function repository(dir: string): FeatureRepository {
  return {
    root: dir,
    entities: new Map([['user', { name: 'user', joinKey: 'user_id', type: 'int64' }]]),
    sources: new Map([
      [
        'user_stats',
        { name: 'user_stats', path: join(dir, 'user_stats.parquet'), timestamp: 'event_time' },
      ],
    ]),
    featureViews: new Map([
      [
        'user_stats',
        {
          name: 'user_stats',
          entities: ['user'],
          source: 'user_stats',
          ttlSeconds: 7 * 86_400,
          features: [
            { name: 'clicks_1d', type: 'int64' },
            { name: 'spend_1d', type: 'float64' },
            { name: 'score', type: 'float64' },
            { name: 'segment', type: 'string' },
          ],
          tags: {},
        },
      ],
    ]),
    featureServices: new Map(),
  };
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      rows: { type: 'string', default: '10000000' },
      entities: { type: 'string', default: '1000000' },
      online: { type: 'string', default: 'redis://127.0.0.1:6379' },
      'chunk-rows': { type: 'string', default: '10000' },
      'batch-size': { type: 'string' },
      threads: { type: 'string' },
      'read-only': { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (a.help) {
    process.stdout.write(HELP);
    return;
  }
  const rows = Number(a.rows);
  const entities = Number(a.entities);
  const days = Math.ceil(rows / entities);
  const keep = a.dir !== undefined;
  const dir = a.dir ?? (await mkdtemp(join(tmpdir(), 'kiban-bench-materialize-')));
  const prefix = `kiban-bench-materialize:${process.pid}:`;
  const isRedis = a.online.startsWith('redis://') || a.online.startsWith('rediss://');
  let online: OnlineFeatureStore | null = null;
  try {
    await mkdir(dir, { recursive: true });
    if (keep && existsSync(join(dir, 'user_stats.parquet')))
      console.log(`reusing the data in ${dir}`);
    else {
      console.log(`generating ${rows} rows (${entities} users × ${days} days) in ${dir}…`);
      console.log(
        `generated in ${(await generate(dir, rows, entities, Number(a.seed))).toFixed(1)} s`,
      );
    }
    const repo = repository(dir);
    const offline = new DuckDBOfflineFeatureStore(
      a.threads === undefined ? {} : { threads: Number(a.threads) },
    );
    online = isRedis
      ? new RedisOnlineFeatureStore(a.online, {
          prefix,
          ...(a['batch-size'] === undefined ? {} : { batchSize: Number(a['batch-size']) }),
        })
      : await openOnlineFeatureStore(a.online, '--online');
    const raw = isRedis ? new Redis(a.online) : null;
    const usedBefore = raw === null ? 0 : await redisUsedMemory(raw);
    const redisCpuBefore = raw === null ? 0 : await redisCpuSeconds(raw);
    const loadBefore = loadavg()[0]!;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let read = 0;
    let result: Awaited<ReturnType<typeof materialize>> | null = null;
    if (a['read-only']) {
      for (let d = 0; d < days; d++)
        for await (const chunk of offline.readLatest({
          repo,
          view: 'user_stats',
          start: new Date(T0 + d * DAY_MS),
          end: new Date(T0 + (d + 1) * DAY_MS),
        }))
          read += chunk.length;
    } else {
      let last = 0;
      result = await materialize({
        repo,
        offline,
        online,
        start: new Date(T0),
        end: new Date(T0 + days * DAY_MS),
        chunkRows: Number(a['chunk-rows']),
        onProgress: (p) => {
          if (p.windowFinished || p.rows - last >= 1_000_000) {
            last = p.rows;
            console.log(
              `  ${p.windowsDone}/${p.windowsTotal} windows, ${p.rows} rows, ${Math.round(p.rowsPerSecond)} rows/s`,
            );
          }
        },
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const loadAfter = loadavg()[0]!;
    const written = result?.rows ?? read;
    const figures = {
      bench: 'features-materialize',
      online: a['read-only'] ? 'none (read only)' : isRedis ? 'redis' : a.online.split(':')[0],
      rows: written,
      rowsStored: result?.rowsStored ?? 0,
      entities,
      windows: days,
      seconds: Number(seconds.toFixed(2)),
      rowsPerSecond: Math.round(written / seconds),
      processCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
      peakRssMB: Math.round((process.resourceUsage().maxRSS * 1024) / 1048576),
      ...(raw === null
        ? {}
        : {
            redisMemoryMB: Math.round(((await redisUsedMemory(raw)) - usedBefore) / 1048576),
            redisCpuSeconds: Number(((await redisCpuSeconds(raw)) - redisCpuBefore).toFixed(1)),
          }),
      chunkRows: Number(a['chunk-rows']),
      loadAverage: [loadBefore, loadAfter].map((l) => Number(l.toFixed(1))),
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memoryGB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
    };
    console.log(
      `${written} rows in ${seconds.toFixed(1)} s: ${figures.rowsPerSecond} rows/s (goal >= 200000 to Redis), ` +
        `process CPU ${figures.processCpuSeconds} s, load ${figures.loadAverage.join(' → ')}`,
    );
    await offline.close();
    if (raw !== null) {
      await online.clearView('user_stats');
      await raw.quit();
    }
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await online?.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

/** The Redis server's user + system CPU seconds so far (all clients: other load counts too). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

await main();
