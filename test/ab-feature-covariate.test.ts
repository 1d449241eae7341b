/**
 * CUPED with a covariate from the feature store (issue 20, "Used by the rest of kiban"): on a
 * seeded synthetic experiment whose metric correlates with a pre-exposure covariate, the
 * covariate read point-in-time at each unit's exposure from a feature view gives exactly the
 * variance reduction of the same covariate given as a column — and the view's traps (an older
 * value, a value stamped at the exposure instant, a later value equal to the metric itself) are
 * never used.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/bandits/bandit-policy.js';
import { aggregateAbCsv } from '../src/data/ab-csv-aggregates.js';
import { addFeatureCovariate } from '../src/experiments/feature-covariate.js';
import { cuped } from '../src/experiments/stats/cuped.js';
import { loadFeatureRepository } from '../src/features/feature-definitions.js';
import type { FeatureRepository } from '../src/features/feature-types.js';
import { kiban } from './fixtures/kiban-cli.js';

const DAY = 86_400_000;

/**
 * Asserts `actual` equals `expected` with numbers equal to 1e-9 relative: DuckDB's parallel sums
 * add in no fixed order, so two reads of the same values may differ in the last bits.
 */
function expectClose(actual: unknown, expected: unknown, path = 'value'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(
      1e-9 * Math.max(1, Math.abs(expected)),
    );
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    expect(actual !== null && typeof actual === 'object', path).toBe(true);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    expect(Object.keys(a).sort(), path).toEqual(Object.keys(e).sort());
    for (const key of Object.keys(e)) expectClose(a[key], e[key], `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}
const T0 = Date.UTC(2024, 2, 1);
const UNITS = 3000;

let dir: string;
let abCsv: string;
let repo: FeatureRepository;
/** Per unit: the covariate the analysis must use (null: no value before exposure). */
const truth = new Map<string, number | null>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-ab-feature-'));
  await mkdir(join(dir, 'features', 'data'), { recursive: true });
  const random = seededRandom(11);
  const gauss = () => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  const ab = ['user_id,ts,arm,spend,spend_before'];
  const feature = ['user_id,event_time,spend_28d,segment'];
  for (let i = 0; i < UNITS; i += 1) {
    const user = `u${i}`;
    const arm = random() < 0.5 ? 'control' : 'treatment';
    const exposure = T0 + (i % 10) * DAY + Math.floor(random() * DAY);
    const x = Math.round((20 + 6 * gauss()) * 100) / 100;
    const y = Math.round((5 + 0.9 * x + 2 * gauss() + (arm === 'treatment' ? 0.4 : 0)) * 100) / 100;
    // One unit in twenty has no value before its exposure (only a later one).
    const known = i % 20 !== 7;
    truth.set(user, known ? x : null);
    ab.push(`${user},${iso(exposure)},${arm},${y},${known ? x : ''}`);
    // A tenth of the units have a second, later row: the exposure is the earliest.
    if (i % 10 === 3) ab.push(`${user},${iso(exposure + 3 * DAY)},${arm},0,${known ? x : ''}`);
    if (known) {
      feature.push(`${user},${iso(exposure - 20 * DAY)},${x + 50},old`);
      feature.push(`${user},${iso(exposure - 2 * DAY - 3600_000)},${x},current`);
    }
    // Traps: a value stamped at the exposure instant, and a later one equal to the metric.
    feature.push(`${user},${iso(exposure)},${x + 1000},at_exposure`);
    feature.push(`${user},${iso(exposure + DAY)},${y},after`);
  }
  abCsv = join(dir, 'ab.csv');
  await writeFile(abCsv, `${ab.join('\n')}\n`);
  await writeFile(join(dir, 'features', 'data', 'user_spend.csv'), `${feature.join('\n')}\n`);
  await writeFile(
    join(dir, 'features', 'features.yaml'),
    [
      'entities:',
      '  user: { joinKey: user_id, type: string }',
      'sources:',
      '  user_spend: { path: data/user_spend.csv, timestamp: event_time }',
      'featureViews:',
      '  user_spend:',
      '    entities: [user]',
      '    source: user_spend',
      '    ttl: 30d',
      '    features: { spend_28d: float64, segment: string }',
      '',
    ].join('\n'),
  );
  repo = await loadFeatureRepository(join(dir, 'features'));
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('CUPED covariates from a feature view, point-in-time at exposure', () => {
  it('adds each unit’s value before its exposure, never a later one, and CUPED reduces variance exactly as with the column', async () => {
    const added = await addFeatureCovariate({
      csv: abCsv,
      unit: 'user_id',
      time: 'ts',
      repo,
      feature: { view: 'user_spend', feature: 'spend_28d' },
    });
    try {
      expect(added.column).toBe('user_spend__spend_28d');
      expect(added.units).toBe(UNITS);
      expect(added.unitsWithValue).toBe([...truth.values()].filter((v) => v !== null).length);
      // Row by row, the added column is the unit's value before exposure (empty where none).
      const lines = (await readFile(added.csv, 'utf8')).trim().split('\n');
      const original = (await readFile(abCsv, 'utf8')).trim().split('\n');
      expect(lines[0]).toBe(`${original[0]},user_spend__spend_28d`);
      expect(lines.length).toBe(original.length);
      for (let r = 1; r < lines.length; r += 1) {
        const cells = lines[r]!.split(',');
        expect(cells.slice(0, 5).join(',')).toBe(original[r]);
        const want = truth.get(cells[0]!);
        expect(cells[5] === '' ? null : Number(cells[5]), cells[0]).toBe(want);
      }

      const common = { unit: 'user_id', variant: 'arm', metric: 'spend', time: 'ts' } as const;
      const direct = await aggregateAbCsv(abCsv, { ...common, covariate: 'spend_before' });
      const fromStore = await aggregateAbCsv(added.csv, { ...common, covariate: added.column });
      expect(fromStore.quality).toEqual(direct.quality);
      expect(fromStore.quality.missing.covariate).toBe(
        [...truth.values()].filter((v) => v === null).length,
      );
      const sums = (data: typeof direct) =>
        ['control', 'treatment'].map((name) => data.variants.find((v) => v.variant === name)!);
      const [dc, dt] = sums(direct);
      const [fc, ft] = sums(fromStore);
      expectClose(fc, dc, 'control');
      expectClose(ft, dt, 'treatment');
      const a = cuped(dc!, dt!);
      const b = cuped(fc!, ft!);
      expectClose(b, a, 'cuped');
      // The covariate explains most of the metric's variance (0.9²·36 of 0.9²·36 + 4).
      expect(a.varianceReduction).toBeGreaterThan(0.8);
      expect(a.varianceReduction).toBeLessThan(0.95);
    } finally {
      await added.remove();
    }
  }, 120_000);

  it('keys an int64 view by the unit read as an integer, as the offline store joins the same entities', async () => {
    const example = await loadFeatureRepository('examples/features');
    const csv = join(dir, 'int-units.csv');
    // Epoch seconds, as the example's entity file; "x7" is no integer: no value.
    await writeFile(
      csv,
      [
        'user,ts,arm,y',
        '107,833000000,a,1',
        '54,835000000,b,0',
        '054,835000000,b,0',
        '99,829000000,a,0',
        'x7,835000000,a,1',
        '',
      ].join('\n'),
    );
    const added = await addFeatureCovariate({
      csv,
      unit: 'user',
      time: 'ts',
      repo: example,
      feature: { view: 'user_stats', feature: 'ratings_total' },
    });
    try {
      const rows = (await readFile(added.csv, 'utf8')).trim().split('\n').slice(1);
      const value = (unit: string) => rows.find((r) => r.startsWith(`${unit},`))!.split(',')[4];
      // user_stats.csv: 107 has 34 ratings as of 832032000, 54 has 18 as of 830304000, and 99's
      // first row (829872000) comes after its exposure.
      expect(value('107')).toBe('34');
      expect(value('54')).toBe('18');
      expect(value('054')).toBe('18');
      expect(value('99')).toBe('');
      expect(value('x7')).toBe('');
      expect(added.units).toBe(5);
      expect(added.unitsWithValue).toBe(3);
    } finally {
      await added.remove();
    }
  });

  it('refuses a non-numeric feature, an unknown one and a unit column the file lacks', async () => {
    const base = { csv: abCsv, unit: 'user_id', time: 'ts', repo } as const;
    await expect(
      addFeatureCovariate({ ...base, feature: { view: 'user_spend', feature: 'segment' } }),
    ).rejects.toThrow(/covariateFeature: "user_spend:segment" is of type string/);
    await expect(
      addFeatureCovariate({ ...base, feature: { view: 'user_spend', feature: 'nope' } }),
    ).rejects.toThrow(/view "user_spend" has no feature "nope"/);
    await expect(
      addFeatureCovariate({
        ...base,
        unit: 'account',
        feature: { view: 'user_spend', feature: 'spend_28d' },
      }),
    ).rejects.toThrow(/account.*is not a column/);
  });

  it('kiban ab analyze --covariate-feature gives the CUPED result of --covariate with the same values', async () => {
    const common = [
      'ab',
      'analyze',
      '--csv',
      abCsv,
      '--unit',
      'user_id',
      '--variant',
      'arm',
      '--metric',
      'spend',
      '--time',
      'ts',
      '--json',
    ];
    const [direct, fromStore, noTime] = await Promise.all([
      kiban(...common, '--covariate', 'spend_before'),
      kiban(
        ...common,
        '--covariate-feature',
        'user_spend:spend_28d',
        '--feature-repo',
        join(dir, 'features'),
      ),
      kiban(
        ...common.filter((a) => a !== '--time' && a !== 'ts'),
        '--covariate-feature',
        'user_spend:spend_28d',
        '--feature-repo',
        join(dir, 'features'),
      ),
    ]);
    expect(direct.stderr).toBe('');
    expect(fromStore.stderr).toBe('');
    expect(direct.code).toBe(0);
    expect(fromStore.code).toBe(0);
    const a = JSON.parse(direct.stdout.trim().split('\n').at(-1)!);
    const b = JSON.parse(fromStore.stdout.trim().split('\n').at(-1)!);
    expect(b.covariateFeature).toMatchObject({
      feature: 'user_spend:spend_28d',
      column: 'user_spend__spend_28d',
      units: UNITS,
    });
    expect(b.data).toEqual(a.data);
    expectClose(b.comparisons[0].cuped, a.comparisons[0].cuped, 'cuped');
    expect(a.comparisons[0].cuped.varianceReduction).toBeGreaterThan(0.8);
    expect(noTime.code).not.toBe(0);
    expect(noTime.stderr).toMatch(/--time: is needed with --covariate-feature/);
  }, 180_000);
});
