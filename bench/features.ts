/**
 * The feature store (issue 20). Offline part: a point-in-time join of label rows against feature
 * rows on the DuckDB offline store (src/features/offline-store.ts), timed, with the peak RSS of
 * the process that ran it (DuckDB runs in-process; the join runs in a child process of its own so
 * that generating the data does not count).
 *
 *   npx tsx bench/features.ts                    # 10M feature rows, 100k entities, 1M labels
 *   npx tsx bench/features.ts --feature-rows 1000000 --labels 100000
 *   npx tsx bench/features.ts --threads 1 --memory-limit 1GB
 *
 * Data (seeded, made with DuckDB SQL as Parquet in a temporary directory): a view `user_stats`
 * keyed by an int64 `user_id` (`--entities` users), with `--feature-rows` rows at event times
 * spread uniformly over 2024, a created time 0–1 h after the event (1% arrive 1–10 days late) and
 * three features (int64, float64, float64); TTL 30 days. Labels: `--labels` rows of a random user
 * (1% unknown) at a random time in 2024. Printed last: one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { sqlLiteral } from '../src/data/duckdb-sql.js';
import type { FeatureRepository } from '../src/features/feature-types.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';

const HELP = `Usage: npx tsx bench/features.ts [options]

Point-in-time join of label rows against feature rows (the offline feature store, DuckDB).
Goal (issue 20, 2 cores): 1M labels against 10M feature rows of 100k entities in <= 10 s,
peak RSS <= 2 GiB. The last line printed is one JSON object.

Options:
  --feature-rows N     feature rows (default 10000000)
  --entities N         distinct users (default 100000)
  --labels N           label rows (default 1000000)
  --seed N             data seed (default 1)
  --threads N          DuckDB threads (default: DuckDB's, the core count)
  --memory-limit SIZE  DuckDB memory_limit, e.g. 1GB (default: DuckDB's, 80% of RAM)
  --no-created         no created-time column (no created-time tie-break)
  --dir DIR            keep the data in DIR (made once, reused by later runs) instead of a temp dir
  --help               this text
`;

interface OfflineFigures {
  seconds: number;
  /** User + system CPU seconds of the join's process (less sensitive to other load than wall time). */
  cpuSeconds: number;
  peakRssMB: number;
  baselineRssMB: number;
  outputRows: number;
  nonNullShare: number;
}

const MB = 1024 * 1024;

/** Writes the seeded Parquet files into `dir`; returns the seconds it took. */
async function generate(
  dir: string,
  o: { featureRows: number; entities: number; labels: number; seed: number; created: boolean },
): Promise<number> {
  const started = performance.now();
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const year = 366n * 86_400_000_000n; // 2024, µs
  const t0 = 1_704_067_200_000_000n; // 2024-01-01T00:00:00Z
  // hash(i, salt) is DuckDB's deterministic 64-bit hash: the same data for the same seed.
  const h = (salt: number) => `hash(i, ${o.seed * 100 + salt})`;
  try {
    await con.run(
      `COPY (SELECT CAST(${h(1)} % ${o.entities} AS BIGINT) AS user_id, ` +
        `make_timestamp(CAST(${t0} + ${h(2)} % ${year} AS BIGINT)) AS event_time, ` +
        (o.created
          ? `make_timestamp(CAST(${t0} + ${h(2)} % ${year} + CASE WHEN ${h(3)} % 100 = 0 THEN 86400000000 + ${h(4)} % 777600000000 ELSE ${h(4)} % 3600000000 END AS BIGINT)) AS created, `
          : '') +
        `CAST(${h(5)} % 100 AS BIGINT) AS clicks_30d, CAST(${h(6)} % 100000 AS DOUBLE) / 100 AS spend_30d, ` +
        `CAST(${h(7)} % 1000000 AS DOUBLE) / 1000000 AS score ` +
        `FROM range(${o.featureRows}) t(i)) TO ${sqlLiteral(join(dir, 'user_stats.parquet'))} (FORMAT parquet)`,
    );
    await con.run(
      `COPY (SELECT CAST(${h(8)} % ${Math.ceil(o.entities * 1.01)} AS BIGINT) AS user_id, ` +
        `make_timestamp(CAST(${t0} + ${h(9)} % ${year} AS BIGINT)) AS event_time, ` +
        `CAST(${h(10)} % 2 AS INTEGER) AS label FROM range(${o.labels}) t(i)) ` +
        `TO ${sqlLiteral(join(dir, 'labels.parquet'))} (FORMAT parquet)`,
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
  return (performance.now() - started) / 1000;
}

/** In the child: the join itself, timed, with this process's peak RSS. */
async function child(
  dir: string,
  o: { threads?: number; memoryLimit?: string; created: boolean },
): Promise<OfflineFigures> {
  const baseline = process.resourceUsage().maxRSS * 1024;
  const cpuBefore = process.cpuUsage();
  const repo: FeatureRepository = {
    root: dir,
    entities: new Map([['user', { name: 'user', joinKey: 'user_id', type: 'int64' }]]),
    sources: new Map([
      [
        'user_stats',
        {
          name: 'user_stats',
          path: join(dir, 'user_stats.parquet'),
          timestamp: 'event_time',
          ...(o.created ? { createdTimestamp: 'created' } : {}),
        },
      ],
    ]),
    featureViews: new Map([
      [
        'user_stats',
        {
          name: 'user_stats',
          entities: ['user'],
          source: 'user_stats',
          ttlSeconds: 30 * 86_400,
          features: [
            { name: 'clicks_30d', type: 'int64' },
            { name: 'spend_30d', type: 'float64' },
            { name: 'score', type: 'float64' },
          ],
          tags: {},
        },
      ],
    ]),
    featureServices: new Map(),
  };
  const store = new DuckDBOfflineFeatureStore({
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    ...(o.memoryLimit === undefined ? {} : { memoryLimit: o.memoryLimit }),
  });
  const output = join(dir, 'training.parquet');
  const started = performance.now();
  const result = await store.historical({
    repo,
    entities: join(dir, 'labels.parquet'),
    output,
    features: ['clicks_30d', 'spend_30d', 'score'].map((feature) => ({
      view: 'user_stats',
      feature,
    })),
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  const cpu = process.cpuUsage(cpuBefore);
  await store.close();
  const check = await DuckDBInstance.create(':memory:');
  const con = await check.connect();
  const share = Number(
    (
      await con.runAndReadAll(
        `SELECT avg(CASE WHEN user_stats__clicks_30d IS NULL THEN 0 ELSE 1 END) FROM read_parquet(${sqlLiteral(output)})`,
      )
    ).getRowsJS()[0]![0],
  );
  con.closeSync();
  check.closeSync();
  return {
    seconds: Math.round(seconds * 100) / 100,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 10_000) / 100,
    peakRssMB: Math.round(peak / MB),
    baselineRssMB: Math.round(baseline / MB),
    outputRows: result.rows,
    nonNullShare: Math.round(share * 1000) / 1000,
  };
}

const { values } = parseArgs({
  options: {
    'feature-rows': { type: 'string', default: '10000000' },
    entities: { type: 'string', default: '100000' },
    labels: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    'memory-limit': { type: 'string' },
    'no-created': { type: 'boolean', default: false },
    child: { type: 'string' },
    dir: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const threads = values.threads === undefined ? undefined : Number(values.threads);
const created = !values['no-created'];
if (values.help) {
  process.stdout.write(HELP);
} else if (values.child !== undefined) {
  const figures = await child(values.child, {
    ...(threads === undefined ? {} : { threads }),
    ...(values['memory-limit'] === undefined ? {} : { memoryLimit: values['memory-limit'] }),
    created,
  });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  const o = {
    featureRows: Number(values['feature-rows']),
    entities: Number(values.entities),
    labels: Number(values.labels),
    seed: Number(values.seed),
    created,
  };
  const keep = values.dir !== undefined;
  const dir = keep ? values.dir! : await mkdtemp(join(tmpdir(), 'kiban-bench-features-'));
  try {
    let generateSeconds = 0;
    if (keep && existsSync(join(dir, 'labels.parquet'))) console.log(`reusing the data in ${dir}`);
    else {
      await mkdir(dir, { recursive: true });
      console.log(
        `generating ${o.featureRows} feature rows (${o.entities} users), ${o.labels} labels…`,
      );
      generateSeconds = await generate(dir, o);
      console.log(`generated in ${generateSeconds.toFixed(1)} s`);
    }
    console.log('joining (child process)…');
    const loadBefore = loadavg()[0]!;
    const args = [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      dir,
      ...(threads === undefined ? [] : ['--threads', String(threads)]),
      ...(values['memory-limit'] === undefined ? [] : ['--memory-limit', values['memory-limit']]),
      ...(created ? [] : ['--no-created']),
    ];
    const ran = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (ran.status !== 0) throw new Error(`the join's child process failed (status ${ran.status})`);
    const lines = ran.stdout.trimEnd().split('\n');
    const offline = JSON.parse(lines[lines.length - 1]!) as OfflineFigures;
    const loadAfter = loadavg()[0]!;
    console.log(
      `point-in-time join: ${offline.seconds.toFixed(2)} s (${offline.cpuSeconds.toFixed(1)} CPU s), peak RSS ${offline.peakRssMB} MB ` +
        `(goal <= 10 s, <= 2048 MB), ${(offline.nonNullShare * 100).toFixed(1)}% of rows with a value`,
    );
    console.log(
      JSON.stringify({
        bench: 'features',
        offline: {
          ...o,
          threads: threads ?? null,
          memoryLimit: values['memory-limit'] ?? null,
          ttlDays: 30,
          generateSeconds: Math.round(generateSeconds * 10) / 10,
          ...offline,
          goal: { seconds: 10, peakRssMB: 2048 },
          met: offline.seconds <= 10 && offline.peakRssMB <= 2048,
        },
        machine: {
          cpu: cpus()[0]?.model ?? 'unknown',
          cores: availableParallelism(),
          memoryGiB: Math.round(totalmem() / 1024 ** 3),
          node: process.version,
          loadAverage1m: { before: loadBefore, after: loadAfter },
        },
      }),
    );
  } finally {
    if (keep) await rm(join(dir, 'training.parquet'), { force: true });
    else await rm(dir, { recursive: true, force: true });
  }
}
