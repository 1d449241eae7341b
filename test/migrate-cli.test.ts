import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { metadataMigrations } from '../src/storage/metadata-migrations.js';
import {
  dropSchemas,
  IN_CI,
  postgresUrlForTests,
  probePostgres,
  TEST_POSTGRES_URL,
} from './fixtures/postgres.js';

const MAIN = resolve('src/cli/main.ts');
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const ALL = Object.keys(metadataMigrations()).sort();
const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

function kiban(
  cwd: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
    if (extraEnv.KIBAN_STORES_METADATA === undefined) delete env.KIBAN_STORES_METADATA;
    delete env.KIBAN_METADATA_URL;
    execFile(
      process.execPath,
      ['--import', TSX, MAIN, ...args],
      { cwd, env },
      (error, stdout, stderr) =>
        done({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
  });
}

/** The migration names a run printed as applied. */
const appliedBy = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('applied '))
    .map((line) => line.slice('applied '.length));

/** Three concurrent `kiban migrate` runs against one fresh store, then a fourth. */
async function migrateConcurrently(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  const runs = await Promise.all([1, 2, 3].map(() => kiban(cwd, ['migrate', ...args], env)));
  for (const run of runs) expect(run.code, run.stderr).toBe(0);
  // Each migration applied by exactly one of them, the others finding it done.
  const applied = runs.flatMap((run) => appliedBy(run.stdout));
  expect(applied.sort()).toEqual(ALL);
  expect(runs.map((run) => run.stdout).join('')).toContain(`latest ${ALL[ALL.length - 1]}`);

  const again = await kiban(cwd, ['migrate', ...args], env);
  expect(again.code, again.stderr).toBe(0);
  expect(appliedBy(again.stdout)).toEqual([]);
  expect(again.stdout).toContain(`metadata store already up to date (${ALL.length} migrations`);
}

const schema = `migrate_cli_${process.pid}`;

describe('kiban migrate', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    if (postgresProblem === null) await dropSchemas([schema]);
  });

  it('migrates a fresh SQLite file once, in order, even when three run at once; again it applies nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-migrate-'));
    dirs.push(dir);
    const first = await kiban(dir, ['migrate', '--metadata', 'sqlite:one/meta.db']);
    expect(first.code, first.stderr).toBe(0);
    expect(appliedBy(first.stdout)).toEqual(ALL);

    await migrateConcurrently(dir, ['--metadata', 'sqlite:many/meta.db']);
  });

  it('reads the store from KIBAN_STORES_METADATA; an unknown scheme exits 2 naming the variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-migrate-'));
    dirs.push(dir);
    const fromEnv = await kiban(dir, ['migrate'], { KIBAN_STORES_METADATA: 'sqlite:env/meta.db' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect(appliedBy(fromEnv.stdout)).toEqual(ALL);

    const bad = await kiban(dir, ['migrate'], { KIBAN_STORES_METADATA: 'mysql://db/kiban' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('KIBAN_STORES_METADATA');
    expect(bad.stderr).toContain('is not a metadata store URL');
  });

  const describePostgres = postgresProblem !== null && !IN_CI ? describe.skip : describe;
  describePostgres('on PostgreSQL', () => {
    it('three concurrent runs apply each migration once; a fourth applies nothing', async () => {
      expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required in CI`).toBeNull();
      const dir = await mkdtemp(join(tmpdir(), 'kiban-migrate-'));
      dirs.push(dir);
      await migrateConcurrently(dir, ['--metadata', postgresUrlForTests(schema)]);
    });
  });
});
