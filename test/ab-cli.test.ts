import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/bandits/bandit-policy.js';
import { compareProportions } from '../src/experiments/stats/compare-proportions.js';
import { cuped } from '../src/experiments/stats/cuped.js';
import { welchTest } from '../src/experiments/stats/welch-test.js';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
let messy: string;
/** What the messy file holds once cleaned, counted while writing it. */
const truth = { control: { units: 0, conversions: 0 }, treatment: { units: 0, conversions: 0 } };
const revenue = { control: [] as number[][], treatment: [] as number[][] };
/** Units analysed for `converted`, per group and day of January 2017 (1–9) of their earliest row. */
const perDay = { control: new Array<number>(10).fill(0), treatment: new Array<number>(10).fill(0) };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-ab-cli-'));
  const random = seededRandom(5);
  const lines = ['user_id,timestamp,group,landing_page,converted,revenue,revenue_before'];
  for (let k = 0; k < 4000; k++) {
    const group = random() < 0.5 ? 'control' : 'treatment';
    const converted = random() < (group === 'control' ? 0.11 : 0.14) ? 1 : 0;
    const before = Math.round(100 * random() * 50) / 100;
    const spent = Math.round(100 * (0.8 * before + (converted ? 20 : 0) + 5 * random())) / 100;
    const page = group === 'control' ? 'old_page' : 'new_page';
    lines.push(`u${k},2017-01-0${1 + (k % 9)},${group},${page},${converted},${spent},${before}`);
    truth[group].units++;
    truth[group].conversions += converted;
    perDay[group][1 + (k % 9)]++;
    revenue[group].push([spent, before]);
  }
  // The mess: a unit in both groups (excluded whole), a duplicate row (first kept), rows with
  // missing or non-numeric values, and treatment rows landing on the old page.
  lines.push('both,2017-01-02,control,old_page,1,3,1', 'both,2017-01-03,treatment,new_page,0,3,1');
  lines.push('u7,2017-01-05,' + lines[8]!.split(',')[2] + ',x,1,99,1');
  lines.push(
    ',2017-01-02,control,old_page,1,1,1',
    'nogroup,2017-01-02,,old_page,1,1,1',
    'nan,2017-01-02,control,old_page,maybe,1,1',
  );
  lines.push(
    'old1,2017-01-02,treatment,old_page,1,1,1',
    'old2,2017-01-02,treatment,old_page,1,1,1',
  );
  truth.treatment.units += 2;
  truth.treatment.conversions += 2;
  perDay.treatment[2] += 2;
  // u7's duplicate row is dated the 5th, before its own row (the 8th): its earliest row counts.
  const u7 = lines[8]!.split(',')[2] as 'control' | 'treatment';
  perDay[u7][8]--;
  perDay[u7][5]++;
  messy = join(dir, 'ab_data.csv');
  await writeFile(messy, `${lines.join('\n')}\n`);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const base = ['ab', 'analyze', '--unit', 'user_id', '--variant', 'group'];

describe('kiban ab analyze', () => {
  it('reports every data problem with counts, says what it excluded, and tests the rate', async () => {
    const { code, stdout, stderr } = await kiban(
      ...base,
      '--csv',
      messy,
      '--metric',
      'converted',
      '--alternative',
      'greater',
      '--json',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(r.data).toMatchObject({
      rows: 4000 + 8,
      missing: { unit: 1, variant: 1, metric: 0, covariate: 0 },
      notNumeric: { metric: 1, covariate: 0 },
      multiVariantUnits: 1,
      multiVariantRows: 2,
      duplicateUnits: 1,
      duplicateRows: 1,
      unitsAnalysed: truth.control.units + truth.treatment.units,
    });
    expect(r.excluded.join('\n')).toMatch(
      /1 rows with no unit[\s\S]*1 units seen in more than one variant \(2 rows\): excluded whole[\s\S]*1 extra rows of 1 units.*--duplicates first/,
    );
    expect(r.kind).toBe('conversion');
    expect(
      r.variants.map((v: { units: number; conversions: number }) => [v.units, v.conversions]),
    ).toEqual([
      [truth.control.units, truth.control.conversions],
      [truth.treatment.units, truth.treatment.conversions],
    ]);
    const expected = compareProportions(truth.control, truth.treatment, { alternative: 'greater' });
    expect(r.comparisons[0].pValue).toBeCloseTo(expected.pValue, 12);
    expect(r.comparisons[0].statistic).toBeCloseTo(expected.z, 12);
    expect(r.srm).toMatchObject({ df: 1, mismatch: false });
  });

  it('filters rows with --where, compares means with Welch, and applies CUPED with --covariate', async () => {
    const { code, stdout } = await kiban(
      ...base,
      '--csv',
      messy,
      '--metric',
      'revenue',
      '--covariate',
      'revenue_before',
      '--where',
      "landing_page <> 'x' and not (\"group\" = 'treatment' and landing_page = 'old_page')",
      '--json',
    );
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    // The duplicate row of u7, the two treatment rows on the old page, and the row without a group
    // (SQL: a condition on a missing value is unknown, and unknown rows are not kept).
    expect(r.data.rowsFilteredOut).toBe(4);
    expect(r.data.duplicateUnits).toBe(0);
    expect(r.kind).toBe('value');
    const sums = (rows: number[][]) => ({
      units: rows.length,
      sum: rows.reduce((s, [y]) => s + y!, 0),
      sumSquares: rows.reduce((s, [y]) => s + y! * y!, 0),
      covariate: {
        sum: rows.reduce((s, [, x]) => s + x!, 0),
        sumSquares: rows.reduce((s, [, x]) => s + x! * x!, 0),
        sumProducts: rows.reduce((s, [y, x]) => s + x! * y!, 0),
      },
    });
    const c = sums([...revenue.control, [1, 1]]); // the "nan" row: its converted is bad, its revenue fine
    const t = sums(revenue.treatment);
    const mean = (s: ReturnType<typeof sums>) => ({
      units: s.units,
      mean: s.sum / s.units,
      variance: (s.sumSquares - (s.sum * s.sum) / s.units) / (s.units - 1),
    });
    expect(r.comparisons[0].pValue).toBeCloseTo(welchTest(mean(c), mean(t)).pValue, 9);
    const adjusted = cuped(c, t);
    expect(r.comparisons[0].cuped.theta).toBeCloseTo(adjusted.theta, 9);
    expect(r.comparisons[0].cuped.varianceReduction).toBeGreaterThan(0.5); // revenue_before explains most of revenue
  });

  it("with --time, gives the cumulative lift per day of each unit's earliest row and takes the always-valid p over those looks", async () => {
    const { code, stdout } = await kiban(
      ...base,
      '--csv',
      messy,
      '--metric',
      'converted',
      '--time',
      'timestamp',
      '--json',
    );
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(r.time).toBe('timestamp');
    expect(r.data.missing.time).toBe(0);
    expect(r.data.notTime).toBe(0);
    expect(r.timeline.map((p: { until: string }) => p.until)).toEqual(
      Array.from(
        { length: 9 },
        (_, d) => `2017-01-${String(d + 2).padStart(2, '0')}T00:00:00.000Z`,
      ),
    );
    const cumulative = (days: number[], upTo: number) =>
      days.slice(1, upTo + 1).reduce((s, n) => s + n, 0);
    r.timeline.forEach((p: { units: Record<string, number> }, d: number) => {
      expect(p.units).toEqual({
        control: cumulative(perDay.control, d + 1),
        treatment: cumulative(perDay.treatment, d + 1),
      });
    });
    const last = r.timeline.at(-1);
    const overall = compareProportions(truth.control, truth.treatment);
    expect(last.lift.treatment.estimate).toBeCloseTo(overall.relative!.estimate, 12);
    expect(r.comparisons[0].sequential.looks).toBe(9);
    // Only the figures over time are new: the test itself is the one without --time.
    expect(r.comparisons[0].pValue).toBeCloseTo(overall.pValue, 12);

    const text = await kiban(
      ...base,
      '--csv',
      messy,
      '--metric',
      'converted',
      '--time',
      'timestamp',
    );
    expect(text.stdout).toMatch(
      /cumulative relative lift over control by first-seen time:\n\s+until \(UTC\)\s+units\s+treatment\n\s+2017-01-02 00:00\s+\d+\s+[+-][\d.]+% \[/,
    );
  });

  it('reads --time as timestamps with or without an offset or as epoch seconds or ms, counting what it cannot read', async () => {
    const file = join(dir, 'times.csv');
    const rows = [
      'unit,arm,y,at',
      'a,control,1,2026-03-01T10:20:00Z',
      'b,control,0,2026-03-01 10:59:59',
      'c,control,1,2026-03-01T20:30:00+09:00', // 11:30 UTC
      'd,treatment,1,1772364600', // 2026-03-01T11:30:00Z in epoch seconds
      'e,treatment,0,1772368200000', // 12:30 UTC in ms
      'f,treatment,1,2026-03-01T10:00:00.000Z',
      'g,treatment,1,yesterday',
      'h,control,1,',
    ];
    await writeFile(file, `${rows.join('\n')}\n`);
    const { code, stdout, stderr } = await kiban(
      'ab',
      'analyze',
      '--csv',
      file,
      '--unit',
      'unit',
      '--variant',
      'arm',
      '--metric',
      'y',
      '--time',
      'at',
      '--bucket',
      'hour',
      '--json',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(r.data.notTime).toBe(1);
    expect(r.data.missing.time).toBe(1);
    expect(r.data.unitsAnalysed).toBe(6);
    expect(r.excluded.join('\n')).toMatch(
      /1 rows whose time \(--time at\) is neither a timestamp nor an epoch number/,
    );
    expect(
      r.timeline.map((p: { until: string; units: Record<string, number> }) => [
        p.until.slice(11, 16),
        p.units.control,
        p.units.treatment,
      ]),
    ).toEqual([
      ['11:00', 2, 1],
      ['12:00', 3, 2],
      ['13:00', 3, 3],
    ]);

    const tooFine = join(dir, 'years.csv');
    await writeFile(
      tooFine,
      'unit,arm,y,at\na,control,1,2020-01-01\nb,treatment,1,2026-01-01\n' +
        Array.from({ length: 1100 }, (_, k) => `u${k},control,1,${1577836800 + k * 7200}`).join(
          '\n',
        ) +
        '\n',
    );
    const refused = await kiban(
      'ab',
      'analyze',
      '--csv',
      tooFine,
      '--unit',
      'unit',
      '--variant',
      'arm',
      '--metric',
      'y',
      '--time',
      'at',
      '--bucket',
      'hour',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /--bucket: the times span 2192\.0 days, which makes 1101 buckets of 3600 s \(at most 1000\); choose a wider bucket/,
    );
  });

  it('prints a readable report without --json', async () => {
    const { code, stdout } = await kiban(
      ...base,
      '--csv',
      messy,
      '--metric',
      'converted',
      '--duplicates',
      'exclude',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/units analysed/);
    expect(stdout).toMatch(
      /excluded:\n[\s\S]*units with several rows in their variant: excluded \(--duplicates exclude\)/,
    );
    expect(stdout).toMatch(/treatment vs control \(two-proportion z-test\)/);
    expect(stdout).toMatch(/sample ratio: χ² = [\d.]+, p = [\d.e-]+ \(ok\)/);
  });

  it('prints a CUPED variance increase with one sign (a covariate imbalanced between the variants)', async () => {
    // x differs between the groups but not within them: the pooled θ is large and the adjusted
    // variance grows (a negative reduction), which the report once printed as "−-72.56%".
    const file = join(dir, 'cuped-worse.csv');
    await writeFile(
      file,
      'user,group,y,x\na,control,2,1\nb,control,4,2\nc,control,4,3\nd,control,2,4\ne,treatment,10,11\nf,treatment,12,12\ng,treatment,12,13\nh,treatment,10,14\n',
    );
    const args = [
      'ab',
      'analyze',
      '--csv',
      file,
      '--unit',
      'user',
      '--variant',
      'group',
      '--metric',
      'y',
      '--covariate',
      'x',
    ];
    const json = JSON.parse((await kiban(...args, '--json')).stdout.trim().split('\n').at(-1)!);
    const reduction = json.comparisons[0].cuped.varianceReduction as number;
    expect(reduction).toBeLessThan(0);
    const { code, stdout } = await kiban(...args);
    expect(code).toBe(0);
    expect(stdout).toContain(`variance +${(-100 * reduction).toFixed(2)}%`);
    expect(stdout).not.toMatch(/[−+-]\s?[−+-]\d/);
  });

  it('reads yes/no metric values as 1/0 (any case), like true/false', async () => {
    const file = join(dir, 'yes-no.csv');
    await writeFile(
      file,
      'user,group,signed_up\na,control,yes\nb,control,no\nc,control,NO\nd,treatment,Yes\ne,treatment,yes\nf,treatment,no\ng,treatment,maybe\n',
    );
    const { code, stdout, stderr } = await kiban(
      'ab',
      'analyze',
      '--csv',
      file,
      '--unit',
      'user',
      '--variant',
      'group',
      '--metric',
      'signed_up',
      '--json',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(r.kind).toBe('conversion');
    expect(
      r.variants.map((v: { variant: string; units: number; conversions: number }) => [
        v.variant,
        v.units,
        v.conversions,
      ]),
    ).toEqual([
      ['control', 3, 1],
      ['treatment', 3, 2],
    ]);
    expect(r.data.notNumeric.metric).toBe(1);
    expect(r.excluded.join('\n')).toMatch(
      /1 rows whose metric is not a number, true\/false or yes\/no/,
    );
  });

  it('names the metric column and its values when it holds no numbers, instead of blaming --variant', async () => {
    const file = join(dir, 'text-metric.csv');
    await writeFile(
      file,
      'user,group,outcome,spend\na,control,clicked,1\nb,control,skipped,2\nc,treatment,clicked,x\nd,treatment,bounced,4\n',
    );
    const metric = await kiban(
      'ab',
      'analyze',
      '--csv',
      file,
      '--unit',
      'user',
      '--variant',
      'group',
      '--metric',
      'outcome',
    );
    expect(metric.code).toBe(3);
    expect(metric.stderr).not.toMatch(/--variant/);
    expect(metric.stderr).toMatch(
      /text-metric\.csv, column "outcome": holds no numbers \(--metric\): values like "bounced", "clicked", "skipped" are not a number, true\/false or yes\/no/,
    );
    const covariate = await kiban(
      'ab',
      'analyze',
      '--csv',
      file,
      '--unit',
      'user',
      '--variant',
      'group',
      '--metric',
      'spend',
      '--covariate',
      'outcome',
    );
    expect(covariate.code).toBe(3);
    expect(covariate.stderr).toMatch(/column "outcome": holds no numbers \(--covariate\)/);
  });

  it('fails clearly on a missing column, an unknown control, bad weights and a bad file', async () => {
    const cases: [string[], number, RegExp][] = [
      [
        ['--csv', messy, '--metric', 'clicks'],
        3,
        /column "clicks": is not a column \(--metric\); columns: user_id/,
      ],
      [
        ['--csv', messy, '--metric', 'converted', '--control', 'baseline'],
        2,
        /--control: "baseline" is not a variant of the data \(control, treatment\)/,
      ],
      [
        ['--csv', messy, '--metric', 'converted', '--weights', 'control=1,other=1'],
        2,
        /--weights: gives no weight for variant "treatment"/,
      ],
      [
        ['--csv', messy, '--metric', 'converted', '--where', 'no_such_column = 1'],
        2,
        /where: DuckDB refused it/,
      ],
      [['--csv', join(dir, 'nope.csv'), '--metric', 'converted'], 3, /nope\.csv.*does not exist/],
      [['--csv', messy, '--metric', 'converted', '--duplicates', 'keep'], 2, /'keep' is invalid/],
    ];
    for (const [args, status, message] of cases) {
      const { code, stderr } = await kiban(...base, ...args);
      expect([args.join(' '), code]).toEqual([args.join(' '), status]);
      expect(stderr).toMatch(message);
    }
  });
});
