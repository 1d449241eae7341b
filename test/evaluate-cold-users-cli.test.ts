/** `kiban evaluate --cold-users` (issue 19 item 4) on the bundled MovieLens split. */
import { describe, expect, it } from 'vitest';
import type { EvaluationRecord } from '../src/cli/evaluate-command.js';
import { kiban } from './fixtures/kiban-cli.js';

describe('kiban evaluate --cold-users', () => {
  it('holds users out of training, embeds them from their items and reports warm, cold and their ratio', async () => {
    const { code, stdout, stderr } = await kiban(
      'evaluate',
      '--model',
      'graphsage',
      '--epochs',
      '10',
      '--cold-users',
      '0.2',
      '--cold-seed',
      '3',
      '--json',
    );
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('cold users: 122 of 610 held out of training (seed 3)');
    const record = JSON.parse(stdout.trim().split('\n').at(-1)!) as EvaluationRecord;
    const c = record.coldStart!;
    expect(c).toMatchObject({ fraction: 0.2, seed: 3 });
    expect(c.warm.users + c.cold.users).toBe(610);
    expect(c.cold.users).toBe(122);
    // No test user is left without a list: the held-out ones are embedded, not counted as misses.
    expect(record.coldUsers).toBe(0);
    expect(record.metrics['ndcg@10']).toBeCloseTo(
      (c.warm.users * c.warm.ndcg + c.cold.users * c.cold.ndcg) / 610,
      5,
    );
    expect(c.buckets.reduce((s, b) => s + b.coldUsers, 0)).toBe(122);
    expect(c.ratio).toBeCloseTo(c.matchedColdNdcg / c.matchedWarmNdcg, 3);
    expect(c.cold.ndcg).toBeGreaterThan(0.2);
  }, 120_000);

  it('prints the warm and cold figures under the table', async () => {
    const { code, stdout } = await kiban(
      'evaluate',
      '--model',
      'gat',
      '--epochs',
      '2',
      '--cold-users',
      '0.1',
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/warm users 549: ndcg@10 0\.\d{4}; cold users 61 /);
    expect(stdout).toMatch(
      /at equal interaction counts: cold 0\.\d{4} \/ warm 0\.\d{4} = \d\.\d{3}/,
    );
  }, 120_000);

  it('refuses a model that cannot embed an unseen user, and a fraction outside (0, 1), before reading data', async () => {
    const als = await kiban('evaluate', '--model', 'als', '--cold-users', '0.1');
    expect(als.code).toBe(2);
    expect(als.stderr).toMatch(
      /--cold-users: model "als" cannot embed a user it was not trained on \(no embedUsers\); use a model that does: graphsage, gat/,
    );
    const all = await kiban('evaluate', '--all', '--cold-users', '0.1');
    expect(all.code).toBe(2);
    expect(all.stderr).toMatch(/--cold-users: model "popularity" cannot embed/);
    for (const bad of ['1', 'half']) {
      const r = await kiban('evaluate', '--model', 'graphsage', '--cold-users', bad);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `--cold-users: must be a fraction between 0 and 1 (exclusive), got "${bad}"`,
      );
    }
    const seed = await kiban(
      'evaluate',
      '--model',
      'gat',
      '--cold-users',
      '0.1',
      '--cold-seed',
      'x',
    );
    expect(seed.code).toBe(2);
    expect(seed.stderr).toContain('--cold-seed: must be an integer, got "x"');
  }, 60_000);
});
