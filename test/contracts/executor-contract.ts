import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Executor, TaskJob } from '../../src/workflow/executor.js';
import type { LogLine, WorkflowStore } from '../../src/workflow/workflow-store.js';

/** What the contract needs of an executor under test: it, and the log its tasks write to. */
export interface ExecutorFixture {
  executor: Executor;
  logs: Pick<WorkflowStore, 'readLogs'>;
  /** Closes the executor and whatever runs its tasks. */
  close(): Promise<void>;
}

/** The fixture directory of module tasks (`tasks.ts`). */
export const TASK_FIXTURES = resolve(import.meta.dirname, '../fixtures/workflow');

/** A job with fresh run id and work dir under `root`; `overrides` say what the task is. */
export function makeJob(root: string, overrides: Partial<TaskJob>): TaskJob {
  const runId = `run-${randomUUID()}`;
  return {
    runId,
    workflow: 'contract',
    task: 'task',
    attempt: 1,
    kind: 'shell',
    params: {},
    logicalDate: '2024-05-01T00:00:00.000Z',
    timeoutMs: null,
    baseDir: TASK_FIXTURES,
    workDir: join(root, runId),
    ...overrides,
  };
}

/**
 * Whether a process still runs. A zombie counts as gone: some containers' init never reaps the
 * orphans a killed shell leaves behind.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

async function lines(logs: ExecutorFixture['logs'], job: TaskJob): Promise<LogLine[]> {
  return logs.readLogs(job.runId, job.task, { attempt: job.attempt });
}

/**
 * The behaviour every {@link Executor} shares: what a task's outcome and log are for shell and
 * module tasks that succeed, fail, time out or are cancelled, and that attempts run in parallel.
 */
export function describeExecutor(name: string, create: () => Promise<ExecutorFixture>): void {
  describe(`Executor contract: ${name}`, () => {
    let fixture: ExecutorFixture;
    let root: string;
    const dirs: string[] = [];
    beforeEach(async () => {
      fixture = await create();
      root = await mkdtemp(join(tmpdir(), 'kiban-executor-'));
      dirs.push(root);
    });
    afterEach(async () => {
      await fixture.close();
    });
    afterAll(async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });

    it('runs a shell task in baseDir with the KIBAN_ variables and logs its output', async () => {
      const job = makeJob(root, {
        task: 'hello',
        attempt: 2,
        run: 'echo "hello from $KIBAN_TASK#$KIBAN_ATTEMPT on $KIBAN_LOGICAL_DATE"; echo warn >&2; ls tasks.ts; echo "$KIBAN_RUN_ID" > "$KIBAN_WORK_DIR/run-id"',
      });
      const outcome = await fixture.executor.execute(job);
      expect(outcome).toMatchObject({ status: 'succeeded', output: {} });
      expect(outcome.worker.length).toBeGreaterThan(0);
      const logged = await lines(fixture.logs, job);
      expect(logged.map((l) => [l.stream, l.line])).toEqual(
        expect.arrayContaining([
          ['stdout', 'hello from hello#2 on 2024-05-01T00:00:00.000Z'],
          ['stderr', 'warn'],
          ['stdout', 'tasks.ts'],
        ]),
      );
      expect((await readFile(join(job.workDir, 'run-id'), 'utf8')).trim()).toBe(job.runId);
    });

    it('keeps the order of many output lines', async () => {
      const job = makeJob(root, {
        run: 'i=0; while [ $i -lt 450 ]; do echo "line $i"; i=$((i+1)); done',
      });
      expect((await fixture.executor.execute(job)).status).toBe('succeeded');
      const logged = await fixture.logs.readLogs(job.runId, job.task, { limit: 1000 });
      expect(logged.map((l) => l.line)).toEqual(Array.from({ length: 450 }, (_, i) => `line ${i}`));
    });

    it('fails a shell task that exits non-zero with the code and the end of stderr', async () => {
      const job = makeJob(root, {
        run: 'echo "reading input" ; echo "first problem" >&2; echo "no such table: events" >&2; exit 3',
      });
      const outcome = await fixture.executor.execute(job);
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toContain('exited with code 3');
      expect(outcome.error).toContain('no such table: events');
      expect(outcome.output).toEqual({ exitCode: 3 });
    });

    it('kills the whole process group of a shell task that times out', async () => {
      const job = makeJob(root, {
        run: 'sleep 30 & echo $! > "$KIBAN_WORK_DIR/sleep.pid"; echo started; wait',
        timeoutMs: 700,
      });
      const started = Date.now();
      const outcome = await fixture.executor.execute(job);
      expect(outcome).toMatchObject({ status: 'failed', error: 'timed out after 700ms' });
      expect(Date.now() - started).toBeLessThan(5000);
      const pid = Number(await readFile(join(job.workDir, 'sleep.pid'), 'utf8'));
      expect(await waitUntil(() => !alive(pid), 3000), `sleep ${pid} still runs`).toBe(true);
      expect((await lines(fixture.logs, job)).map((l) => l.line)).toContain('started');
    });

    it('runs a module export with a TaskContext: its object is the output, ctx.log lines are logged', async () => {
      const job = makeJob(root, {
        kind: 'module',
        module: 'tasks.ts',
        export: 'greet',
        task: 'greet',
        params: { name: 'Ada' },
      });
      const outcome = await fixture.executor.execute(job);
      expect(outcome).toMatchObject({
        status: 'succeeded',
        output: {
          greeted: 'Ada',
          attempt: 1,
          task: 'greet',
          logicalDate: '2024-05-01T00:00:00.000Z',
        },
      });
      const logged = await lines(fixture.logs, job);
      expect(logged.map((l) => [l.stream, l.line])).toEqual([
        ['log', 'hello Ada'],
        ['log', 'second line'],
        ['log', 'third line'],
      ]);
    });

    it('accepts an absolute module path', async () => {
      const job = makeJob(root, {
        kind: 'module',
        module: join(TASK_FIXTURES, 'tasks.ts'),
        export: 'greet',
        params: { name: 'Bo' },
        baseDir: root,
      });
      expect(await fixture.executor.execute(job)).toMatchObject({
        status: 'succeeded',
        output: { greeted: 'Bo' },
      });
    });

    it('fails a module task that throws, with its message (and the stack in the log)', async () => {
      const job = makeJob(root, { kind: 'module', module: 'tasks.ts', export: 'explode' });
      const outcome = await fixture.executor.execute(job);
      expect(outcome).toMatchObject({
        status: 'failed',
        error: 'boom: the fixture exploded',
        output: {},
      });
      expect(
        (await lines(fixture.logs, job)).some(
          (l) => l.stream === 'stderr' && l.line.includes('boom'),
        ),
      ).toBe(true);
    });

    it('fails a module task whose export does not exist, naming it', async () => {
      const job = makeJob(root, { kind: 'module', module: 'tasks.ts', export: 'missing' });
      const outcome = await fixture.executor.execute(job);
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toMatch(/no exported function "missing"/);
    });

    it('fails a module task that times out without waiting for it', async () => {
      const job = makeJob(root, {
        kind: 'module',
        module: 'tasks.ts',
        export: 'hang',
        timeoutMs: 300,
      });
      const started = Date.now();
      expect(await fixture.executor.execute(job)).toMatchObject({
        status: 'failed',
        error: 'timed out after 300ms',
      });
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('fails a pipeline step when no step runner is configured, saying so', async () => {
      const job = makeJob(root, { kind: 'train' });
      const outcome = await fixture.executor.execute(job);
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toMatch(/no pipeline step runner is configured for kind "train"/);
    });

    it('runs several attempts in parallel', async () => {
      const jobs = Array.from({ length: 4 }, (_, i) =>
        makeJob(root, { task: `t${i}`, run: `sleep 0.6; echo done ${i}` }),
      );
      const started = Date.now();
      const outcomes = await Promise.all(jobs.map((job) => fixture.executor.execute(job)));
      const elapsed = Date.now() - started;
      expect(outcomes.map((o) => o.status)).toEqual([
        'succeeded',
        'succeeded',
        'succeeded',
        'succeeded',
      ]);
      // One after another would take 2.4 s.
      expect(elapsed).toBeLessThan(1800);
      for (const [i, job] of jobs.entries())
        expect((await lines(fixture.logs, job)).map((l) => l.line)).toEqual([`done ${i}`]);
    });

    it('stops an attempt when its signal aborts, killing its processes', async () => {
      const job = makeJob(root, { run: 'sleep 30 & echo $! > "$KIBAN_WORK_DIR/sleep.pid"; wait' });
      const controller = new AbortController();
      const pending = fixture.executor.execute(job, { signal: controller.signal });
      const pidFile = join(job.workDir, 'sleep.pid');
      const readPid = async (): Promise<number> =>
        Number(await readFile(pidFile, 'utf8').catch(() => ''));
      let pid = 0;
      for (let i = 0; i < 200 && pid === 0; i++) {
        pid = await readPid();
        if (pid === 0) await new Promise((r) => setTimeout(r, 25));
      }
      expect(pid).toBeGreaterThan(0);
      const started = Date.now();
      controller.abort(new Error('the run was cancelled'));
      const outcome = await pending;
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toMatch(/^cancelled/);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await waitUntil(() => !alive(pid), 5000), `sleep ${pid} still runs`).toBe(true);
    });

    it('does not start an attempt whose signal is already aborted', async () => {
      const job = makeJob(root, { run: 'touch "$KIBAN_WORK_DIR/ran"' });
      const outcome = await fixture.executor.execute(job, { signal: AbortSignal.abort() });
      expect(outcome.status).toBe('failed');
      await new Promise((r) => setTimeout(r, 300));
      await expect(readFile(join(job.workDir, 'ran'))).rejects.toThrow();
    });
  });
}
