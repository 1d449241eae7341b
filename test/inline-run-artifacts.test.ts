import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { createLogger } from '../src/core/log.js';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import { openMetadataStore } from '../src/app/open-stores.js';
import { startSchedulerRole } from '../src/app/roles/scheduler.js';
import type { SchedulerEvent } from '../src/workflow/engine/scheduler.js';
import { runWorkDir } from '../src/workflow/engine/task-job.js';
import type { WorkflowRun } from '../src/workflow/workflow-store.js';

const exec = promisify(execFile);
const MAIN = resolve('src/cli/main.ts');

/**
 * The inline executor hands a run's work files through `stores.artifacts` when it is a store URL,
 * as a `kiban worker` does: from the scheduler role and from `kiban workflow run --artifacts`.
 * The pipeline tasks then leave nothing in the run's work directory, the run's files are in the
 * store under `runs/<runId>/`, and the model under `models/<id>/`.
 */
describe('inline runs with a file: artifact store', { timeout: 240_000 }, () => {
  let dir: string;
  let storeUrl: string;
  let metaUrl: string;

  /** A pipeline workflow saving its model in the store; `schedule` a cron line or none. */
  const workflow = (name: string, schedule?: string): string =>
    [
      `name: ${name}`,
      ...(schedule === undefined
        ? []
        : [
            `schedule: { cron: "${schedule}", timezone: UTC, catchUp: skip }`,
            'notify: { on: [success, failure] }',
          ]),
      'tasks:',
      '  aggregate: { kind: aggregate }',
      `  train: { kind: train, needs: [aggregate], params: { kind: popularity, stores: { artifacts: "${storeUrl}" } } }`,
      '  candidates: { kind: candidates, needs: [train], params: { users: 3, related: 2, popular: 4 } }',
      `  publish: { kind: publish, needs: [candidates], params: { stores: { serving: "sqlite:${join(dir, `${name}-serving.db`)}" } } }`,
      '',
    ].join('\n');

  /** What the run left: its tasks' states, the model's and the run's keys in the store, the work directory's files. */
  async function outcome(
    runId: string,
    workRoot: string,
  ): Promise<{ tasks: string[]; modelKeys: number; runFiles: string[]; workFiles: string[] }> {
    const metadata = await openMetadataStore(metaUrl);
    const store = await openArtifactStore(storeUrl);
    try {
      const tasks = await metadata.workflows.getTasks(runId);
      const modelId = String(tasks.find((t) => t.task === 'train')?.output.modelId);
      const workDir = runWorkDir(workRoot, runId);
      return {
        tasks: tasks.map((t) => `${t.task}:${t.status}`).sort(),
        modelKeys: (await store.list(`models/${modelId}/`)).length,
        runFiles: (await store.list(`runs/${runId}/`)).map((o) =>
          o.key.slice(`runs/${runId}/`.length),
        ),
        workFiles: await filesBelow(workDir),
      };
    } finally {
      await store.close();
      await metadata.close();
    }
  }

  const expectStored = (o: Awaited<ReturnType<typeof outcome>>): void => {
    expect(o.tasks).toEqual(
      ['aggregate', 'candidates', 'publish', 'train'].map((t) => `${t}:succeeded`),
    );
    expect(o.modelKeys).toBeGreaterThan(0);
    expect(o.runFiles).toEqual(
      expect.arrayContaining(['interactions.parquet', 'model.json', 'candidates/manifest.json']),
    );
    expect(o.workFiles).toEqual([]);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-inline-artifacts-'));
    storeUrl = `file:${join(dir, 'store')}`;
    metaUrl = `sqlite:${join(dir, 'meta.db')}`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the scheduler role with the inline executor passes stores.artifacts to its tasks, and notifies through its logger', async () => {
    const workflows = join(dir, 'workflows');
    await mkdir(workflows);
    // One firing, a few seconds from now (a whole year before the next).
    const at = new Date(Date.now() + 4000);
    const cron = `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} *`;
    await writeFile(join(workflows, 'by-key.yaml'), workflow('by-key', cron));
    const workRoot = join(dir, 'scheduler-work');
    const config = await loadKibanConfig({
      env: {},
      flags: [
        { key: 'stores.metadata', value: metaUrl, flag: '--metadata' },
        { key: 'stores.work', value: workRoot, flag: '--work-dir' },
        { key: 'stores.artifacts', value: storeUrl, flag: '--artifacts' },
      ],
    });
    let runId: string | undefined;
    const lines: string[] = [];
    const role = await startSchedulerRole(config, {
      workflowsDir: workflows,
      scanMs: 60_000,
      logger: createLogger({ level: 'info', destination: { write: (l: string) => lines.push(l) } }),
      onSchedulerEvent: (e: SchedulerEvent) => {
        if (e.type === 'started') runId ??= e.runId;
      },
    });
    const running = role.run();
    const metadata = await openMetadataStore(metaUrl);
    let run: WorkflowRun | null = null;
    try {
      // Poll the run's state; the test's timeout bounds the wait.
      for (;;) {
        run = runId === undefined ? null : await metadata.workflows.getRun(runId);
        if (run !== null && run.status !== 'running') break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await metadata.close();
      await role.close();
      await running;
    }
    expect(run.status).toBe('succeeded');
    expectStored(await outcome(run.id, workRoot));
    // The run's notification is a structured entry of the role's logger, under `notifier`.
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        component: 'notifier',
        event: 'run-succeeded',
        runId: run.id,
        workflow: 'by-key',
      }),
    );
  });

  it('kiban workflow run --artifacts does the same inline', async () => {
    const file = join(dir, 'cli-by-key.yaml');
    await writeFile(file, workflow('cli-by-key'));
    const workRoot = join(dir, 'cli-work');
    const { stdout } = await exec(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'workflow',
        'run',
        file,
        '--metadata',
        metaUrl,
        '--work-dir',
        workRoot,
        '--artifacts',
        storeUrl,
        '--json',
      ],
      { maxBuffer: 1 << 24 },
    );
    const run = JSON.parse(stdout.trim().split('\n').at(-1)!) as { id: string; status: string };
    expect(run.status).toBe('succeeded');
    expectStored(await outcome(run.id, workRoot));
  });
});

/** Every file below `dir` (none when it does not exist), relative to it. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}
