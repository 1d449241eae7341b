import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore } from '../../app/open-stores.js';
import { ConflictError, InvalidArgumentError } from '../../core/errors.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import { InlineExecutor } from '../executors/inline-executor.js';
import type { Notifier, WorkflowEvent } from '../notifiers/notifier.js';
import { parseWorkflow } from '../parse-workflow.js';
import { IN_PROCESS_SOURCE_PREFIX, type WorkflowDefinition } from '../workflow-definition.js';
import { WorkflowCatalog } from './workflow-catalog.js';
import { WorkflowEngine } from './workflow-engine.js';

/** Keeps every event it is given; `fail` makes it reject like a notifier whose endpoint is down. */
class RecordingNotifier implements Notifier {
  readonly events: WorkflowEvent[] = [];
  constructor(
    readonly name: string,
    private readonly fail = false,
  ) {}
  async notify(event: WorkflowEvent): Promise<void> {
    this.events.push(event);
    if (this.fail) throw new Error(`${this.name} is down`);
  }
}

describe('WorkflowEngine (inline executor, SQLite metadata store)', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  const notes = new RecordingNotifier('recorder');
  const broken = new RecordingNotifier('broken', true);

  const workflow = async (name: string, yaml: string): Promise<WorkflowDefinition> => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, yaml);
    return parseWorkflow(yaml, file);
  };
  const run = async (
    wf: WorkflowDefinition,
    options: { logicalDate?: string; params?: Record<string, string | number | boolean> } = {},
  ) => {
    const created = (await engine.createRun(wf, { trigger: 'manual', ...options }))!;
    return engine.runToEnd(created.id);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-engine-'));
    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    const executor = new InlineExecutor({ logs: metadata.workflows, killGraceMs: 200 });
    engine = new WorkflowEngine({
      store: metadata.workflows,
      executor,
      catalog: new WorkflowCatalog({ dir }),
      workRoot: join(dir, 'work'),
      notifiers: [notes, broken],
      runUrl: (id) => `http://dashboard/runs/${id}`,
      heartbeatMs: 200,
    });
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs tasks in dependency order with parameters substituted and their output logged', async () => {
    const wf = await workflow(
      'minimal',
      `name: minimal
params: { greeting: hello, n: 3 }
tasks:
  first: { run: "echo $KIBAN_PARAM_GREETING $KIBAN_LOGICAL_DATE > $KIBAN_WORK_DIR/first.txt; echo wrote" }
  second: { run: "cat $KIBAN_WORK_DIR/first.txt; echo n=$KIBAN_PARAM_N attempt=$KIBAN_ATTEMPT", needs: [first] }
  third: { run: "echo third", needs: [first] }
  last: { run: "echo done", needs: [second, third] }
`,
    );
    const done = await run(wf, { logicalDate: '2026-11-24', params: { greeting: 'hi' } });
    expect(done.status).toBe('succeeded');
    expect(done.owner).toBeNull();
    const tasks = await metadata.workflows.getTasks(done.id);
    expect(tasks.map((t) => [t.task, t.status, t.attempt])).toEqual([
      ['first', 'succeeded', 1],
      ['second', 'succeeded', 1],
      ['third', 'succeeded', 1],
      ['last', 'succeeded', 1],
    ]);
    // `last` started only after both of its needs finished.
    const byName = new Map(tasks.map((t) => [t.task, t]));
    expect(byName.get('last')!.startedAt!.getTime()).toBeGreaterThanOrEqual(
      byName.get('second')!.finishedAt!.getTime(),
    );
    expect(byName.get('last')!.startedAt!.getTime()).toBeGreaterThanOrEqual(
      byName.get('third')!.finishedAt!.getTime(),
    );
    const lines = (await metadata.workflows.readLogs(done.id, 'second')).map((l) => l.line);
    expect(lines).toEqual(['hi 2026-11-24T00:00:00.000Z', 'n=3 attempt=1']);
  });

  it('retries a failing task with backoff and succeeds on a later attempt', async () => {
    const wf = await workflow(
      'flaky',
      `name: flaky
tasks:
  flaky:
    run: "n=$(cat $KIBAN_WORK_DIR/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > $KIBAN_WORK_DIR/count; [ $n -ge 3 ] || { echo try $n failed >&2; exit 1; }"
    retry: { count: 2, backoff: 200ms }
`,
    );
    const t0 = Date.now();
    const done = await run(wf);
    expect(done.status).toBe('succeeded');
    // Two backoffs: 200 ms, then 400 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
    const attempts = await metadata.workflows.listAttempts(done.id, 'flaky');
    expect(attempts.map((a) => a.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(attempts[0].error).toContain('try 1 failed');
    expect(
      attempts[1].startedAt.getTime() - attempts[0].finishedAt!.getTime(),
    ).toBeGreaterThanOrEqual(190);
    expect(
      attempts[2].startedAt.getTime() - attempts[1].finishedAt!.getTime(),
    ).toBeGreaterThanOrEqual(390);
  });

  it('fails the run once retries are spent, skips what depended on it, notifies, and a broken notifier changes nothing', async () => {
    notes.events.length = 0;
    const wf = await workflow(
      'breaks',
      `name: breaks
tasks:
  ok: { run: "echo fine" }
  bad: { run: "echo 'model quality gate: ndcg too low' >&2; exit 4", needs: [ok], retry: { count: 1, backoff: 10ms } }
  after: { run: "echo never", needs: [bad] }
  side: { run: "echo independent", needs: [ok] }
`,
    );
    const done = await run(wf);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('task bad failed');
    expect(done.error).toContain('ndcg too low');
    const status = Object.fromEntries(
      (await metadata.workflows.getTasks(done.id)).map((t) => [t.task, t.status]),
    );
    expect(status).toEqual({
      ok: 'succeeded',
      bad: 'failed',
      after: 'upstream_failed',
      side: 'succeeded',
    });
    expect(notes.events).toHaveLength(1);
    expect(notes.events[0]).toMatchObject({
      type: 'run-failed',
      workflow: 'breaks',
      runId: done.id,
      task: 'bad',
      attempt: 2,
      runUrl: `http://dashboard/runs/${done.id}`,
    });
    expect(notes.events[0].error).toContain('ndcg too low');
    expect(broken.events.length).toBeGreaterThan(0);
  });

  it('notifies on success and when a run outlasts its expected duration, when the workflow asks', async () => {
    notes.events.length = 0;
    const quiet = await workflow('quiet', `name: quiet\ntasks:\n  a: { run: "echo ok" }\n`);
    await run(quiet);
    expect(notes.events).toHaveLength(0); // failure only, by default
    const chatty = await workflow(
      'chatty',
      `name: chatty\nnotify: { on: [success, overdue] }\nexpectedDuration: 300ms\ntasks:\n  slow: { run: "sleep 1" }\n`,
    );
    const done = await run(chatty);
    expect(done.status).toBe('succeeded');
    expect(notes.events.map((e) => e.type)).toEqual(['run-overdue', 'run-succeeded']);
    expect(notes.events[0]).toMatchObject({
      workflow: 'chatty',
      runId: done.id,
      expectedDurationMs: 300,
    });
    expect(notes.events[0].durationMs).toBeGreaterThanOrEqual(300);
    expect(notes.events[1].durationMs).toBeGreaterThanOrEqual(1000);
  });

  it('retry resumes a failed run from its failed tasks only', async () => {
    const flag = join(dir, 'fixed');
    const wf = await workflow(
      'fixable',
      `name: fixable
tasks:
  prepare: { run: "echo prepared" }
  fragile: { run: "test -f ${flag} || { echo not fixed >&2; exit 1; }", needs: [prepare] }
  report: { run: "echo report", needs: [fragile] }
`,
    );
    const failed = await run(wf);
    expect(failed.status).toBe('failed');
    // A second process cannot take a run this one is retrying.
    await engine.prepareRetry(failed.id);
    const other = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({ logs: metadata.workflows }),
    });
    await expect(other.prepareRetry(failed.id)).rejects.toBeInstanceOf(ConflictError);
    await engine.runToEnd(failed.id); // the retry prepared above, still failing
    await writeFile(flag, '');
    await engine.prepareRetry(failed.id);
    const done = await engine.runToEnd(failed.id);
    expect(done.status).toBe('succeeded');
    const tasks = Object.fromEntries(
      (await metadata.workflows.getTasks(done.id)).map((t) => [t.task, t.attempt]),
    );
    // prepare ran once; fragile failed twice (first run, first retry) and then succeeded.
    expect(tasks).toEqual({ prepare: 1, fragile: 3, report: 1 });
    await expect(engine.prepareRetry(done.id)).rejects.toThrow(/only failed runs/);
  });

  it('neither retries nor resumes elsewhere a run only its own process can drive', async () => {
    const yaml = `name: in-process
tasks:
  only: { run: "exit 1" }
`;
    const wf = parseWorkflow(yaml, `${IN_PROCESS_SOURCE_PREFIX}test>`);
    const failed = await run(wf);
    expect(failed.status).toBe('failed');
    await expect(engine.prepareRetry(failed.id)).rejects.toThrow(/cannot be retried/);
    expect((await metadata.workflows.getRun(failed.id))?.status).toBe('failed');

    // A run left running by a process that is gone: another engine ends it instead of resuming it.
    const orphan = (await engine.createRun(wf, { trigger: 'manual' }))!;
    const other = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({ logs: metadata.workflows }),
    });
    await expect(other.claimOrphan(orphan.id, { force: true })).rejects.toThrow(
      /no other process can resume it/,
    );
    const ended = await metadata.workflows.getRun(orphan.id);
    expect(ended?.status).toBe('failed');
    expect(ended?.error).toMatch(/is gone/);
    expect(ended?.owner).toBeNull();
    // The same workflow from a file is resumed as before.
    const fromFile = (await engine.createRun(
      await workflow('resumable', yaml.replace('in-process', 'resumable')),
      { trigger: 'manual' },
    ))!;
    expect((await other.claimOrphan(fromFile.id, { force: true })).owner).toBe(other.owner);
    await other.close();
  });

  it('kills a task that runs past its timeout', async () => {
    const wf = await workflow(
      'slow',
      `name: slow\ntasks:\n  slow: { run: "echo start; sleep 20", timeout: 300ms }\n`,
    );
    const t0 = Date.now();
    const done = await run(wf);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(done.status).toBe('failed');
    const [attempt] = await metadata.workflows.listAttempts(done.id, 'slow');
    expect(attempt.error).toMatch(/timed out/);
  });

  it('waits for another workflow to succeed for the same logical date', async () => {
    const upstream = await workflow(
      'upstream',
      `name: upstream\ntasks:\n  a: { run: "echo upstream" }\n`,
    );
    const downstream = await workflow(
      'downstream',
      `name: downstream\nwaitFor: [{ workflow: upstream }]\ntasks:\n  b: { run: "echo downstream" }\n`,
    );
    const fast = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({ logs: metadata.workflows }),
      workRoot: join(dir, 'work'),
      waitPollMs: 50,
    });
    const down = (await fast.createRun(downstream, {
      trigger: 'manual',
      logicalDate: '2026-01-02',
    }))!;
    const finished = fast.runToEnd(down.id);
    await new Promise((r) => setTimeout(r, 300));
    expect((await metadata.workflows.getTasks(down.id))[0].status).toBe('pending');
    const up = await run(upstream, { logicalDate: '2026-01-02' });
    const done = await finished;
    expect(done.status).toBe('succeeded');
    expect(
      (await metadata.workflows.getTasks(down.id))[0].startedAt!.getTime(),
    ).toBeGreaterThanOrEqual(up.finishedAt!.getTime());
    await fast.close();
  });

  it('rejects unknown parameters and bad logical dates with the field named', async () => {
    const wf = await workflow(
      'params',
      `name: params\nparams: { model: als }\ntasks:\n  a: { run: "echo $KIBAN_PARAM_MODEL" }\n`,
    );
    await expect(
      engine.createRun(wf, { trigger: 'manual', params: { modle: 'bpr' } }),
    ).rejects.toThrow(/params\.modle: workflow params has no parameter "modle"; declared: model/);
    await expect(
      engine.createRun(wf, { trigger: 'manual', logicalDate: '25/11/2026' }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(engine.startRun('nope')).rejects.toThrow(/workflow "nope" not found; known: /);
  });

  it('starts runs in the background through the service interface and lists workflows with their last run', async () => {
    const id = await engine.startRun('minimal', { logicalDate: '2026-11-25' });
    await engine.idle();
    const summary = (await engine.listWorkflows()).find((w) => w.name === 'minimal')!;
    expect(summary.lastRun?.id).toBe(id);
    expect(summary.lastRun?.status).toBe('succeeded');
    expect(summary.tasks.map((t) => t.name)).toEqual(['first', 'second', 'third', 'last']);
  });
});
