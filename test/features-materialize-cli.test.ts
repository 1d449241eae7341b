import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteOnlineFeatureStore } from '../src/storage/sqlite-online-feature-store.js';
import { onlineState, T0, writeMaterializeRepo } from './fixtures/feature-materialize-repo.js';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

describe('kiban features materialize', () => {
  const tmp = useTempDir('kiban-features-materialize-');

  it('writes the window to the online store it is given, then finds a rerun up to date', async () => {
    const repo = join(tmp.path, 'repo');
    const expectedFor = await writeMaterializeRepo(repo, { rows: 200 });
    const db = join(tmp.path, 'online.db');
    const args = [
      'features',
      'materialize',
      '--repo',
      repo,
      '--start',
      '2024-01-01',
      '--end',
      '2024-01-11',
    ];
    const first = await kiban(...args, '--online', `sqlite:${db}`, '--chunk-rows', '50');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^user_stats: 10 windows from 2024-01-01T00:00:00.000Z, \d+ rows, \d+ stored$/m,
    );
    expect(first.stdout).toMatch(
      /^materialised \d+ rows \(\d+ stored\) in [\d.]+ s, \d+ rows\/s, to sqlite:/m,
    );
    const store = new SqliteOnlineFeatureStore(db);
    try {
      const expected = expectedFor(T0, Date.UTC(2024, 0, 11));
      expect(await onlineState(store, expected)).toEqual(expected);
    } finally {
      await store.close();
    }
    const again = await kiban(
      ...args,
      '--online',
      `sqlite:${db}`,
      '--views',
      'pair_stats',
      '--json',
    );
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as {
      rows: number;
      views: { view: string; windows: number }[];
    };
    expect(result.rows).toBe(0);
    expect(result.views.map((v) => [v.view, v.windows])).toEqual([['pair_stats', 0]]);
  });

  it("defaults to a SQLite file beside the configuration's serving store", async () => {
    const repo = join(tmp.path, 'repo2');
    const expectedFor = await writeMaterializeRepo(repo, { rows: 50, seed: 3 });
    const config = join(tmp.path, 'kiban.yaml');
    await writeFile(
      config,
      `stores:\n  serving: sqlite:${join(tmp.path, 'stores', 'serving.db')}\n`,
    );
    const run = await kiban(
      'features',
      'materialize',
      '--repo',
      repo,
      '--config',
      config,
      '--start',
      String(T0 / 1000),
      '--end',
      '2024-01-12T00:00:00Z',
      '--step',
      '2d',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^user_stats: 6 windows from 2024-01-01T00:00:00.000Z, \d+ rows/m);
    const store = new SqliteOnlineFeatureStore(join(tmp.path, 'stores', 'features.db'));
    try {
      const expected = expectedFor(T0, Date.UTC(2024, 0, 12));
      expect(await onlineState(store, expected)).toEqual(expected);
      expect((await store.getMaterialized('pair_stats'))?.end).toBe(Date.UTC(2024, 0, 12));
    } finally {
      await store.close();
    }
  });

  it("prefers the configuration's features.online, the store kiban serve reads", async () => {
    const repo = join(tmp.path, 'repo4');
    await writeMaterializeRepo(repo, { rows: 20 });
    const config = join(tmp.path, 'kiban-features.yaml');
    const db = join(tmp.path, 'configured', 'online.db');
    await writeFile(
      config,
      `stores:\n  serving: sqlite:${join(tmp.path, 'other', 'serving.db')}\nfeatures:\n  online: sqlite:${db}\n`,
    );
    const run = await kiban(
      'features',
      'materialize',
      '--repo',
      repo,
      '--config',
      config,
      '--start',
      '2024-01-01',
      '--end',
      '2024-01-03',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`to sqlite:${db}`);
    const store = new SqliteOnlineFeatureStore(db);
    try {
      expect((await store.getMaterialized('user_stats'))?.end).toBe(Date.UTC(2024, 0, 3));
    } finally {
      await store.close();
    }
  });

  it('names a bad --start and an unknown view', async () => {
    const repo = join(tmp.path, 'repo3');
    await writeMaterializeRepo(repo, { rows: 10 });
    const bad = await kiban(
      'features',
      'materialize',
      '--repo',
      repo,
      '--start',
      'yesterday',
      '--end',
      '2024-01-02',
      '--online',
      'memory:',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--start');
    const view = await kiban(
      'features',
      'materialize',
      '--repo',
      repo,
      '--start',
      '2024-01-01',
      '--end',
      '2024-01-02',
      '--online',
      'memory:',
      '--views',
      'nope',
    );
    expect(view.code).not.toBe(0);
    expect(view.stderr).toContain('no feature view "nope"');
  });
});
