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
    revenue[group].push([spent, before]);
  }
  // The mess: a unit in both groups (excluded whole), a duplicate row (first kept), rows with
  // missing or non-numeric values, and treatment rows landing on the old page.
  lines.push('both,2017-01-02,control,old_page,1,3,1', 'both,2017-01-03,treatment,new_page,0,3,1');
  lines.push('u7,2017-01-05,' + lines[8]!.split(',')[2] + ',x,1,99,1');
  lines.push(',2017-01-02,control,old_page,1,1,1', 'nogroup,2017-01-02,,old_page,1,1,1', 'nan,2017-01-02,control,old_page,maybe,1,1');
  lines.push('old1,2017-01-02,treatment,old_page,1,1,1', 'old2,2017-01-02,treatment,old_page,1,1,1');
  truth.treatment.units += 2;
  truth.treatment.conversions += 2;
  messy = join(dir, 'ab_data.csv');
  await writeFile(messy, `${lines.join('\n')}\n`);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const base = ['ab', 'analyze', '--unit', 'user_id', '--variant', 'group'];

describe('kiban ab analyze', () => {
  it('reports every data problem with counts, says what it excluded, and tests the rate', async () => {
    const { code, stdout, stderr } = await kiban(...base, '--csv', messy, '--metric', 'converted', '--alternative', 'greater', '--json');
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
    expect(r.excluded.join('\n')).toMatch(/1 rows with no unit[\s\S]*1 units seen in more than one variant \(2 rows\): excluded whole[\s\S]*1 extra rows of 1 units.*--duplicates first/);
    expect(r.kind).toBe('conversion');
    expect(r.variants.map((v: { units: number; conversions: number }) => [v.units, v.conversions])).toEqual([
      [truth.control.units, truth.control.conversions],
      [truth.treatment.units, truth.treatment.conversions],
    ]);
    const expected = compareProportions(truth.control, truth.treatment, { alternative: 'greater' });
    expect(r.comparisons[0].pValue).toBeCloseTo(expected.pValue, 12);
    expect(r.comparisons[0].statistic).toBeCloseTo(expected.z, 12);
    expect(r.srm).toMatchObject({ df: 1, mismatch: false });
  });

  it('filters rows with --where, compares means with Welch, and applies CUPED with --covariate', async () => {
    const { code, stdout } = await kiban(...base, '--csv', messy, '--metric', 'revenue', '--covariate', 'revenue_before', '--where', "landing_page <> 'x' and not (\"group\" = 'treatment' and landing_page = 'old_page')", '--json');
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
      covariate: { sum: rows.reduce((s, [, x]) => s + x!, 0), sumSquares: rows.reduce((s, [, x]) => s + x! * x!, 0), sumProducts: rows.reduce((s, [y, x]) => s + x! * y!, 0) },
    });
    const c = sums([...revenue.control, [1, 1]]); // the "nan" row: its converted is bad, its revenue fine
    const t = sums(revenue.treatment);
    const mean = (s: ReturnType<typeof sums>) => ({ units: s.units, mean: s.sum / s.units, variance: (s.sumSquares - (s.sum * s.sum) / s.units) / (s.units - 1) });
    expect(r.comparisons[0].pValue).toBeCloseTo(welchTest(mean(c), mean(t)).pValue, 9);
    const adjusted = cuped(c, t);
    expect(r.comparisons[0].cuped.theta).toBeCloseTo(adjusted.theta, 9);
    expect(r.comparisons[0].cuped.varianceReduction).toBeGreaterThan(0.5); // revenue_before explains most of revenue
  });

  it('prints a readable report without --json', async () => {
    const { code, stdout } = await kiban(...base, '--csv', messy, '--metric', 'converted', '--duplicates', 'exclude');
    expect(code).toBe(0);
    expect(stdout).toMatch(/units analysed/);
    expect(stdout).toMatch(/excluded:\n[\s\S]*units with several rows in their variant: excluded \(--duplicates exclude\)/);
    expect(stdout).toMatch(/treatment vs control \(two-proportion z-test\)/);
    expect(stdout).toMatch(/sample ratio: χ² = [\d.]+, p = [\d.e-]+ \(ok\)/);
  });

  it('fails clearly on a missing column, an unknown control, bad weights and a bad file', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--csv', messy, '--metric', 'clicks'], 3, /column "clicks": is not a column \(--metric\); columns: user_id/],
      [['--csv', messy, '--metric', 'converted', '--control', 'baseline'], 2, /--control: "baseline" is not a variant of the data \(control, treatment\)/],
      [['--csv', messy, '--metric', 'converted', '--weights', 'control=1,other=1'], 2, /--weights: gives no weight for variant "treatment"/],
      [['--csv', messy, '--metric', 'converted', '--where', 'no_such_column = 1'], 2, /where: DuckDB refused it/],
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
