import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';
import type { EvaluationRecord } from '../src/cli/evaluate-command.js';
import { builtinModels } from '../src/models/builtin-models.js';

const TRAIN = 'datasets/ml-latest-small/splits/train.csv';
const TEST = 'datasets/ml-latest-small/splits/test.csv';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kiban evaluate', () => {
  it('prints one JSON object with the metrics of every model on the bundled split', async () => {
    const { code, stdout } = await kiban('evaluate', '--all', '--json');
    expect(code).toBe(0);
    const last = stdout.trim().split('\n').at(-1)!;
    const result = JSON.parse(last) as { k: number; models: EvaluationRecord[] };
    expect(result.models.map((m) => m.model)).toEqual([
      'popularity',
      'itemknn',
      'als',
      'bpr',
      'graphsage',
      'gat',
      'ease',
    ]);
    const ndcg = Object.fromEntries(result.models.map((m) => [m.model, m.metrics['ndcg@10']]));
    for (const m of result.models) {
      expect(Object.keys(m.metrics).sort()).toEqual([
        'coverage',
        'map@10',
        'ndcg@10',
        'precision@10',
        'recall@10',
      ]);
      expect(m.fitSeconds).toBeGreaterThanOrEqual(0);
      expect(m.users).toBe(610);
    }
    // The goals of the foundation issue, on the defaults.
    expect(ndcg.popularity).toBeCloseTo(0.1908, 4);
    expect(ndcg.itemknn).toBeGreaterThan(0.2716);
    expect(ndcg.als).toBeGreaterThan(0.3454);
    expect(ndcg.bpr).toBeGreaterThan(0.9 * ndcg.als);
    // The graph models (issue 19) measured 0.3337 and 0.3173 on their defaults: guards, not the goal.
    expect(ndcg.graphsage).toBeGreaterThan(0.9 * ndcg.als);
    expect(ndcg.gat).toBeGreaterThan(0.85 * ndcg.als);
    // EASE (issue 24) on its defaults, against the numpy peer's 0.3668 at λ = 400.
    expect(ndcg.ease).toBeGreaterThanOrEqual(0.3668);
  }, 120_000);

  it('takes hyper-parameters as options and echoes them in params', async () => {
    const args = [
      '--model',
      'itemknn',
      '--neighbours',
      '50',
      '--weighting',
      'none',
      '--k',
      '10',
      '--json',
    ];
    const { code, stdout } = await kiban('evaluate', '--train', TRAIN, '--test', TEST, ...args);
    expect(code).toBe(0);
    const record = JSON.parse(stdout.trim().split('\n').at(-1)!) as EvaluationRecord;
    expect(record.model).toBe('itemknn');
    expect(record.params).toMatchObject({ neighbours: 50, weighting: 'none' });
    // Plain cosine with K = 50 is the reference row of the foundation issue: ndcg@10 0.2716.
    expect(record.metrics['ndcg@10']).toBeCloseTo(0.2716, 3);
  });

  it('works on any train/test pair with the MovieLens columns', async () => {
    const header = 'userId,movieId,rating,timestamp\n';
    const train = join(dir, 'train.csv');
    const test = join(dir, 'test.csv');
    await writeFile(train, `${header}1,10,5,1\n1,20,4,2\n2,10,3,3\n2,30,4,4\n3,20,1,5\n`);
    await writeFile(test, `${header}1,30,4,6\n3,10,5,7\n`);
    const { code, stdout } = await kiban(
      'evaluate',
      '--train',
      train,
      '--test',
      test,
      '--model',
      'popularity',
      '--k',
      '1',
      '--json',
    );
    expect(code).toBe(0);
    // Popularity: 10 and 20 (2 users each), then 30. User 1 gets 30 (hit), user 3 gets 10 (hit).
    expect(JSON.parse(stdout.trim()).metrics['precision@1']).toBe(1);
  });

  it('takes string ids and other column names, and saves a model that loads', async () => {
    const train = join(dir, 'strings.csv');
    await writeFile(train, 'who,what\nann,tea\nann,cake\nbob,tea\nbob,jam\ncid,cake\n');
    const test = join(dir, 'strings-test.csv');
    await writeFile(test, 'who,what\nann,jam\n');
    const saved = join(dir, 'saved');
    const args = [
      '--train',
      train,
      '--test',
      test,
      '--columns',
      'who,what',
      '--id-type',
      'string',
      '--model',
      'popularity',
      '--k',
      '1',
    ];
    const { code, stdout } = await kiban('evaluate', ...args, '--save', saved, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim()).metrics['precision@1']).toBe(1);
    const model = await builtinModels().load(saved);
    expect(model.data.items.toJSON()).toEqual(['cake', 'jam', 'tea']);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['a missing file', ['--train', 'no/such.csv'], 3, /no\/such\.csv: file not found/],
    [
      'an unknown model',
      ['--model', 'deep-magic'],
      2,
      /--model: unknown model "deep-magic"; choose one of popularity, itemknn, als, bpr/,
    ],
    ['k = 0', ['--k', '0'], 2, /--k: must be a positive integer, got "0"/],
    ['k = -3', ['--k', '-3'], 2, /--k: must be a positive integer/],
    [
      'a parameter of another model',
      ['--model', 'popularity', '--factors', '8'],
      2,
      /--factors: does not apply to model "popularity"/,
    ],
    [
      'a non-numeric parameter',
      ['--model', 'als', '--factors', 'many'],
      2,
      /--factors: "many" is not a number/,
    ],
    ['an out-of-range parameter', ['--model', 'als', '--factors', '0'], 2, /als\.factors: /],
    ['an unknown option', ['--bogus'], 2, /unknown option '--bogus'/],
    ['a value choice outside the list', ['--value-mode', 'cubed'], 2, /'cubed' is invalid/],
  ];
  for (const [what, args, status, message] of bad) {
    it(`fails clearly on ${what}`, async () => {
      const { code, stderr } = await kiban('evaluate', ...args);
      expect(code).toBe(status);
      expect(stderr).toMatch(message);
    });
  }

  it('refuses a bandit decision TTL that is not a duration of at least a second, before serving', async () => {
    for (const [value, message] of [
      ['5x', /--decision-ttl: "5x" is not a duration/],
      ['10ms', /--decision-ttl: must be at least 1s/],
    ] as const) {
      const { code, stderr } = await kiban('serve', '--port', '0', '--decision-ttl', value);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });

  it('fails clearly on wrong columns, non-numeric ids (with --id-type integer) and empty data, naming the file', async () => {
    const cols = join(dir, 'cols.csv');
    const ids = join(dir, 'ids.csv');
    const empty = join(dir, 'empty.csv');
    await writeFile(cols, 'user,item,score\n1,2,3\n');
    await writeFile(ids, 'userId,movieId,rating,timestamp\n1,2,3,4\nu7,2,3,4\n');
    await writeFile(empty, 'userId,movieId,rating,timestamp\n');
    const r1 = await kiban('evaluate', '--train', cols);
    expect(r1.code).toBe(3);
    expect(r1.stderr).toContain(`${cols}, column "userId": missing required columns`);
    const r2 = await kiban('evaluate', '--train', ids, '--id-type', 'integer');
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain(`${ids}, line 3, column "userId": "u7" is not an integer`);
    const r3 = await kiban('evaluate', '--train', empty);
    expect(r3.code).toBe(3);
    expect(r3.stderr).toContain(`${empty}: the file has a header line but no data rows`);
    const r4 = await kiban(
      'evaluate',
      '--train',
      ids,
      '--id-type',
      'integer',
      '--model',
      'popularity',
      '--skip-bad-rows',
      '--json',
    );
    expect(r4.code).toBe(0);
    expect(r4.stderr).toMatch(/skipped 1 malformed row \(first at line 3, column "userId"/);
  });

  it('draws the metric curves of the evaluated models with --plot', async () => {
    const chart = join(dir, 'chart.svg');
    const { code, stderr } = await kiban(
      'evaluate',
      '--model',
      'popularity',
      '--k',
      '20',
      '--plot',
      chart,
    );
    expect(code).toBe(0);
    expect(stderr).toContain(`chart written to ${chart}`);
    const svg = await readFile(chart, 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(/points="([^"]+)"/.exec(svg)![1].split(' ')).toHaveLength(20);
  });

  it('explains itself with --help', async () => {
    const { code, stdout } = await kiban('evaluate', '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/--neighbours <value>/);
    expect(stdout).toMatch(/als\s+implicit-feedback matrix factorisation/);
  });
});

describe('kiban workflow validate', () => {
  it('accepts the shipped tags workflow', async () => {
    const ok = await kiban('workflow', 'validate', 'examples/workflows/tags.yaml');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('examples/workflows/tags.yaml: ok (tags: tagger)');
  });

  it('accepts the shipped workflow and reports a broken one as FILE:LINE: reason with status 3', async () => {
    const ok = await kiban('workflow', 'validate', 'examples/workflows/recommend.yaml');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(
      'examples/workflows/recommend.yaml: ok (recommend: aggregate → evaluate → train → candidates → publish → report)',
    );
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'name: b\ntasks:\n  a: { kind: train, needs: [ghost] }\n');
    const bad = await kiban('workflow', 'validate', 'examples/workflows/recommend.yaml', broken);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`${broken}:3: tasks.a.needs.0: unknown task "ghost"; tasks are a`);
  });
});
