/**
 * `kiban tune` through the CLI from sources: errors name the flag before any data is read; a
 * small search prints its table, writes the chart and applies the best params keeping comments.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-tune-cli-'));
  // 4 clusters of 10 users, each picking 12 of its 20 items over time.
  const lines = ['userId,movieId,rating,timestamp'];
  for (let u = 0; u < 40; u++)
    for (let i = 0; i < 12; i++)
      lines.push(`${u},${(u % 4) * 20 + ((u * 7 + i * 3) % 20)},4,${1_000 + u * 50 + i}`);
  await writeFile(join(dir, 'train.csv'), `${lines.join('\n')}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kiban tune', { timeout: 60_000 }, () => {
  it('names the flag at fault: unknown model, model without a space, bad budget', async () => {
    const [unknown, untunable, budget] = await Promise.all([
      kiban('tune', '--model', 'nope'),
      kiban('tune', '--model', 'popularity'),
      kiban('tune', '--model', 'als', '--budget', 'soon'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--model: unknown model "nope"; choose one of popularity, /);
    expect(untunable.code).toBe(2);
    expect(untunable.stderr).toMatch(
      /--model: model "popularity" declares no search space.*models that do: itemknn, als, .*bpr/,
    );
    expect(budget.code).toBe(2);
    expect(budget.stderr).toMatch(/--budget: "soon" is not a duration/);
  });

  it('prints the trials best first, plots them and applies the best to kiban.yaml', async () => {
    const config = join(dir, 'kiban.yaml');
    await writeFile(
      config,
      '# ours\nmodel:\n  kind: als # was\nevaluate: { k: 5 } # short lists\n',
    );
    const plot = join(dir, 'tune.svg');
    const args = ['tune', '--model', 'itemknn', '--trials', '4', '--train', join(dir, 'train.csv')];
    const table = await kiban(...args, '--carve', 'random');
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^#\s+TRIAL\s+RUNG\s+PARAMS\s+NDCG@10\s+FIT S$/);
    expect(rows).toHaveLength(6);
    expect(rows.slice(1, 5).some((r) => /^\d\s+0\*/.test(r))).toBe(true);
    const json = await kiban(...args, '--config', config, '--apply', '--json', '--plot', plot);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as {
      best: Record<string, unknown>;
      trials: { 'ndcg@10': number; rung: number }[];
      applied: string;
    };
    expect(result.trials).toHaveLength(4);
    expect(result.trials[0].rung).toBeGreaterThanOrEqual(result.trials[3].rung);
    expect(result.applied).toBe(config);
    const text = await readFile(config, 'utf8');
    expect(text).toMatch(/^# ours\nmodel:\n {2}kind: itemknn # was\n/);
    expect(text).toContain('evaluate: { k: 5 } # short lists');
    expect(text).toContain(`neighbours: ${String(result.best.neighbours)}`);
    expect(await readFile(plot, 'utf8')).toMatch(/^<svg[\s\S]*rung 1: [12] trials/);
  });

  it('--help shows an example', async () => {
    const { stdout } = await kiban('tune', '--help');
    expect(stdout).toContain('kiban tune --model als --trials 16 --budget 10m --carve temporal');
  });
});
