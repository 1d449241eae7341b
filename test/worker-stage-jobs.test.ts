/**
 * `kiban worker --stage-jobs` (issue 21): a task worker that also takes the partition jobs of
 * stages run with `runner: bullmq`, here submitted by a workflow task of `kind: stage`. Real Redis
 * (database 9, flushed before and after, so no other test's queue is shared) and a `file:`
 * artifact store.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinTaskHandlers } from '../src/app/builtin-task-handlers.js';
import { loadKibanConfig } from '../src/app/config.js';
import { openMetadataStore } from '../src/app/open-stores.js';
import { startWorkerRole, type WorkerRole } from '../src/app/roles/worker.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import { WorkflowEngine } from '../src/workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../src/workflow/executors/inline-executor.js';
import { parseWorkflow } from '../src/workflow/parse-workflow.js';

const REDIS = 'redis://127.0.0.1:6379/9';
const FIXTURE = resolve(import.meta.dirname, 'fixtures/stages/stages.ts');

describe('kiban worker --stage-jobs with a workflow stage task on runner: bullmq', () => {
  let dir: string;
  let metadata: MetadataStore;
  let worker: WorkerRole;
  let redis: Redis;
  const engines: WorkflowEngine[] = [];
  const engineWith = (options: { redisUrl?: string; artifactsUrl?: string }): WorkflowEngine => {
    const url = `sqlite:${join(dir, 'meta.db')}`;
    const engine = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({
        logs: metadata.workflows,
        handlers: builtinTaskHandlers({ metadataUrl: url, ...options }),
      }),
      workRoot: join(dir, 'work'),
    });
    engines.push(engine);
    return engine;
  };
  const workflow = (name: string) =>
    parseWorkflow(
      `name: ${name}
tasks:
  count:
    kind: stage
    module: ${FIXTURE}
    export: wordCount
    params: { source: "jsonl:${join(dir, 'posts')}", sink: "jsonl:${join(dir, name)}", runner: bullmq, numPreprocessors: 2, count: 2 }
`,
      join(dir, `${name}.yaml`),
      builtinTaskHandlers(),
    );

  beforeAll(async () => {
    redis = new Redis(REDIS);
    await redis.flushdb();
    dir = await mkdtemp(join(tmpdir(), 'kiban-stage-jobs-'));
    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    await mkdir(join(dir, 'posts'));
    await writeFile(
      join(dir, 'posts', 'a.jsonl'),
      '{"id":1,"text":"red fox"}\n{"id":2,"text":"red dog"}\n',
    );
    await writeFile(join(dir, 'posts', 'b.jsonl'), '{"id":3,"text":"blue fox"}\n');
    const config = await loadKibanConfig({
      env: {},
      flags: [
        { key: 'executor.redis', value: REDIS, flag: '--redis' },
        { key: 'stores.metadata', value: `sqlite:${join(dir, 'meta.db')}`, flag: '--metadata' },
        { key: 'stores.artifacts', value: `file:${join(dir, 'artifacts')}`, flag: '--artifacts' },
      ],
    });
    worker = await startWorkerRole(config, {
      concurrency: 1,
      lockDurationMs: 10_000,
      stalledIntervalMs: 2_500,
      shutdownGraceMs: 1_000,
      stageJobs: { concurrency: 2 },
    });
  });
  afterAll(async () => {
    for (const engine of engines) await engine.close();
    await worker?.close();
    await metadata?.close();
    await redis.flushdb();
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the stage on the worker and writes the whole count to the sink', async () => {
    const engine = engineWith({ redisUrl: REDIS, artifactsUrl: `file:${join(dir, 'artifacts')}` });
    const run = (await engine.createRun(workflow('words'), { trigger: 'manual' }))!;
    const done = await engine.runToEnd(run.id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const [task] = await metadata.workflows.getTasks(run.id);
    expect(task.output).toMatchObject({ stage: 'word-count', runner: 'bullmq', read: 3 });
    const files = (await readdir(join(dir, 'words'))).filter((f) => f.endsWith('.jsonl'));
    const merged = new Map<string, number>();
    for (const f of files)
      for (const line of (await readFile(join(dir, 'words', f), 'utf8')).trim().split('\n')) {
        const { word, count } = JSON.parse(line) as { word: string; count: number };
        merged.set(word, (merged.get(word) ?? 0) + count);
      }
    expect(Object.fromEntries(merged)).toEqual({ red: 2, fox: 2, dog: 1, blue: 1 });
  });

  it('fails a bullmq stage task on an engine without a BullMQ executor, saying what it needs', async () => {
    const engine = engineWith({});
    const done = await engine.runToEnd(
      (await engine.createRun(workflow('nowhere'), { trigger: 'manual' }))!.id,
    );
    expect(done.status).toBe('failed');
    expect(done.error).toContain('params.runner');
    expect(done.error).toContain('engine has no BullMQ executor');
  });

  it('refuses --stage-jobs with a plain artifacts directory, naming stores.artifacts', async () => {
    const config = await loadKibanConfig({
      env: {},
      flags: [
        { key: 'executor.redis', value: REDIS, flag: '--redis' },
        { key: 'stores.metadata', value: `sqlite:${join(dir, 'meta2.db')}`, flag: '--metadata' },
        { key: 'stores.artifacts', value: join(dir, 'plain'), flag: '--artifacts' },
      ],
    });
    await expect(
      startWorkerRole(config, {
        concurrency: 1,
        lockDurationMs: 10_000,
        stalledIntervalMs: 2_500,
        shutdownGraceMs: 1_000,
        stageJobs: { concurrency: 1 },
      }),
    ).rejects.toThrow(/stores\.artifacts.*must be a file: or s3:\/\/ URL/);
  });
});
