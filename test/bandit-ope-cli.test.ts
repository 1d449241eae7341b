import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.js';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-ope-cli-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

// Concurrent: each test spends most of its time starting a CLI process.
describe.concurrent('kiban bandit ope', () => {
  it('prints one JSON object: every estimator with an interval, and the observed click rate (bundled men log)', async () => {
    const { code, stdout, stderr } = await kiban(
      'bandit',
      'ope',
      '--log',
      'datasets/open-bandit-random/men/men.csv',
      '--policy',
      'uniform',
      '--resamples',
      '50',
      '--l2',
      '100',
      '--json',
    );
    expect(stderr).toContain('10000 rows, 34 actions, 3 positions');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]) as {
      estimates: Record<string, { value: number; ci: [number, number] }>;
      observed: { value: number };
      trainRows: number;
      evalRows: number;
    };
    expect(Object.keys(report.estimates)).toEqual(['ips', 'snips', 'dm', 'dr', 'sndr']);
    expect(report.observed.value).toBeCloseTo(0.006, 12);
    expect(report.estimates.ips.value).toBeCloseTo(report.observed.value, 12);
    for (const e of Object.values(report.estimates)) expect(e.ci[0]).toBeLessThanOrEqual(e.ci[1]);
    expect([report.trainRows, report.evalRows]).toEqual([7000, 3000]);
  });

  it('evaluates a kiban decision log (JSON lines) with a trained policy', async () => {
    // 2,000 one-slot decisions, uniform over 3 arms; arm "b" clicks 60% of the time, the others 10%.
    const random = new Random(4);
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const arm = ['a', 'b', 'c'][random.nextInt(3)];
      const reward = random.next() < (arm === 'b' ? 0.6 : 0.1) ? 1 : 0;
      lines.push(
        JSON.stringify({
          decisionId: `d${i}`,
          bandit: 'home',
          policy: 'uniform',
          version: 1,
          context: [1, random.next()],
          candidates: ['a', 'b', 'c'],
          arms: [arm],
          propensities: [1 / 3],
          rewards: [reward],
        }),
      );
    }
    const path = join(dir, 'decisions.jsonl');
    await writeFile(path, `${lines.join('\n')}\n`);
    const { code, stdout, stderr } = await kiban(
      'bandit',
      'ope',
      '--log',
      path,
      '--policy',
      'egreedy',
      '--param',
      'epsilon=0.3',
      '--train-fraction',
      '0.5',
      '--estimators',
      'ips,snips,dm,dr,sndr,replay',
      '--resamples',
      '100',
      '--json',
    );
    expect(stderr).toContain('2000 rows, 3 actions, 1 positions');
    expect(code).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').pop() as string) as {
      params: Record<string, number>;
      estimates: Record<string, { value: number; ci: [number, number] }>;
      observed: { value: number };
    };
    expect(report.params.epsilon).toBe(0.3);
    // Greedy on "b" with ε = 0.3 (spread over all three arms): b has probability 0.8, a and c 0.1
    // each, so the value is 0.8 × 0.6 + 0.1 × 0.1 + 0.1 × 0.1 = 0.5, far above the logged ≈ 0.27.
    for (const name of ['ips', 'snips', 'dr', 'sndr']) {
      const e = report.estimates[name];
      expect(e.ci[0], name).toBeLessThan(0.5);
      expect(e.ci[1], name).toBeGreaterThan(0.5);
      expect(e.ci[0], name).toBeGreaterThan(report.observed.value);
    }
  });

  it('exits 2 naming the option for a bad argument, before reading the log', async () => {
    const bad = await kiban('bandit', 'ope', '--log', join(dir, 'missing.csv'), '--policy', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--policy: unknown policy "nope"; choose one of uniform, egreedy/);
  });
});
