import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { RedisServingStore } from '../src/storage/redis-serving-store.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-demo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A configuration with every store under the test's own directory (or the given URLs). */
async function config(
  name: string,
  stores: { serving?: string; metadata?: string } = {},
): Promise<string> {
  const path = join(dir, `${name}.yaml`);
  await writeFile(
    path,
    [
      `name: ${name}`,
      'model:',
      '  kind: als',
      '  params: { factors: 32, iterations: 8 }',
      'stores:',
      `  serving: "${stores.serving ?? `sqlite:${join(dir, name, 'serving.db')}`}"`,
      `  metadata: "${stores.metadata ?? `sqlite:${join(dir, name, 'meta.db')}`}"`,
      `  artifacts: ${join(dir, name, 'models')}`,
      `  work: ${join(dir, name, 'work')}`,
      '',
    ].join('\n'),
  );
  return path;
}

describe('kiban demo', () => {
  it('runs the pipeline, serves it over HTTP and shuts down gracefully on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'demo',
        '--config',
        await config('demo'),
        '--port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /kiban is serving on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`demo exited with ${code}: ${stderr}`)));
    });
    try {
      for (const step of ['[1/4] aggregate', '[2/4] train', '[3/4] candidates', '[4/4] publish'])
        expect(stderr).toContain(step);
      const json = async (path: string): Promise<{ status: number; body: any }> => {
        const res = await fetch(`${base}${path}`);
        return { status: res.status, body: await res.json() };
      };
      const recs = await json('/v1/users/1/recommendations?k=5');
      expect(recs.status).toBe(200);
      expect(recs.body.fallback).toBe(false);
      expect(recs.body.items).toHaveLength(5);
      const cold = await json('/v1/users/no-such-user/recommendations?k=3');
      expect(cold.body.fallback).toBe(true);
      expect(cold.body.items).toHaveLength(3);
      // Movie 1 (Toy Story) is in the demo data; related items exclude the item itself.
      const related = await json('/v1/items/1/related?k=5');
      expect(related.status).toBe(200);
      expect(related.body.items.map((i: { id: string }) => i.id)).not.toContain('1');
      expect(related.body.items.every((i: { id: unknown }) => typeof i.id === 'string')).toBe(true);
      expect((await json('/v1/items/0/related')).status).toBe(404);
      // Similar items come from the ALS item vectors the demo published as the `items` index.
      const similar = await json('/v1/items/1/similar?k=5');
      expect(similar.status).toBe(200);
      expect(similar.body.items).toHaveLength(5);
      expect(similar.body.items.map((i: { id: string }) => i.id)).not.toContain('1');
      const models = await json('/v1/models');
      expect(models.body.model).toMatchObject({ kind: 'als', params: { factors: 32 } });
      expect(models.body.model.metrics['ndcg@10']).toBeGreaterThan(0.05);
      expect((await json('/readyz')).status).toBe(200);
      expect((await json('/v1/users/1/recommendations?k=0')).status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('shutting down');
  }, 120_000);

  it('runs with Redis and PostgreSQL named by URL, recording the run and its steps', async () => {
    const prefix = `kiban-test-e2e-${process.pid}:`;
    const schema = `kiban_test_e2e_${process.pid}`;
    const pgUrl = 'postgres://postgres@127.0.0.1:5432/test';
    const cfg = await config('prod', {
      serving: `redis://127.0.0.1:6379?prefix=${prefix}`,
      metadata: `${pgUrl}?schema=${schema}`,
    });
    try {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'pipeline', 'run', '--config', cfg],
        { maxBuffer: 1 << 24 },
      );
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        runId: string;
        modelId: string;
        version: string;
      };
      const redis = new Redis('redis://127.0.0.1:6379');
      expect(await redis.exists(`${prefix}current`)).toBe(1);
      await redis.quit();
      const metadata = KyselyMetadataStore.postgres(pgUrl, { schema });
      // The run is recorded as a run of the built-in recommend workflow.
      const recorded = await metadata.workflows.getRun(result.runId);
      const tasks = await metadata.workflows.getTasks(result.runId);
      await metadata.close();
      expect(recorded).toMatchObject({ status: 'succeeded', workflow: 'recommend' });
      expect(tasks.map((t) => [t.task, t.status])).toEqual([
        ['aggregate', 'succeeded'],
        ['evaluate', 'succeeded'],
        ['train', 'succeeded'],
        ['candidates', 'succeeded'],
        ['publish', 'succeeded'],
      ]);
      expect(tasks[2].output).toMatchObject({ modelId: result.modelId });
      expect(tasks[0].output).toMatchObject({ rowsIn: 150_461, pairs: 100_836 });
    } finally {
      const store = new RedisServingStore('redis://127.0.0.1:6379', { prefix });
      await store.clear();
      await store.close();
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }, 120_000);

  it('names the bad key of a configuration file', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'model:\n  kind: deep-magic\n');
    const error = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'pipeline',
      'run',
      '--config',
      bad,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(2);
    expect((error as { stderr: string }).stderr).toMatch(/config\.model\.kind: Invalid option/);
  });
});
