import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import { type AggregatesRelease, parseExportPolicy, readExportPolicy } from './export-policy.js';
import { planExport, runExport } from './export-release.js';
import { planAggregates } from './aggregates-release.js';
import { openExportTable } from './export-table.js';
import { addNoise } from './noise-mechanisms.js';
import { PrivacyBudgetExceededError } from './privacy-ledger.js';
import { testPrivacyLoss } from './privacy-tester.js';
import { generatePseudonymKey, keyFingerprint, readPseudonymKey } from './pseudonyms.js';

let dir: string;
let metadata: KyselyMetadataStore;
let artifacts: FileArtifactStore;
let duck: DuckDBInstance;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-export-'));
  metadata = KyselyMetadataStore.sqlite(':memory:');
  await metadata.migrate();
  artifacts = new FileArtifactStore(join(dir, 'artifacts'));
  duck = await DuckDBInstance.create(':memory:');
});
afterAll(async () => {
  duck.closeSync();
  await metadata.close();
  await artifacts.close();
  await rm(dir, { recursive: true, force: true });
});

/** Rows of a query over the written files, in a DuckDB of the test's own. */
async function query(sql: string): Promise<unknown[][]> {
  const con = await duck.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowsJS();
  } finally {
    con.closeSync();
  }
}
const stored = (key: string) => join(dir, 'artifacts', key);
const options = () => ({ ledger: metadata.privacyLedger, artifacts, actor: 'test' });

describe('k-anonymous records', () => {
  it('releases the Open Bandit example 10-anonymous and 2-diverse, checked from the file', async () => {
    const policy = await readExportPolicy('examples/exports/obd-users.yaml');
    const done = await runExport(policy, { ...options(), releaseId: 'obd-1' });
    const file = `read_parquet('${stored(done.dataKey)}')`;
    // Every class of the quasi-identifiers in the file: at least 10 rows, and 2 distinct clicked
    // items wherever there are clicks.
    const [classes] =
      await query(`WITH c AS (SELECT user_feature_0, user_feature_1, user_feature_2, user_feature_3,
        count(*) n, count(clicked_item) w, count(DISTINCT clicked_item) d FROM ${file} GROUP BY ALL)
      SELECT count(*), min(n), count(*) FILTER (WHERE w > 0 AND d < 2), sum(n) FROM c`);
    expect(Number(classes[1])).toBeGreaterThanOrEqual(10);
    expect(Number(classes[2])).toBe(0);
    expect(Number(classes[3])).toBe(done.rows);
    expect(done.rows).toBeGreaterThanOrEqual(0.95 * 20000);
    // The columns out: the dropped timestamp gone, generalised values kept or `other`.
    const [first] = await query(`SELECT * FROM ${file} LIMIT 1`);
    expect(first).toHaveLength(6);
    const f2 = await query(`SELECT DISTINCT user_feature_2 FROM ${file}`);
    expect(f2.length).toBeLessThan(9);
    const sidecar = JSON.parse(await readFile(stored(done.sidecarKey), 'utf8'));
    expect(sidecar).toMatchObject({
      release: 'obd-1',
      mode: 'records',
      k: 10,
      l: 2,
      rows: done.rows,
    });
    expect(sidecar.suppressedRows).toBe(20000 - done.rows);
    expect(Object.keys(sidecar.generalisation)).toEqual([
      'user_feature_0',
      'user_feature_1',
      'user_feature_2',
      'user_feature_3',
    ]);
    const release = await metadata.privacyLedger.get('obd-1');
    expect(release).toMatchObject({
      status: 'published',
      mechanism: 'k-anonymity',
      output: done.dataKey,
    });
  });

  it('pseudonymises identifiers with the recipient key, which never reaches the output', async () => {
    const key = generatePseudonymKey();
    const env = { KIBAN_TEST_EXPORT_KEY: key };
    const text = `
name: ml-monthly
dataset: movielens
recipient: research
source: { files: datasets/ml-latest-small/ratings.csv }
columns:
  userId: pseudonymise
  movieId: keep
  rating: keep
  timestamp: { generalise: { band: [2592000, 31104000] } }
release: { mode: records, k: 20, maxSuppression: 0.1 }
pseudonyms: { key: 'env:KIBAN_TEST_EXPORT_KEY' }
output: { format: csv }
`;
    const policy = parseExportPolicy(text);
    const before = await metadata.privacyLedger.totals('movielens', 'research');
    // Without the key the release is refused before anything is spent.
    await expect(runExport(policy, { ...options(), env: {} })).rejects.toThrow(
      /pseudonyms\.key: the environment variable KIBAN_TEST_EXPORT_KEY is not set/,
    );
    expect(await metadata.privacyLedger.totals('movielens', 'research')).toEqual(before);

    const done = await runExport(policy, { ...options(), env });
    const file = `read_csv('${stored(done.dataKey)}', header = true, all_varchar = true)`;
    const [counts] = await query(
      `SELECT count(DISTINCT userId), min(length(userId)), max(length(userId)) FROM ${file}`,
    );
    const [source] = await query(
      `SELECT count(DISTINCT userId) FROM read_csv('datasets/ml-latest-small/ratings.csv', header = true)`,
    );
    // One pseudonym per user (no user's rows were suppressed whole), 22 characters each.
    expect(Number(counts[0])).toBeLessThanOrEqual(Number(source[0]));
    expect(Number(counts[0])).toBeGreaterThan(0.9 * Number(source[0]));
    expect([Number(counts[1]), Number(counts[2])]).toEqual([22, 22]);
    const written = await readFile(stored(done.dataKey), 'utf8');
    const sidecarText = await readFile(stored(done.sidecarKey), 'utf8');
    expect(written).not.toContain(key);
    expect(sidecarText).not.toContain(key);
    const sidecar = JSON.parse(sidecarText);
    expect(sidecar.pseudonyms).toMatchObject({
      columns: ['userId'],
      keyFingerprint: keyFingerprint(await readPseudonymKey('env:K', { K: key })),
    });
    // The time bands are the generalisation chosen: every class of them holds 20 or more rows.
    const [small] = await query(
      `SELECT count(*) FROM (SELECT timestamp, count(*) n FROM ${file} GROUP BY 1) WHERE n < 20`,
    );
    expect(Number(small[0])).toBe(0);
  });
});

describe('differentially private aggregates', () => {
  it('releases noisy genre counts within the budget, then refuses the release that would overspend', async () => {
    const policy = await readExportPolicy('examples/exports/ml-genre-counts.yaml');
    const planned = await planExport(policy, options());
    expect(planned.detail.mode).toBe('aggregates');
    if (planned.detail.mode !== 'aggregates') return;
    // ρ 0.1 split over the count and the rating sum; count: L2² = 5 groups × 20² rows.
    expect(planned.detail.quantities.map((q) => [q.name, q.l2Squared])).toEqual([
      ['count', 2000],
      // Ratings centred on 2.75: at most 2.25 = 4.5 half-stars from it, rounded up to 5.
      ['sum_rating', 5 * (20 * 5) ** 2],
    ]);
    const sigma = planned.detail.quantities[0].mechanism.standardDeviation;
    expect(sigma).toBeCloseTo(Math.sqrt(2000 / (2 * 0.05)), 6);
    expect(planned.schema.map((c) => c.name)).toEqual(['genre', 'count', 'mean_rating']);

    const first = await runExport(policy, options());
    const file = stored(first.dataKey);
    const truth = new Map(
      (
        await query(`SELECT genre, count(*) FROM read_csv('datasets/ml-latest-small/ratings.csv', header = true) r
          JOIN (SELECT movieId, unnest(string_split(genres, '|')) AS genre FROM read_csv('datasets/ml-latest-small/movies.csv', header = true)) USING (movieId)
          GROUP BY 1`)
      ).map(([g, n]) => [String(g), Number(n)]),
    );
    const rows = await query(
      `SELECT genre, "count", mean_rating FROM read_csv('${file}', header = true)`,
    );
    // Every public key is released (there is no threshold), each genre once.
    expect(rows.map((r) => String(r[0])).sort()).toEqual([...truth.keys()].sort());
    for (const [genre, count, mean] of rows) {
      // Bounding only removes rows; noise beyond 7σ has probability < 1e-11.
      expect(Number(count)).toBeLessThanOrEqual((truth.get(String(genre)) as number) + 7 * sigma);
      expect(Number(count)).toBeGreaterThanOrEqual(0);
      if (mean !== null) {
        expect(Number(mean)).toBeGreaterThanOrEqual(0.5);
        expect(Number(mean)).toBeLessThanOrEqual(5);
      }
    }
    const drama = rows.find((r) => r[0] === 'Drama') as unknown[];
    expect(Number(drama[1])).toBeGreaterThan(2000);
    const sidecar = JSON.parse(await readFile(stored(first.sidecarKey), 'utf8'));
    expect(sidecar).toMatchObject({ mode: 'aggregates', rho: 0.1, keys: 'public list', delta: 0 });
    // Exact figures about the source stay in the ledger, out of what the recipient gets.
    expect(sidecar).not.toHaveProperty('boundedAwayRows');
    expect(sidecar).not.toHaveProperty('sourceRows');
    expect((await metadata.privacyLedger.get(first.release.id))?.params).toHaveProperty(
      'boundedAwayRows',
    );
    expect(sidecar.noise[0]).toMatchObject({
      mechanism: 'discrete-gaussian',
      rho: 0.05,
      l2SensitivitySquared: 2000,
    });

    await runExport(policy, options());
    const error = await runExport(policy, { ...options(), releaseId: 'third' }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(PrivacyBudgetExceededError);
    expect(String(error)).toMatch(
      /rho spent 0\.2 \+ this release 0\.1 = 0\.3 > budget 0\.25 \(0\.05 left\)/,
    );
    expect(await metadata.privacyLedger.get('third')).toBeNull();
    expect(
      (await artifacts.list('exports/movielens-ratings/content-team/')).map((a) => a.key),
    ).not.toContainEqual(expect.stringContaining('/third/'));
    expect(await metadata.privacyLedger.totals('movielens-ratings', 'content-team')).toMatchObject({
      rho: 0.2,
      releases: 2,
    });
  });

  it('chooses keys by a noisy threshold, spending δ, and releases no group of a few people', async () => {
    const policy = parseExportPolicy(`
name: tiny
dataset: tiny
recipient: research
source:
  query: >-
    SELECT 'u' || i AS user_id, CASE WHEN i < 3 THEN 'rare' ELSE 'common' END AS city
    FROM range(400) t(i)
columns: { city: keep }
release:
  mode: aggregates
  groupBy: [city]
  privacyUnit: [user_id]
  maxGroupsPerUnit: 1
  epsilon: 1
  keys: { threshold: { delta: 1e-7 } }
budget: { epsilon: 3, delta: 1e-6 }
`);
    const done = await runExport(policy, options());
    const rows = await query(`SELECT city, "count" FROM read_parquet('${stored(done.dataKey)}')`);
    expect(rows.map((r) => r[0])).toEqual(['common']);
    const sidecar = JSON.parse(await readFile(stored(done.sidecarKey), 'utf8'));
    expect(sidecar.keys).toBe('noisy threshold');
    expect(sidecar.delta).toBeGreaterThan(0);
    expect(sidecar.delta).toBeLessThanOrEqual(1e-7);
    // Discrete Laplace, ε = 1, Δ₁ = 1: P(noise ≥ τ − 1) ≤ δ needs τ ≈ 1 + ln(1/δ) ≈ 17.
    expect(sidecar.threshold).toBeGreaterThanOrEqual(15);
    expect(sidecar.threshold).toBeLessThanOrEqual(20);
    expect(await metadata.privacyLedger.totals('tiny', 'research')).toMatchObject({
      epsilon: 1,
      releases: 1,
    });
  });

  it('never stores a second noisy draw when a run is retried after storing its file', async () => {
    const policy = parseExportPolicy(`
name: retry
dataset: retry
recipient: research
source: { query: "SELECT 'u' || (i % 50) AS user_id, 'g' || (i % 3) AS g FROM range(600) t(i)" }
columns: { g: keep }
release: { mode: aggregates, groupBy: [g], privacyUnit: [user_id], maxGroupsPerUnit: 3, rho: 0.5, keys: { threshold: 0, public: { query: "SELECT 'g' || i AS g FROM range(3) t(i)" } } }
budget: { rho: 1 }
`);
    // The sidecar's put fails once: the data file is stored, the release left reserved.
    let failures = 1;
    const flaky: ArtifactStore = {
      put: async (key, body, o) => {
        if (key.endsWith('.privacy.json') && failures-- > 0) throw new Error('network down');
        return artifacts.put(key, body, o);
      },
      get: (k, o) => artifacts.get(k, o),
      stat: (k, o) => artifacts.stat(k, o),
      list: (p, o) => artifacts.list(p, o),
      delete: (k, o) => artifacts.delete(k, o),
      close: async () => {},
    };
    const run = () => runExport(policy, { ...options(), artifacts: flaky, releaseId: 'retry-1' });
    await expect(run()).rejects.toThrow(/network down/);
    expect(await metadata.privacyLedger.get('retry-1')).toMatchObject({ status: 'reserved' });
    const key = 'exports/retry/research/retry/retry-1/retry.parquet';
    const firstBytes = await readFile(stored(key));
    const done = await run();
    expect(done.existing).toBe(false);
    expect(await readFile(stored(key))).toEqual(firstBytes);
    expect(await metadata.privacyLedger.totals('retry', 'research')).toMatchObject({
      rho: 0.5,
      releases: 1,
    });
    // Once published, running it again is a no-op.
    const again = await run();
    expect(again.existing).toBe(true);
    expect(await metadata.privacyLedger.totals('retry', 'research')).toMatchObject({ releases: 1 });
  });

  it('passes the privacy tester on neighbouring datasets, and fails it without contribution bounds', async () => {
    // D: 30 users with one row each in group a. D′ adds one user with 5 rows there; the bounds
    // (1 group, 2 rows per group) let 2 of them count, and ε = 1 noise is calibrated to that.
    const policyFor = (extra: string) =>
      parseExportPolicy(`
name: neighbours
dataset: neighbours
recipient: research
source:
  query: "SELECT 'u' || i AS user_id, 'a' AS g FROM range(30) t(i)${extra}"
columns: { g: keep }
release: { mode: aggregates, groupBy: [g], privacyUnit: [user_id], maxGroupsPerUnit: 1, maxRowsPerGroup: 2, epsilon: 1, keys: { public: { query: "SELECT 'a' AS g" } } }
budget: { epsilon: 1 }
`);
    const boundedCount = async (extra: string) => {
      const policy = policyFor(extra);
      const table = await openExportTable(policy);
      try {
        const planned = await planAggregates(table, policy.release as AggregatesRelease);
        const [row] = (await table.con.runAndReadAll('SELECT n FROM export_cells')).getRowsJS();
        return { count: Number(row[0]), mechanism: planned.quantities[0].mechanism };
      } finally {
        table.close();
      }
    };
    const d = await boundedCount('');
    const neighbour = await boundedCount(" UNION ALL SELECT 'x', 'a' FROM range(5)");
    expect([d.count, neighbour.count]).toEqual([30, 32]);
    expect(d.mechanism.parameter).toEqual({ num: 2n, den: 1n });
    const release = (counts: [number, number]) => (dataset: 0 | 1) =>
      addNoise(Float64Array.of(counts[dataset]), d.mechanism)[0];
    const sound = testPrivacyLoss(release([d.count, neighbour.count]), {
      samples: 100_000,
      epsilon: 1,
    });
    expect(sound.violated).toBe(false);
    expect(sound.epsilonLowerBound).toBeGreaterThan(0.7);
    // The same noise on the unbounded counts (the new user's 5 rows all counted) leaks 2.5 ε.
    const unbounded = testPrivacyLoss(release([30, 35]), { samples: 50_000, epsilon: 1 });
    expect(unbounded.violated).toBe(true);
  });
});
