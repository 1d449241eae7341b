import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TASK_FIXTURES } from '../../../test/contracts/executor-contract.js';
import { useTempMetadata } from '../../../test/fixtures/temp-dir.js';
import { builtinTaskHandlersRef } from '../../app/builtin-task-handlers.js';
import { WorkflowEngine } from '../engine/workflow-engine.js';
import { readWorkflowFile } from '../parse-workflow.js';
import { InlineExecutor } from './inline-executor.js';

const REPO = resolve(import.meta.dirname, '../../..');

describe('InlineExecutor with taskHandlersRef: module and pipeline tasks off the event loop', {
  timeout: 120_000,
}, () => {
  const tmp = useTempMetadata('kiban-task-thread-');

  it('keeps the run heartbeat going while a task computes synchronously', async () => {
    const file = join(tmp.dir, 'spin.yaml');
    await writeFile(
      file,
      `name: spin
tasks:
  spin:
    kind: module
    module: ${join(TASK_FIXTURES, 'cpu-tasks.ts')}
    export: spinUntilHeartbeat
    params: { db: ${join(tmp.dir, 'meta.db')}, capMs: 20000 }
`,
    );
    const executor = new InlineExecutor({
      logs: tmp.store.workflows,
      taskHandlersRef: builtinTaskHandlersRef({ metadataUrl: tmp.metadataUrl }),
    });
    const engine = new WorkflowEngine({
      store: tmp.store.workflows,
      executor,
      workRoot: join(tmp.dir, 'work'),
      heartbeatMs: 100,
    });
    try {
      const run = (await engine.createRun(await readWorkflowFile(file), { trigger: 'manual' }))!;
      const done = await engine.runToEnd(run.id);
      expect(done.status).toBe('succeeded');
      const [task] = await tmp.store.workflows.getTasks(run.id);
      expect(task.output).toEqual({ heartbeatAdvanced: true });
    } finally {
      await engine.close();
      await executor.close();
    }
  });

  it('ends a task too busy to see its timeout', async () => {
    const file = join(tmp.dir, 'busy.yaml');
    await writeFile(
      file,
      `name: busy
tasks:
  busy:
    kind: module
    module: ${join(TASK_FIXTURES, 'cpu-tasks.ts')}
    export: spin
    timeout: 1s
    params: { ms: 600000, file: ${join(tmp.dir, 'busy.starts')} }
`,
    );
    const executor = new InlineExecutor({
      logs: tmp.store.workflows,
      taskHandlersRef: builtinTaskHandlersRef({ metadataUrl: tmp.metadataUrl }),
    });
    const engine = new WorkflowEngine({
      store: tmp.store.workflows,
      executor,
      workRoot: join(tmp.dir, 'work'),
    });
    try {
      const run = (await engine.createRun(await readWorkflowFile(file), { trigger: 'manual' }))!;
      const done = await engine.runToEnd(run.id);
      expect(done.status).toBe('failed');
      const [task] = await tmp.store.workflows.getTasks(run.id);
      expect(task.error).toBe('timed out after 1s');
    } finally {
      await engine.close();
      await executor.close();
    }
  });
});

describe('task thread start-up', () => {
  it('loads neither zod nor pino up front (a worker starts a thread per task)', async () => {
    // zod (ESM) registers a global registry when it loads; pino (CommonJS) enters the require cache.
    const probe = `
      import { createRequire } from 'node:module';
      await import('./src/workflow/executors/task-thread-worker.ts');
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({
        zod: globalThis.__zod_globalRegistry !== undefined,
        pino: cache.some((path) => path.includes('/node_modules/pino/')),
      }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe],
      { cwd: REPO },
    );
    expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({
      zod: false,
      pino: false,
    });
  });
});
