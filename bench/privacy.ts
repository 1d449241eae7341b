/**
 * Privacy-aware export (issue 23), three parts, each through the real export path (policy →
 * DuckDB → ledger → artifact store):
 *
 * 1. **k-anonymity** on the Open Bandit user features: the four categorical user columns of
 *    `datasets/open-bandit-random` (men + women, 20,000 impressions) as quasi-identifiers, k = 10,
 *    at most 5% of records suppressed, distinct l = 2 on the clicked item (null without a click);
 *    prints the generalisation chosen, the suppression and the classes, and re-checks the file.
 * 2. **DP daily counts** of item × day: 10M view events synthesised from the bundled MovieLens
 *    ratings (each event's item drawn from the ratings, so item popularity is MovieLens's; 7
 *    days; user-days with 1 + Geometric(1/3) events, so a mean of 3 and a long tail; 1.5M users),
 *    released at ρ = 0.015 per day (privacy unit user × day, ≤ 10 item-days per user-day, each at
 *    most once) with the discrete Gaussian, on the public key list movies × days and a threshold.
 *    Median relative error on cells whose true count (before bounding) is ≥ 1,000, and spurious
 *    cells (released with a true count of 0) as a share of released cells.
 * 3. **Throughput**: the wall time of part 2's release of 10M rows, and of a records export of
 *    10M rows (the Open Bandit impressions repeated 500 times with a pseudonymised synthetic user
 *    id, k = 10) to Parquet.
 *
 *   npx tsx bench/privacy.ts [--events 10000000] [--part 1,2,3]
 *
 * Last line: one JSON object with every figure and the machine.
 */
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseExportPolicy } from '../src/privacy/export-policy.js';
import { runExport } from '../src/privacy/export-release.js';
import { generatePseudonymKey } from '../src/privacy/pseudonyms.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    part: { type: 'string', default: '1,2,3' },
  },
});
const EVENTS = Number(values.events);
const parts = new Set(values.part.split(',').map(Number));
const OBD = [
  'datasets/open-bandit-random/men/men.csv',
  'datasets/open-bandit-random/women/women.csv',
];
const obdList = `[${OBD.map((f) => `'${f}'`).join(', ')}]`;

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-privacy-'));
const metadata = KyselyMetadataStore.sqlite(':memory:');
await metadata.migrate();
const artifacts = new FileArtifactStore(join(dir, 'artifacts'));
const log = (line: string) => process.stderr.write(`${line}\n`);
const out: Record<string, unknown> = {};
const seconds = (t0: number) => (performance.now() - t0) / 1000;

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
const rowsOf = async (sql: string) => (await con.runAndReadAll(sql)).getRowsJS();

if (parts.has(1)) {
  log('part 1: k-anonymity on the Open Bandit user features');
  const policy = parseExportPolicy(`
name: obd-k10
dataset: open-bandit
recipient: bench
source:
  query: >-
    SELECT user_feature_0, user_feature_1, user_feature_2, user_feature_3,
           CASE WHEN click = 1 THEN item_id END AS clicked_item
    FROM read_csv(${obdList}, header = true)
columns:
  user_feature_0: { generalise: { top: [2, 1] } }
  user_feature_1: { generalise: { top: [4, 3, 2, 1] } }
  user_feature_2: { generalise: { top: [6, 4, 2, 1] } }
  user_feature_3: { generalise: { top: [6, 4, 2, 1] } }
  clicked_item: keep
release: { mode: records, k: 10, l: 2, sensitive: clicked_item, maxSuppression: 0.05 }
`);
  const t0 = performance.now();
  const done = await runExport(policy, {
    ledger: metadata.privacyLedger,
    artifacts,
    actor: 'bench',
  });
  const s = done.release.params;
  const file = join(dir, 'artifacts', done.dataKey);
  const check = (
    await rowsOf(`WITH c AS (SELECT user_feature_0, user_feature_1, user_feature_2, user_feature_3,
        count(*) n, count(clicked_item) w, count(DISTINCT clicked_item) d FROM read_parquet('${file}') GROUP BY ALL)
      SELECT count(*), min(n), count(*) FILTER (WHERE n < 10 OR (w > 0 AND d < 2)), sum(n) FROM c`)
  )[0];
  out.kAnonymity = {
    rows: 20000,
    k: 10,
    l: 2,
    generalisation: s.generalisation,
    suppressedRows: s.suppressedRows,
    suppression: Number(s.suppressedRows) / 20000,
    classes: Number(check[0]),
    smallestClass: Number(check[1]),
    violationsInFile: Number(check[2]),
    rowsInFile: Number(check[3]),
    loss: s.loss,
    seconds: seconds(t0),
  };
  log(JSON.stringify(out.kAnonymity));
}

if (parts.has(2) || parts.has(3)) {
  log(`synthesising ${EVENTS} view events from the MovieLens ratings`);
  const t0 = performance.now();
  await con.run(`CREATE TABLE pool AS SELECT list(movieId ORDER BY userId, "timestamp") AS items
    FROM read_csv('datasets/ml-latest-small/ratings.csv', header = true)`);
  // User-days with 1 + Geometric(1/3) events (mean 3): enough of them for EVENTS events.
  const userDays = Math.ceil((EVENTS / 3) * 1.01);
  await con.run('SELECT setseed(0.42)');
  await con.run(`CREATE TABLE ud AS SELECT i, hash(i) % 1500000 AS user_id, DATE '2026-11-01' + CAST(i % 7 AS INTEGER) AS day,
      1 + CAST(floor(ln(random()) / ln(2.0 / 3)) AS INTEGER) AS n FROM range(${userDays}) t(i)`);
  const events = join(dir, 'events.parquet');
  await con.run(`COPY (
      SELECT user_id, items[1 + CAST(floor(random() * len(items)) AS INTEGER)] AS item_id, day
      FROM (SELECT user_id, day, unnest(range(n)) FROM ud), pool
      LIMIT ${EVENTS}) TO '${events}' (FORMAT parquet)`);
  const made = (
    await rowsOf(`SELECT count(*), count(DISTINCT user_id) FROM read_parquet('${events}')`)
  )[0];
  log(`  ${made[0]} events, ${made[1]} users in ${seconds(t0).toFixed(1)} s`);
  out.synthetic = { events: Number(made[0]), users: Number(made[1]), days: 7 };

  const policy = parseExportPolicy(`
name: item-day-counts
dataset: ml-views
recipient: bench
source: { files: '${events}' }
columns:
  item_id: keep
  day: keep
release:
  mode: aggregates
  groupBy: [item_id, day]
  privacyUnit: [user_id, day]
  maxGroupsPerUnit: 10
  maxRowsPerGroup: 1
  rho: 0.015
  keys:
    public:
      query: >-
        SELECT CAST(m.movieId AS VARCHAR) AS item_id, CAST(d.day AS VARCHAR) AS day
        FROM read_csv('datasets/ml-latest-small/movies.csv', header = true) m,
             (SELECT DATE '2026-11-01' + CAST(i AS INTEGER) AS day FROM range(7) t(i)) d
    threshold: 80
budget: { rho: 0.015 }
`);
  const t1 = performance.now();
  const done = await runExport(policy, {
    ledger: metadata.privacyLedger,
    artifacts,
    actor: 'bench',
  });
  const dpSeconds = seconds(t1);
  const file = join(dir, 'artifacts', done.dataKey);
  const [quality] = await rowsOf(`
    WITH truth AS (SELECT CAST(item_id AS VARCHAR) AS item_id, CAST(day AS VARCHAR) AS day, count(*) AS n
                   FROM read_parquet('${events}') GROUP BY ALL),
         rel AS (SELECT r.item_id, r.day, r."count" AS noisy, coalesce(t.n, 0) AS n
                 FROM read_parquet('${file}') r LEFT JOIN truth t USING (item_id, day))
    SELECT (SELECT median(abs(noisy - n) / n) FROM rel WHERE n >= 1000),
           (SELECT count(*) FROM rel WHERE n >= 1000),
           (SELECT count(*) FROM truth WHERE n >= 1000),
           count(*) FILTER (WHERE n = 0), count(*),
           (SELECT median(abs(noisy - n) / n) FROM rel WHERE n >= 100)
    FROM rel`);
  out.dpCounts = {
    rho: 0.015,
    maxGroupsPerUnitDay: 10,
    noiseStd: (done.release.params.noise as { standardDeviation: number }[])[0].standardDeviation,
    threshold: done.release.params.threshold,
    medianRelativeErrorAtLeast1000: Number(quality[0]),
    cellsAtLeast1000Released: Number(quality[1]),
    cellsAtLeast1000: Number(quality[2]),
    spuriousCells: Number(quality[3]),
    releasedCells: Number(quality[4]),
    spuriousShare: Number(quality[3]) / Number(quality[4]),
    medianRelativeErrorAtLeast100: Number(quality[5]),
    boundedAwayShare: Number(done.release.params.boundedAwayRows) / Number(made[0]),
    seconds: dpSeconds,
  };
  log(JSON.stringify(out.dpCounts));

  if (parts.has(3)) {
    log('part 3: a records export of 10M rows (Open Bandit × 500, pseudonymised user id)');
    const big = join(dir, 'impressions.parquet');
    await con.run(`COPY (SELECT 'u' || CAST(hash(r.i, c.i) % 1000000 AS VARCHAR) AS user_id, user_feature_0, user_feature_1,
        user_feature_2, user_feature_3, item_id, position, click
      FROM (SELECT row_number() OVER () AS i, * FROM read_csv(${obdList}, header = true)) r, range(${Math.ceil(EVENTS / 20000)}) c(i)
      LIMIT ${EVENTS}) TO '${big}' (FORMAT parquet)`);
    const keyFile = join(dir, 'key');
    await writeFile(keyFile, generatePseudonymKey());
    const records = parseExportPolicy(`
name: impressions-k10
dataset: impressions
recipient: bench
source: { files: '${big}' }
columns:
  user_id: pseudonymise
  user_feature_0: { generalise: { top: [2, 1] } }
  user_feature_1: { generalise: { top: [4, 3, 2, 1] } }
  user_feature_2: { generalise: { top: [6, 4, 2, 1] } }
  user_feature_3: { generalise: { top: [6, 4, 2, 1] } }
  item_id: keep
  position: keep
  click: keep
release: { mode: records, k: 10, maxSuppression: 0.05 }
pseudonyms: { key: 'file:${keyFile}' }
`);
    const t2 = performance.now();
    const r = await runExport(records, {
      ledger: metadata.privacyLedger,
      artifacts,
      actor: 'bench',
    });
    out.throughput = {
      dpRows: Number(made[0]),
      dpSeconds,
      dpRowsPerSecond: Number(made[0]) / dpSeconds,
      recordsRows: EVENTS,
      recordsWritten: r.rows,
      recordsSeconds: seconds(t2),
      recordsRowsPerSecond: EVENTS / seconds(t2),
    };
    log(JSON.stringify(out.throughput));
  }
}

con.closeSync();
instance.closeSync();
await metadata.close();
await artifacts.close();
await rm(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    ...out,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      load: loadavg().map((x) => Number(x.toFixed(2))),
    },
  }),
);
