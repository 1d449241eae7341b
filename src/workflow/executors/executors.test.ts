import { randomUUID } from 'node:crypto';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeExecutor, makeJob } from '../../../test/contracts/executor-contract.js';
import { LogRecorder } from '../../../test/fixtures/workflow/log-recorder.js';
import {
  mustRunRedis,
  redisAnswers,
  TEST_REDIS_URL,
} from '../../../test/fixtures/redis-available.js';
import { coreTaskHandlers } from '../core-task-handlers.js';
import { runTask } from '../task-runner.js';
import { BullmqExecutor, taskJobId } from './bullmq-executor.js';
import { startWorker } from './bullmq-worker.js';
import { InlineExecutor } from './inline-executor.js';

const root = await mkdtemp(join(tmpdir(), 'kiban-executors-'));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describeExecutor('inline', async () => {
  const logs = new LogRecorder();
  const executor = new InlineExecutor({ logs, killGraceMs: 1000 });
  return { executor, logs, close: () => executor.close() };
});

describe('runTask', () => {
  it('writes chatty output in batches, not a write per line', async () => {
    const logs = new LogRecorder();
    const job = makeJob(root, {
      run: 'i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done',
    });
    expect((await runTask(job, { logs, worker: 'test' })).status).toBe('succeeded');
    expect(logs.lines).toHaveLength(1000);
    expect(logs.writes).toBeLessThanOrEqual(10);
  });

  it('hands a registered kind to its handler with the job and a context', async () => {
    const logs = new LogRecorder();
    const job = makeJob(root, { kind: 'aggregate', params: { days: 7 } });
    const handlers = coreTaskHandlers().register({
      kind: 'aggregate',
      params: z.record(z.string(), z.unknown()),
      run: async (given, ctx) => {
        ctx.log(`${given.kind} over ${String(ctx.params.days)} days`);
        return { kind: given.kind, workDir: ctx.workDir, same: given === job };
      },
    });
    const outcome = await runTask(job, { logs, worker: 'test', handlers });
    expect(outcome).toEqual({
      status: 'succeeded',
      output: { kind: 'aggregate', workDir: job.workDir, same: true },
      worker: 'test',
    });
    expect(logs.lines.map((l) => l.line)).toEqual(['aggregate over 7 days']);
  });

  it("runs a shell task in its work directory on a host without the workflow file's directory", async () => {
    // A worker on another machine has no copy of the directory the run was started from.
    const missing = join(root, 'no-such-dir');
    const job = makeJob(root, { run: 'pwd; echo "$KIBAN_WORKFLOW_DIR"', baseDir: missing });
    const logs = new LogRecorder();
    const outcome = await runTask(job, { logs, worker: 'test' });
    expect(outcome.status).toBe('succeeded');
    expect(logs.lines.map((l) => l.line)).toEqual([await realpath(job.workDir), missing]);
  });

  it('SIGKILLs a command that ignores SIGTERM after the grace', async () => {
    const job = makeJob(root, {
      run: 'trap "" TERM; echo trapped; while true; do sleep 0.05; done',
      timeoutMs: 300,
    });
    // Settling at all proves the kill: the loop never ends on its own.
    const outcome = await runTask(job, {
      logs: new LogRecorder(),
      worker: 'test',
      killGraceMs: 300,
    });
    expect(outcome).toMatchObject({ status: 'failed', error: 'timed out after 300ms' });
  });
});

describe('InlineExecutor', () => {
  it('runs no more attempts at once than its concurrency', async () => {
    const executor = new InlineExecutor({ logs: new LogRecorder(), concurrency: 2 });
    const jobs = Array.from({ length: 4 }, () => makeJob(root, { run: 'sleep 0.3' }));
    const started = Date.now();
    await Promise.all(jobs.map((job) => executor.execute(job)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    await executor.close();
  });

  it('refuses work after close', async () => {
    const executor = new InlineExecutor({ logs: new LogRecorder() });
    await executor.close();
    await expect(executor.execute(makeJob(root, { run: 'true' }))).rejects.toThrow(/closed/);
  });
});

// BullMQ on the real Redis. Unreachable is a failure in CI; elsewhere the suite is skipped, loudly.
const reachable = await redisAnswers();
if (mustRunRedis(reachable)) {
  const queues: string[] = [];
  const freshQueue = (): string => {
    const name = `kiban-test-${randomUUID()}`;
    queues.push(name);
    return name;
  };
  afterAll(async () => {
    if (!reachable) return;
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    for (const name of queues) {
      const queue = new Queue(name, { connection });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    connection.disconnect();
  });

  it('reaches Redis at ' + TEST_REDIS_URL, () => {
    expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
  });

  describeExecutor('bullmq', async () => {
    const queue = freshQueue();
    const logs = new LogRecorder();
    const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
    const worker = await startWorker({
      redisUrl: TEST_REDIS_URL,
      queue,
      logs,
      concurrency: 4,
      workerId: 'contract-worker',
      killGraceMs: 1000,
    });
    return {
      executor,
      logs,
      close: async () => {
        await executor.close();
        await worker.close({ graceMs: 100 });
      },
    };
  });

  describe('BullmqExecutor', () => {
    it('names the worker that ran the attempt and does not run a re-submitted attempt twice', async () => {
      const queue = freshQueue();
      const logs = new LogRecorder();
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      const worker = await startWorker({ redisUrl: TEST_REDIS_URL, queue, logs, workerId: 'w-1' });
      try {
        const job = makeJob(root, {
          run: 'echo ran >> "$KIBAN_WORK_DIR/count"; cat "$KIBAN_WORK_DIR/count" | wc -l',
        });
        const [first, second] = await Promise.all([executor.execute(job), executor.execute(job)]);
        expect(first).toEqual(second);
        expect(first).toMatchObject({ status: 'succeeded', worker: 'w-1' });
        // Submitted again after it finished (an engine that restarted): the recorded outcome.
        expect(await executor.execute(job)).toEqual(first);
        expect((await logs.readLogs(job.runId, job.task)).map((l) => l.line.trim())).toEqual(['1']);
      } finally {
        await executor.close();
        await worker.close();
      }
    });

    it('keeps an attempt waiting while no worker runs, and completes it once one starts', async () => {
      const queue = freshQueue();
      const logs = new LogRecorder();
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      const job = makeJob(root, {
        kind: 'module',
        module: 'tasks.ts',
        export: 'greet',
        params: { name: 'late' },
      });
      const pending = executor.execute(job);
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 800));
      expect(settled).toBe(false);
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const inspector = new Queue(queue, { connection });
      expect(await inspector.getJobState(taskJobId(job))).toBe('waiting');
      await inspector.close();
      connection.disconnect();
      const worker = await startWorker({
        redisUrl: TEST_REDIS_URL,
        queue,
        logs,
        workerId: 'late-worker',
      });
      try {
        expect(await pending).toMatchObject({
          status: 'succeeded',
          worker: 'late-worker',
          output: { greeted: 'late' },
        });
      } finally {
        await executor.close();
        await worker.close();
      }
    });

    it('hands a running task back to the queue when a worker closes past its grace', async () => {
      const queue = freshQueue();
      const logs = new LogRecorder();
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      const leaving = await startWorker({
        redisUrl: TEST_REDIS_URL,
        queue,
        logs,
        workerId: 'leaving',
      });
      const job = makeJob(root, {
        kind: 'module',
        module: 'tasks.ts',
        export: 'nap',
        params: { ms: 1500 },
      });
      const pending = executor.execute(job);
      while (!logs.lines.some((l) => l.runId === job.runId))
        await new Promise((r) => setTimeout(r, 20));
      await leaving.close({ graceMs: 100 });
      const staying = await startWorker({
        redisUrl: TEST_REDIS_URL,
        queue,
        logs,
        workerId: 'staying',
      });
      try {
        expect(await pending).toMatchObject({
          status: 'succeeded',
          worker: 'staying',
          output: { slept: 1500 },
        });
      } finally {
        await executor.close();
        await staying.close();
      }
    });

    it('rejects pending attempts when closed, and refuses new ones', async () => {
      const queue = freshQueue();
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      const pending = executor
        .execute(makeJob(root, { run: 'true' }))
        .catch((error: unknown) => error);
      await new Promise((r) => setTimeout(r, 200));
      await executor.close();
      expect(String(await pending)).toMatch(/closed/);
      await expect(executor.execute(makeJob(root, { run: 'true' }))).rejects.toThrow(/closed/);
    });

    it('rejects when Redis cannot be reached', async () => {
      const executor = new BullmqExecutor({
        redisUrl: 'redis://127.0.0.1:1',
        queue: freshQueue(),
        connectTimeoutMs: 500,
      });
      await expect(executor.execute(makeJob(root, { run: 'true' }))).rejects.toThrow(
        /did not answer within 500 ms/,
      );
      await executor.close();
    });
  });
} else {
  console.warn(
    `[executors.test] Redis at ${TEST_REDIS_URL} is unreachable and CI is not set: skipping the BullMQ suites.`,
  );
  describe.skip('Executor contract: bullmq (Redis unreachable)', () => {
    it('needs Redis', () => undefined);
  });
}
