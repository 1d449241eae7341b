import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kibanIn } from './fixtures/kiban-cli.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';

function kiban(
  cwd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return kibanIn(cwd, args, ['KIBAN_STORES_SERVING']);
}

describe('kiban models', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('lists the held versions, shows one, rolls back and forward on a SQLite store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-models-'));
    dirs.push(dir);
    const path = join(dir, 'serving.db');
    const serving = ['--serving', `sqlite:${path}`];

    // No store file yet: nothing is listed, and it is not created.
    const empty = await kiban(dir, ['models', 'list', ...serving, '--json']);
    expect(empty).toMatchObject({ code: 0, stdout: '[]\n' });

    const store = new SqliteServingStore(path);
    for (const [version, ndcg] of [
      ['v1', 0.31],
      ['v2', 0.27],
    ] as const) {
      const writer = await store.beginVersion(version, {
        modelId: `als-${version}`,
        kind: 'als',
        metrics: { 'ndcg@10': ndcg },
      });
      await writer.putLists('user', [['u', [{ id: version, score: 1 }]]]);
      await writer.commit();
    }

    const listed = await kiban(dir, ['models', 'list', ...serving]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/VERSION\s+MODEL\s+KIND\s+METRICS\s+PUBLISHED/);
    expect(lines[1]).toMatch(/^\*\s+v2\s+als-v2\s+als\s+ndcg@10 0\.2700\s+\d{4}-/);
    expect(lines[2]).toMatch(/^\s+v1\s+als-v1\s+als\s+ndcg@10 0\.3100\s+\d{4}-/);

    const shown = await kiban(dir, ['models', 'show', 'v1', ...serving, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      version: 'v1',
      current: false,
      meta: { modelId: 'als-v1', kind: 'als' },
    });

    const rolled = await kiban(dir, ['models', 'rollback', 'v1', ...serving]);
    expect(rolled).toMatchObject({ code: 0, stdout: 'rolled back: v2 → v1\n' });
    // Another connection (a server's) reads the old version at once.
    expect(await store.getList('user', 'u')).toEqual([{ id: 'v1', score: 1 }]);
    const after = await kiban(dir, ['models', 'list', ...serving, '--json']);
    expect(
      JSON.parse(after.stdout).map((v: { version: string; current: boolean }) => [
        v.version,
        v.current,
      ]),
    ).toEqual([
      ['v2', false],
      ['v1', true],
    ]);
    const forward = await kiban(dir, ['models', 'rollback', 'v2', ...serving, '--json']);
    expect(JSON.parse(forward.stdout)).toEqual({ from: 'v1', to: 'v2' });

    const unknown = await kiban(dir, ['models', 'rollback', 'v9', ...serving]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('version v9');
    expect((await kiban(dir, ['models', 'show', 'v9', ...serving])).code).toBe(3);
    expect((await store.currentVersion())?.version).toBe('v2');
    await store.close();

    // --service NAME: that service's own store (derived from stores.serving: DIR/services/NAME/).
    const config = join(dir, 'kiban.yaml');
    await writeFile(config, `stores:\n  serving: sqlite:${path}\nservices:\n  shop: {}\n`);
    await mkdir(join(dir, 'services', 'shop'), { recursive: true });
    const shop = new SqliteServingStore(join(dir, 'services', 'shop', 'serving.db'));
    await (await shop.beginVersion('s1', { kind: 'popularity' })).commit();
    await shop.close();
    const shopListed = await kiban(dir, [
      'models',
      'list',
      '--config',
      config,
      '--service',
      'shop',
      '--json',
    ]);
    expect(shopListed.code).toBe(0);
    expect(JSON.parse(shopListed.stdout).map((v: { version: string }) => v.version)).toEqual([
      's1',
    ]);
    const noService = await kiban(dir, ['models', 'list', '--config', config, '--service', 'nope']);
    expect(noService.code).toBe(2);
    expect(noService.stderr).toContain('--service');
    // Each call starts a process compiling the CLI through tsx: seconds each on a busy machine.
  }, 300_000);
});
