/**
 * `kiban ab analyze` on a million-row CSV with messy data, beside the same analysis in Python
 * with scipy (bench/peers/ab_peer.py), in one run.
 *
 * The CSV (generated, seeded): 1,000,000 rows of user_id, group, converted (true/false), revenue,
 * revenue_before (the pre-period covariate, correlated with revenue), landing_page, timestamp
 * (28 days of November 2026, UTC; a unit's extra rows come later); treatment
 * converts at 12.6% against 12.0% and spends 2% more. Messy on purpose: 0.5% of the units have a
 * second row in their group, 0.2% appear in both groups, 0.1% of rows miss `converted`, 0.05% have
 * `revenue` "n/a".
 *
 *   npx tsx bench/ab.ts [--rows 1000000] [--reps 3] [--no-peer]
 *
 * Goal (issue 9): a million-row CSV analysed in under 10 s on 2 cores, wall time of the whole
 * command (process start, CSV read, every statistic). Last line: JSON with the timings of each
 * configuration (conversion rate; revenue with CUPED; conversion rate with `--time`, the
 * cumulative lift per day), kiban's and scipy's p-values (and daily lifts) side by side, and the
 * machine.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { seededRandom } from '../src/bandits/bandit-policy.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    reps: { type: 'string', default: '3' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const reps = Number(values.reps);
const run = promisify(execFile);
const loadBefore = loadavg();

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-ab-'));
const csv = join(dir, 'ab.csv');
{
  const random = seededRandom(2026);
  const out = createWriteStream(csv);
  const write = (line: string) =>
    out.write(line)
      ? Promise.resolve()
      : new Promise<void>((resolve) => out.once('drain', () => resolve()));
  await write('user_id,group,converted,revenue,revenue_before,landing_page,timestamp\n');
  const start = Date.UTC(2026, 10, 1);
  const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  let written = 0;
  let unit = 0;
  while (written < rows) {
    const group = random() < 0.5 ? 'control' : 'treatment';
    const before = random() < 0.3 ? 20 + 60 * random() : 0;
    const converted = random() < (group === 'control' ? 0.12 : 0.126);
    const revenue = converted
      ? (0.6 * before + 30 * -Math.log(1 - random())) * (group === 'treatment' ? 1.02 : 1)
      : 0.3 * before * random();
    const id = `u${unit++}`;
    const seen = start + Math.floor(random() * 28 * 86_400_000);
    const line = (g: string, at = seen) =>
      `${id},${g},${random() < 0.001 ? '' : converted ? 'true' : 'false'},${random() < 0.0005 ? 'n/a' : revenue.toFixed(2)},${before.toFixed(2)},${g === 'control' ? 'old_page' : 'new_page'},${stamp(at)}\n`;
    await write(line(group));
    written++;
    const r = random();
    if (r < 0.005 && written < rows) {
      await write(line(group, seen + Math.floor(random() * 3 * 86_400_000))); // a second row in its group, later
      written++;
    } else if (r < 0.007 && written < rows) {
      await write(line(group === 'control' ? 'treatment' : 'control')); // in both groups
      written++;
    }
  }
  await new Promise<void>((resolve) => out.end(resolve));
}
process.stderr.write(`wrote ${rows.toLocaleString('en-US')} rows to ${csv}\n`);

const kibanArgs = existsSync('dist/cli/main.js')
  ? ['dist/cli/main.js']
  : ['--import', 'tsx', 'src/cli/main.ts'];
const configs = {
  conversion: {
    args: [
      '--unit',
      'user_id',
      '--variant',
      'group',
      '--metric',
      'converted',
      '--alternative',
      'greater',
    ],
    peer: ['user_id', 'group', 'converted', '--alternative', 'greater'],
  },
  revenueCuped: {
    args: [
      '--unit',
      'user_id',
      '--variant',
      'group',
      '--metric',
      'revenue',
      '--covariate',
      'revenue_before',
    ],
    peer: ['user_id', 'group', 'revenue', 'revenue_before'],
  },
  conversionTimeline: {
    args: [
      '--unit',
      'user_id',
      '--variant',
      'group',
      '--metric',
      'converted',
      '--alternative',
      'greater',
      '--time',
      'timestamp',
    ],
    peer: ['user_id', 'group', 'converted', '--alternative', 'greater', '--time', 'timestamp'],
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const result: Record<string, unknown> = {};
for (const [name, config] of Object.entries(configs)) {
  const seconds: number[] = [];
  let analysis: any = null;
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    const { stdout } = await run(
      process.execPath,
      [...kibanArgs, 'ab', 'analyze', '--csv', csv, ...config.args, '--json'],
      { maxBuffer: 1 << 26 },
    );
    seconds.push((performance.now() - t0) / 1000);
    analysis = JSON.parse(stdout.trim().split('\n').at(-1)!);
  }
  const c = analysis.comparisons[0];
  const lifts: number[] = analysis.timeline.map((p: any) => p.lift.treatment?.estimate ?? null);
  const kiban = {
    seconds: seconds.map((s) => +s.toFixed(2)),
    median: +median(seconds).toFixed(2),
    units: analysis.data.unitsAnalysed,
    pValue: c.pValue,
    statistic: c.statistic,
    cupedPValue: c.cuped?.pValue ?? null,
    ...(lifts.length > 0 ? { looks: lifts.length, sequentialPValue: c.sequential.pValue } : {}),
    excluded: analysis.excluded,
  };
  process.stderr.write(`kiban ${name}: ${JSON.stringify(kiban)}\n`);
  let peer = null;
  if (!values['no-peer']) {
    const t0 = performance.now();
    try {
      const { stdout } = await run('python3', ['bench/peers/ab_peer.py', csv, ...config.peer], {
        maxBuffer: 1 << 24,
      });
      peer = {
        ...JSON.parse(stdout.trim().split('\n').at(-1)!),
        wallSeconds: +((performance.now() - t0) / 1000).toFixed(2),
      };
    } catch (error) {
      peer = { error: String((error as Error).message).split('\n')[0] };
    }
    process.stderr.write(`scipy ${name}: ${JSON.stringify(peer)}\n`);
  }
  const peerLifts: number[] | undefined = peer?.lifts;
  result[name] = {
    kiban,
    peer: peer === null ? null : { ...peer, lifts: undefined },
    relativePValueDifference:
      peer?.pValue === undefined ? null : Math.abs(kiban.pValue - peer.pValue) / peer.pValue,
    ...(peerLifts === undefined
      ? {}
      : {
          looksPeer: peerLifts.length,
          maxLiftDifference:
            peerLifts.length === lifts.length
              ? Math.max(...peerLifts.map((l, k) => Math.abs(l - lifts[k]!)))
              : null,
        }),
  };
}
await rm(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: 'ab',
    rows,
    reps,
    goal: {
      seconds: 10,
      measured: Math.max(...Object.values(result).map((r: any) => r.kiban.median)),
    },
    ...result,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadavgBefore: loadBefore,
      loadavgAfter: loadavg(),
    },
  }),
);
