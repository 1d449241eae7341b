/**
 * Ingestion: file → InteractionLog → Interactions (CSR) on a synthetic log of 10 million rows
 * (1M users × 50k items, power-law skewed, with rating and timestamp), from Parquet and CSV.
 *
 *   npx tsx bench/ingest.ts [--rows 10000000] [--users 1000000] [--items 50000]
 *                           [--id-type integer|string] [--baseline <commit>] [--repeat 1]
 *
 * The files are written to a temporary directory first (not timed). Each measurement runs in a
 * fresh child process, so that its peak RSS is its own. `--baseline <commit>` also measures the
 * reader and CSR build of that commit (its `src/` extracted with `git archive`), side by side.
 * Last line: JSON with the figures and the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '50000' },
    'id-type': { type: 'string', default: 'integer' },
    baseline: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    child: { type: 'string' },
    src: { type: 'string' },
  },
});
const idType = args['id-type'] === 'string' ? 'string' : 'integer';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** One timed run, as a child process prints it. */
interface Measurement {
  readSeconds: number;
  csrSeconds: number;
  /** CPU time of the process (all threads, DuckDB's included) over read and CSR. */
  cpuSeconds: number;
  rows: number;
  users: number;
  items: number;
  pairs: number;
  peakRssGiB: number;
  /** One-minute load average just before the child started (the machine is shared). */
  loadBefore?: number;
}

if (args.child !== undefined) {
  console.log(JSON.stringify(await measure(args.child, args.src ?? join(repoRoot, 'src'))));
  process.exit(0);
}

/** Reads `file` with the reader under `srcRoot` and builds the CSR, timing both. */
async function measure(file: string, srcRoot: string): Promise<Measurement> {
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const sampler = setInterval(sample, 20);
  const reader = await import(pathToFileURL(join(srcRoot, 'data/read-interaction-log.ts')).href);
  const { Interactions } = await import(pathToFileURL(join(srcRoot, 'data/interactions.ts')).href);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const log = await reader.readInteractionLog(file, { idType });
  const t1 = performance.now();
  const data = Interactions.fromLog(log);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  sample();
  return {
    readSeconds: (t1 - t0) / 1000,
    csrSeconds: (t2 - t1) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rows: log.rows,
    users: data.users.size,
    items: data.items.size,
    pairs: data.nnz,
    peakRssGiB: peak / 2 ** 30,
  };
}

const nRows = Number(args.rows);
const dir = mkdtempSync(join(tmpdir(), 'kiban-ingest-'));
try {
  const files = await synthesise(dir);
  const impls: [string, string][] = [['current', join(repoRoot, 'src')]];
  if (args.baseline !== undefined) impls.push(['baseline', extractSource(args.baseline, dir)]);
  const results: Record<string, Record<string, Measurement & { rowsPerSecond: number }>> = {};
  for (const [impl, srcRoot] of impls) {
    results[impl] = {};
    for (const [format, file] of Object.entries(files)) {
      let best: Measurement | undefined;
      for (let k = 0; k < Number(args.repeat); k++) {
        const m = runChild(file, srcRoot);
        if (best === undefined || m.readSeconds + m.csrSeconds < best.readSeconds + best.csrSeconds)
          best = m;
      }
      const m = best!;
      const rowsPerSecond = m.rows / (m.readSeconds + m.csrSeconds);
      results[impl][format] = { ...m, rowsPerSecond };
      console.log(
        `${impl.padEnd(8)} ${format.padEnd(7)} read ${m.readSeconds.toFixed(2)} s + CSR ${m.csrSeconds.toFixed(2)} s → ${(rowsPerSecond / 1e6).toFixed(2)}M rows/s (CPU ${m.cpuSeconds.toFixed(2)} s), ${m.pairs} pairs, peak RSS ${m.peakRssGiB.toFixed(2)} GiB, load ${m.loadBefore?.toFixed(1)}`,
      );
    }
  }
  console.log(
    JSON.stringify({
      bench: 'ingest',
      rows: nRows,
      users: Number(args.users),
      items: Number(args.items),
      idType,
      baseline: args.baseline ?? null,
      results,
      // The machine is shared: the load says how much of it the figures had.
      loadavg: loadavg(),
      machine: {
        cores: availableParallelism(),
        cpu: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes the synthetic log as Parquet and CSV under `dir`; returns their paths. */
async function synthesise(into: string): Promise<Record<'parquet' | 'csv', string>> {
  const t0 = performance.now();
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const parquet = join(into, 'log.parquet');
  const csv = join(into, 'log.csv');
  try {
    await con.run('SELECT setseed(0.42)');
    // Inverse-transform sampling of power laws, as bench/als-scale.ts does.
    const users = Number(args.users);
    const items = Number(args.items);
    await con.run(
      `CREATE TABLE log AS SELECT
         least(${users - 1}, floor(${users} * pow(random(), 1.5)))::BIGINT AS "userId",
         least(${items - 1}, floor(${items} * pow(random(), 3)))::BIGINT AS "movieId",
         (1 + floor(random() * 9) / 2)::DOUBLE AS rating,
         (1500000000 + i)::BIGINT AS "timestamp"
       FROM range(${nRows}) r(i)`,
    );
    await con.run(`COPY log TO '${parquet}' (FORMAT parquet)`);
    await con.run(`COPY log TO '${csv}' (FORMAT csv, HEADER)`);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
  console.log(`synthesised ${nRows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { parquet, csv };
}

/** `src/` of `commit`, extracted under `into`, with this checkout's node_modules beside it. */
function extractSource(commit: string, into: string): string {
  const root = join(into, 'baseline');
  mkdirSync(root);
  const archive = join(into, 'baseline.tar');
  execFileSync('git', ['archive', '-o', archive, commit, 'src'], { cwd: repoRoot });
  execFileSync('tar', ['-x', '-f', archive, '-C', root]);
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  return join(root, 'src');
}

function runChild(file: string, srcRoot: string): Measurement {
  const loadBefore = loadavg()[0];
  const child = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      file,
      '--src',
      srcRoot,
      '--id-type',
      idType,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (child.status !== 0) throw new Error(`measurement failed: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  return { ...(JSON.parse(lines[lines.length - 1]) as Measurement), loadBefore };
}
