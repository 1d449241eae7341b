import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import { openMetadataStore, openServingStore } from '../src/app/open-stores.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import type { WorkflowRun } from '../src/workflow/workflow-store.js';
import { dropSchemas, postgresUrlForTests } from './fixtures/postgres.js';
import { TEST_REDIS_URL } from './fixtures/redis-available.js';
import { startS3Server, type TestS3Server } from './fixtures/s3-server.js';

const MAIN = resolve('src/cli/main.ts');
// The children run in their own directories, where the bare specifier `tsx` would not resolve.
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const RECOMMEND = resolve('examples/workflows/recommend.yaml');

/** The last `n` characters of `text`, marked when cut. */
const tail = (text: string, n = 4000): string => (text.length <= n ? text : `…${text.slice(-n)}`);

/** Every file below `dir`, relative to it. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/**
 * "Done means" of issue 16: `kiban serve`, `kiban worker` and `kiban scheduler` as three CLI
 * processes in three working directories that share only Redis (serving store and BullMQ),
 * PostgreSQL (metadata) and an S3 bucket (artifacts: the model and the run's work files). The
 * scheduler starts the nightly recommend workflow, the worker runs every task, and the server
 * answers from the version it published. No process sees another's disk.
 */
describe('three hosts: serve, worker and scheduler share only Redis, PostgreSQL and S3', {
  timeout: 300_000,
}, () => {
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const schema = `kiban_test_hosts_${tag}`;
  const metadataUrl = postgresUrlForTests(schema);
  const servingUrl = `${TEST_REDIS_URL}?prefix=kiban-hosts-${tag}:`;
  const queue = `kiban-hosts-${tag}`;
  let s3: TestS3Server;
  let artifactsUrl: string;
  let root: string;
  let metadata: MetadataStore;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    s3 = await startS3Server();
    artifactsUrl = `s3://${s3.bucket}/hosts-${tag}?endpoint=${s3.endpoint}`;
    root = await mkdtemp(join(tmpdir(), 'kiban-hosts-'));
    metadata = await openMetadataStore(metadataUrl);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) =>
            c.exitCode === null && c.signalCode === null ? c.once('exit', r) : r(null),
          ),
      ),
    );
    await metadata?.close();
    await dropSchemas([schema]).catch(() => undefined);
    await s3?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Starts `kiban ARGS` in `cwd` with the shared stores in its environment; resolves with the process once `ready` is printed. */
  async function start(
    name: string,
    args: string[],
    ready: RegExp,
  ): Promise<{ child: ChildProcess; output: () => string }> {
    const cwd = join(root, name);
    await mkdir(cwd, { recursive: true });
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KIBAN_STORES_SERVING: servingUrl,
        KIBAN_STORES_METADATA: metadataUrl,
        KIBAN_STORES_ARTIFACTS: artifactsUrl,
        KIBAN_METADATA_URL: metadataUrl,
        KIBAN_REDIS_URL: TEST_REDIS_URL,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
      },
    });
    children.push(child);
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    // Bounded short of the test's timeout, so that a process that never gets ready fails with what it said.
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`kiban ${name} did not print ${ready} within 120 s:\n${tail(text)}`)),
        120_000,
      );
      const check = (): void => {
        if (!ready.test(text)) return;
        clearTimeout(timer);
        ok();
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`kiban ${name} exited with ${code}:\n${tail(text)}`));
      });
    });
    return { child, output: () => text };
  }

  /** Runs, their tasks and the three processes' output: what a failed or stuck run needs to be understood. */
  async function diagnostics(
    procs: Record<string, { output: () => string } | undefined>,
  ): Promise<string> {
    const lines: string[] = [];
    try {
      for (const run of await metadata.workflows.listRuns({ workflow: 'recommend' })) {
        lines.push(
          `run ${run.id} ${run.status} (${run.trigger} ${run.logicalDate})${run.error === null ? '' : `: ${run.error}`}`,
        );
        for (const t of await metadata.workflows.getTasks(run.id)) {
          lines.push(
            `  ${t.task}: ${t.status}, attempt ${t.attempt}${t.error === null ? '' : `: ${t.error}`}`,
          );
        }
      }
    } catch (error) {
      lines.push(`cannot list runs: ${(error as Error).message}`);
    }
    if (lines.length === 0) lines.push('no recommend run in the metadata store');
    for (const [name, proc] of Object.entries(procs))
      lines.push(`--- ${name} output:`, proc === undefined ? '(not started)' : tail(proc.output()));
    return lines.join('\n');
  }

  it('runs the scheduled recommend workflow on the worker and the server answers from what it published', async () => {
    // The scheduler's own directory holds the workflow: the shipped file, with the popularity
    // model, publishing to the shared Redis and saving models to the shared bucket. Its schedule
    // fires every 2 seconds and is turned off (the file rewritten without it) once a run exists,
    // so that a run or two share the single worker rather than a new one every few seconds.
    const workflows = join(root, 'scheduler', 'workflows');
    await mkdir(workflows, { recursive: true });
    const shipped = await readFile(RECOMMEND, 'utf8');
    expect(shipped).toContain(
      'schedule: { cron: "0 3 * * *", timezone: Asia/Tokyo, catchUp: skip }',
    );
    const yaml = shipped
      .replace('model: als', 'model: popularity')
      .replace('serving: sqlite:.kiban/serving.db', `serving: "${servingUrl}"`)
      .replace('models: .kiban/models', `models: "${artifactsUrl}"`);
    await writeFile(
      join(workflows, 'recommend.yaml'),
      yaml.replace('cron: "0 3 * * *"', 'cron: "*/2 * * * * *"'),
    );

    const procs: Record<string, { child: ChildProcess; output: () => string } | undefined> = {
      worker: undefined,
      server: undefined,
      scheduler: undefined,
    };
    const worker = (procs.worker = await start(
      'worker',
      ['worker', '--queue', queue, '--id', `hosts-worker-${tag}`],
      /is taking tasks/,
    ));
    const server = (procs.server = await start(
      'server',
      ['serve', '--port', '0'],
      /kiban is serving on (http:\/\/\S+)/,
    ));
    const base = /kiban is serving on (http:\/\/\S+)/.exec(server.output())![1];
    const scheduler = (procs.scheduler = await start(
      'scheduler',
      [
        'scheduler',
        '--executor',
        'bullmq',
        '--queue',
        queue,
        '--workflows',
        'workflows',
        '--scan',
        '1',
      ],
      /watching/,
    ));

    // The first scheduled run, polled to its end in the shared metadata store; the test's own
    // timeout bounds the wait, and a stop short of it fails with what the processes said.
    const deadline = Date.now() + 270_000;
    let turnedOff = false;
    let run: WorkflowRun | null = null;
    for (;;) {
      const runs = await metadata.workflows.listRuns({ workflow: 'recommend' });
      const first = runs
        .filter((r) => r.trigger === 'schedule')
        .sort((a, b) => a.logicalDate.localeCompare(b.logicalDate))[0];
      if (first !== undefined && !turnedOff) {
        await writeFile(join(workflows, 'recommend.yaml'), yaml.replace(/^schedule: .*\n/m, ''));
        turnedOff = true;
      }
      run = first === undefined ? null : await metadata.workflows.getRun(first.id);
      if (run !== null && ['succeeded', 'failed', 'cancelled'].includes(run.status)) break;
      for (const [name, proc] of Object.entries(procs)) {
        if (proc!.child.exitCode !== null || proc!.child.signalCode !== null)
          throw new Error(
            `kiban ${name} exited (${proc!.child.exitCode ?? proc!.child.signalCode})\n${await diagnostics(procs)}`,
          );
      }
      if (Date.now() > deadline)
        throw new Error(`the first scheduled run did not finish\n${await diagnostics(procs)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(scheduler.child.exitCode, 'the scheduler is still running').toBeNull();
    expect(run.status, await diagnostics(procs)).toBe('succeeded');
    const attempts = await metadata.workflows.listAttempts(run.id);
    expect(new Set(attempts.map((a) => a.worker)), await diagnostics(procs)).toEqual(
      new Set([`hosts-worker-${tag}`]),
    );
    expect(scheduler.output(), 'the scheduler started the run').toContain(
      `started run ${run.id} of recommend`,
    );

    // The model is in the bucket by key, and the metadata records that key, not a path.
    const tasks = await metadata.workflows.getTasks(run.id);
    const modelId = String(tasks.find((t) => t.task === 'train')!.output.modelId);
    const model = await metadata.getModel(modelId);
    expect(model?.artifactPath).toBe(`models/${modelId}`);
    const bucket = await openArtifactStore(artifactsUrl, { credentials: s3.credentials });
    try {
      expect((await bucket.list(`models/${modelId}/`)).length).toBeGreaterThan(0);
      const runFiles = (await bucket.list(`runs/${run.id}/`)).map((o) =>
        o.key.slice(`runs/${run.id}/`.length),
      );
      expect(runFiles).toContain('interactions.parquet');
      expect(runFiles).toContain('model.json');
      expect(runFiles).toContain('candidates/manifest.json');
    } finally {
      await bucket.close();
    }

    // The server answers from the published version (a later scheduled run may have replaced it).
    const serving = await openServingStore(servingUrl);
    try {
      const current = await serving.currentVersion();
      expect(current).not.toBeNull();
      const recs = await fetch(`${base}/v1/users/1/recommendations?k=5`);
      expect(recs.status, tail(server.output())).toBe(200);
      const body = (await recs.json()) as { items: unknown[] };
      expect(body.items).toHaveLength(5);
    } finally {
      await serving.close();
    }
    scheduler.child.kill('SIGTERM');
    expect(worker.child.exitCode).toBeNull();

    // Nothing shared on local disk: neither directory holds a file of the other, nor a model or run file.
    const workerFiles = await filesBelow(join(root, 'worker'));
    const serverFiles = await filesBelow(join(root, 'server'));
    expect(workerFiles.filter((f) => serverFiles.includes(f))).toEqual([]);
    for (const file of [...workerFiles, ...serverFiles])
      expect(file).not.toMatch(/models|runs|\.parquet|candidates/);
  });
});
