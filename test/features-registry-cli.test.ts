import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kibanIn } from './fixtures/kiban-cli.js';
import {
  dropSchemas,
  postgresUrlForTests,
  probePostgres,
  TEST_POSTGRES_URL,
} from './fixtures/postgres.js';

const EXAMPLE = resolve('examples/features');

function kiban(
  cwd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return kibanIn(cwd, args, ['KIBAN_STORES_METADATA']);
}

// Each CLI call starts a process (seconds on a loaded machine), hence the generous timeout.
describe('kiban features plan|apply', { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  const schemas: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    if (schemas.length > 0) await dropSchemas(schemas);
  });

  async function exampleCopy(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-features-cli-'));
    dirs.push(dir);
    await cp(EXAMPLE, join(dir, 'repo'), { recursive: true });
    return dir;
  }

  it('plans, applies once, then finds nothing to do', async () => {
    const dir = await exampleCopy();
    const [plan, help] = await Promise.all([
      kiban(dir, ['features', 'plan', '--repo', 'repo']),
      kiban(dir, ['features', 'apply', '--help']),
    ]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('  + featureView user_stats  (v1)');
    expect(plan.stdout).toContain('Plan: 8 to add, 0 to change, 0 to remove, 0 unchanged.');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('kiban features apply --repo examples/features');

    const applied = await kiban(dir, ['features', 'apply', '--repo', 'repo', '--applied-by', 'ci']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Applied: 8 added, 0 changed, 0 removed, 0 unchanged.');
    const again = await kiban(dir, ['features', 'apply', '--repo', 'repo']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes: the registry matches');
    expect(again.stdout).toContain('(8 objects)');
  });

  it('shows a change field by field (text and --json) and refuses an invalid file by line, recording nothing', async () => {
    const dir = await exampleCopy();
    expect((await kiban(dir, ['features', 'apply', '--repo', 'repo'])).code).toBe(0);
    const file = join(dir, 'repo', 'features.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace('ttl: 365d', 'ttl: 30d').replace(/ {2}popularity:\n(.*\n){2}/, ''),
    );
    const [changed, json] = await Promise.all([
      kiban(dir, ['features', 'plan', '--repo', 'repo']),
      kiban(dir, ['features', 'plan', '--repo', 'repo', '--json']),
    ]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('  ~ featureView user_stats  (v1 → v2)');
    expect(changed.stdout).toContain('      ttlSeconds: 31536000 → 2592000');
    expect(changed.stdout).toContain('  - featureService popularity  (was v1)');
    expect(changed.stdout).toContain('Plan: 0 to add, 1 to change, 1 to remove, 6 unchanged.');
    const parsed = JSON.parse(json.stdout) as {
      repo: string;
      changes: { kind: string; name: string; action: string; fields: unknown[] }[];
    };
    expect(parsed.repo).toBe(join(dir, 'repo'));
    expect(
      parsed.changes.find((c) => c.kind === 'featureView' && c.name === 'user_stats'),
    ).toMatchObject({
      action: 'changed',
      fields: [{ field: 'ttlSeconds', before: 31_536_000, after: 2_592_000 }],
    });

    await writeFile(file, text.replace('ttl: 365d', 'ttl: 7x'));
    const bad = await kiban(dir, ['features', 'apply', '--repo', 'repo']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(
      `${join(dir, 'repo', 'features.yaml')}:19: featureViews.user_stats.ttl: "7x" is not a duration (use 30s, 15m, 12h, 7d or seconds)`,
    );
    await writeFile(file, text);
    const back = await kiban(dir, ['features', 'plan', '--repo', 'repo']);
    expect(back.stdout).toContain('No changes');
  });

  it('keeps the registry in PostgreSQL with --metadata', async () => {
    expect(await probePostgres(TEST_POSTGRES_URL), 'PostgreSQL is required').toBeNull();
    const dir = await exampleCopy();
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    const url = postgresUrlForTests(schema);
    const applied = await kiban(dir, ['features', 'apply', '--repo', 'repo', '--metadata', url]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('Applied: 8 added');
    const plan = await kiban(dir, [
      'features',
      'plan',
      '--repo',
      'repo',
      '--metadata',
      url,
      '--json',
    ]);
    const parsed = JSON.parse(plan.stdout) as { changes: { action: string }[] };
    expect(parsed.changes.map((c) => c.action)).toEqual(Array(8).fill('unchanged'));
  });
});
