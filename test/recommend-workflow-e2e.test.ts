import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../src/app/builtin-task-handlers.js';
import { openMetadataStore, openServingStore } from '../src/app/open-stores.js';
import { createServingApp } from '../src/serving/create-app.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import { WorkflowCatalog } from '../src/workflow/engine/workflow-catalog.js';
import { WorkflowEngine } from '../src/workflow/engine/workflow-engine.js';
import { WorkflowScheduler, type SchedulerEvent } from '../src/workflow/engine/scheduler.js';
import { BullmqExecutor } from '../src/workflow/executors/bullmq-executor.js';
import { TEST_REDIS_URL } from './fixtures/redis-available.js';

const exec = promisify(execFile);
const MAIN = resolve('src/cli/main.ts');
const RECOMMEND = resolve('examples/workflows/recommend.yaml');

/**
 * The shipped nightly workflow, end to end on the bundled events: from the CLI on the inline
 * executor, and on a schedule with its tasks on a `kiban worker` process through BullMQ, the
 * second run then read back through the dashboard's API. The popularity model keeps it fast;
 * the steps are the same for every model.
 */
describe('examples/workflows/recommend.yaml', { timeout: 300_000 }, () => {
  let dir: string;
  let meta: string;
  let metadata: MetadataStore;
  const serving = (name: string): string => `sqlite:${join(dir, `${name}.db`)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-recommend-'));
    meta = `sqlite:${join(dir, 'meta.db')}`;
    metadata = await openMetadataStore(meta);
  });
  afterAll(async () => {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs from the CLI inline: every step succeeds, the model is recorded and the lists are served', async () => {
    const { stdout } = await exec(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'workflow',
        'run',
        RECOMMEND,
        '-p',
        'model=popularity',
        '-p',
        `serving=${serving('inline')}`,
        '-p',
        `models=${join(dir, 'models')}`,
        '--metadata',
        meta,
        '--work-dir',
        join(dir, 'work'),
        '--json',
      ],
      { maxBuffer: 1 << 24 },
    );
    const run = JSON.parse(stdout.trim().split('\n').at(-1)!) as { id: string; status: string };
    expect(run.status).toBe('succeeded');
    const tasks = await metadata.workflows.getTasks(run.id);
    expect(tasks.map((t) => `${t.task}:${t.status}`)).toEqual(
      ['aggregate', 'evaluate', 'train', 'candidates', 'publish', 'report'].map(
        (t) => `${t}:succeeded`,
      ),
    );
    const train = tasks.find((t) => t.task === 'train')!;
    const model = await metadata.getModel(String(train.output.modelId));
    expect(model?.kind).toBe('popularity');
    expect(model?.metrics['ndcg@10']).toBeGreaterThan(0.02);
    const store = await openServingStore(serving('inline'));
    const current = await store.currentVersion();
    expect(current?.meta.runId).toBe(run.id);
    expect((await store.getList('popular', 'all'))?.length).toBeGreaterThan(10);
    await store.close();
    const report = await metadata.workflows.readLogs(run.id, 'report');
    expect(report[0].line).toMatch(
      new RegExp(
        `^published recommend for \\d{4}-\\d{2}-\\d{2}T00:00:00\\.000Z \\(run ${run.id}\\)$`,
      ),
    );
  });

  it('runs on a schedule with its tasks on a kiban worker (BullMQ), and the run shows in the dashboard API', async () => {
    const workflows = join(dir, 'workflows');
    await exec('mkdir', ['-p', workflows]);
    // The shipped file, firing every 5 seconds instead of nightly.
    const yaml = (await readFile(RECOMMEND, 'utf8'))
      .replace('cron: "0 3 * * *"', 'cron: "*/5 * * * * *"')
      .replace('model: als', 'model: popularity')
      .replace('serving: sqlite:.kiban/serving.db', `serving: "${serving('scheduled')}"`)
      .replace('models: .kiban/models', `models: "${join(dir, 'models')}"`);
    await writeFile(join(workflows, 'recommend.yaml'), yaml);
    const queue = `kiban-e2e-${process.pid}`;
    const worker: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'worker',
        '--redis',
        TEST_REDIS_URL,
        '--queue',
        queue,
        '--metadata',
        meta,
        '--id',
        'e2e-worker',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
    const engine = new WorkflowEngine({
      store: metadata.workflows,
      executor,
      catalog: new WorkflowCatalog({ dir: workflows, handlers: builtinTaskHandlers() }),
      workRoot: join(dir, 'work'),
    });
    const events: SchedulerEvent[] = [];
    let started: (runId: string) => void = () => {};
    const first = new Promise<string>((r) => (started = r));
    const scheduler = new WorkflowScheduler(
      engine,
      new WorkflowCatalog({ dir: workflows, handlers: builtinTaskHandlers() }),
      {
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'started') started(e.runId);
        },
      },
    );
    try {
      await new Promise<void>((ready, fail) => {
        worker.stdout!.on(
          'data',
          (d: Buffer) => d.toString().includes('is taking tasks') && ready(),
        );
        worker.once('exit', (code) => fail(new Error(`worker exited with ${code}`)));
      });
      void scheduler.start();
      const runId = await first;
      await scheduler.stop(); // one scheduled run is enough; it goes on without the scheduler
      const run = await engine.runToEnd(runId);
      expect(run.status, run.error ?? '').toBe('succeeded');
      expect(run.trigger).toBe('schedule');
      expect(Date.parse(run.logicalDate) % 5000).toBe(0);
      const attempts = await metadata.workflows.listAttempts(runId);
      expect(new Set(attempts.map((a) => a.worker))).toEqual(new Set(['e2e-worker']));

      const published = await openServingStore(serving('scheduled'));
      const app = createServingApp({
        serving: published,
        metadata,
        workflows: engine,
        webRoot: false,
      });
      const shown = await app.inject({ url: `/v1/runs/${encodeURIComponent(runId)}` });
      expect(shown.statusCode).toBe(200);
      const body = shown.json() as {
        run: { status: string };
        tasks: { task: string; status: string }[];
      };
      expect(body.run.status).toBe('succeeded');
      expect(body.tasks.every((t) => t.status === 'succeeded')).toBe(true);
      const listed = (await app.inject({ url: '/v1/workflows' })).json() as {
        workflows: { name: string; lastRun: { id: string } | null }[];
      };
      expect(listed.workflows.find((w) => w.name === 'recommend')?.lastRun?.id).toBe(runId);
      const recs = await app.inject({ url: '/v1/users/1/recommendations?k=5' });
      expect(recs.statusCode).toBe(200);
      expect((recs.json() as { items: unknown[] }).items).toHaveLength(5);
      await app.close();
      await published.close();
    } finally {
      await scheduler.stop();
      await engine.close();
      await executor.close();
      worker.kill('SIGTERM');
      await new Promise((r) => (worker.exitCode === null ? worker.once('exit', r) : r(null)));
    }
  });
});
