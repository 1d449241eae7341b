import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_FIXTURES } from '../../../test/contracts/executor-contract.js';
import { openMetadataStore } from '../../app/open-stores.js';
import { pipelineTaskRunnerRef } from '../../app/pipeline-step-runner.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import { WorkflowEngine } from '../engine/workflow-engine.js';
import { readWorkflowFile } from '../parse-workflow.js';
import { InlineExecutor } from './inline-executor.js';

describe('InlineExecutor with pipelineSteps: module and pipeline tasks off the event loop', { timeout: 120_000 }, () => {
  let dir: string;
  let metadataUrl: string;
  let store: MetadataStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-task-thread-'));
    metadataUrl = `sqlite:${join(dir, 'meta.db')}`;
    store = await openMetadataStore(metadataUrl);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the run heartbeat going while a task computes synchronously', async () => {
    const file = join(dir, 'spin.yaml');
    await writeFile(
      file,
      `name: spin
tasks:
  spin:
    kind: module
    module: ${join(TASK_FIXTURES, 'cpu-tasks.ts')}
    export: spinUntilHeartbeat
    params: { db: ${join(dir, 'meta.db')}, capMs: 20000 }
`,
    );
    const executor = new InlineExecutor({ logs: store.workflows, pipelineSteps: pipelineTaskRunnerRef({ metadataUrl }) });
    const engine = new WorkflowEngine({ store: store.workflows, executor, workRoot: join(dir, 'work'), heartbeatMs: 100 });
    try {
      const run = (await engine.createRun(await readWorkflowFile(file), { trigger: 'manual' }))!;
      const done = await engine.runToEnd(run.id);
      expect(done.status).toBe('succeeded');
      const [task] = await store.workflows.getTasks(run.id);
      expect(task.output).toEqual({ heartbeatAdvanced: true });
    } finally {
      await engine.close();
      await executor.close();
    }
  });

  it('ends a task too busy to see its timeout', async () => {
    const file = join(dir, 'busy.yaml');
    await writeFile(
      file,
      `name: busy
tasks:
  busy:
    kind: module
    module: ${join(TASK_FIXTURES, 'cpu-tasks.ts')}
    export: spin
    timeout: 1s
    params: { ms: 600000, file: ${join(dir, 'busy.starts')} }
`,
    );
    const executor = new InlineExecutor({ logs: store.workflows, pipelineSteps: pipelineTaskRunnerRef({ metadataUrl }) });
    const engine = new WorkflowEngine({ store: store.workflows, executor, workRoot: join(dir, 'work') });
    try {
      const run = (await engine.createRun(await readWorkflowFile(file), { trigger: 'manual' }))!;
      const done = await engine.runToEnd(run.id);
      expect(done.status).toBe('failed');
      const [task] = await store.workflows.getTasks(run.id);
      expect(task.error).toBe('timed out after 1s');
    } finally {
      await engine.close();
      await executor.close();
    }
  });
});
