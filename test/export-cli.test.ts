import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kibanIn } from './fixtures/kiban-cli.js';

const UNSET = ['KIBAN_STORES_METADATA', 'KIBAN_STORES_ARTIFACTS', 'KIBAN_CONFIG'];

describe('kiban export', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-export-cli-'));
    await symlink(resolve('datasets'), join(dir, 'datasets'));
    await writeFile(
      join(dir, 'counts.yaml'),
      `name: counts
dataset: ratings
recipient: bi
source: { files: datasets/ml-latest-small/ratings.csv }
columns: { rating: keep }
release:
  mode: aggregates
  groupBy: [rating]
  privacyUnit: [userId]
  maxGroupsPerUnit: 10
  epsilon: 1
  keys: { threshold: { delta: 1e-6 } }
budget: { epsilon: 1.5, delta: 1e-5 }
`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('plans, runs, refuses the release that would overspend with exit 1, and logs', async () => {
    const plan = await kibanIn(dir, ['export', 'plan', 'counts.yaml', '--json'], UNSET);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout) as {
      detail: { spend: Record<string, number>; threshold: number };
    };
    expect(planned.detail.spend.epsilon).toBe(1);
    expect(planned.detail.threshold).toBeGreaterThan(10);

    const first = await kibanIn(dir, ['export', 'run', 'counts.yaml', '--release-id', 'r1'], UNSET);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^released r1$/m);
    expect(first.stdout).toMatch(/data +exports\/ratings\/bi\/counts\/r1\/counts\.parquet/);

    const second = await kibanIn(dir, ['export', 'run', 'counts.yaml'], UNSET);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/epsilon spent 1 \+ this release 1 = 2 > budget 1\.5/);

    const log = await kibanIn(dir, ['export', 'log', '--json'], UNSET);
    const releases = JSON.parse(log.stdout) as { id: string; status: string }[];
    expect(releases.map((r) => [r.id, r.status])).toEqual([['r1', 'published']]);
  });

  it('exits 3 naming the file and line of a bad policy', async () => {
    await writeFile(
      join(dir, 'bad.yaml'),
      'dataset: x\nrecipient: y\nsource: { files: a.csv }\ncolumns: {}\nrelease: { mode: records, k: 1 }\n',
    );
    const bad = await kibanIn(dir, ['export', 'plan', 'bad.yaml'], UNSET);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/bad\.yaml.*5.*release\.k/);
  });
});
