import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeJob } from '../../../test/contracts/executor-contract.js';
import {
  mustRunRedis,
  redisAnswers,
  TEST_REDIS_URL,
} from '../../../test/fixtures/redis-available.js';
import { BullmqExecutor, taskJobId } from './bullmq-executor.js';

const REPO = resolve(import.meta.dirname, '../../..');
const MAIN = join(REPO, 'src/cli/main.ts');
const ENTRY = [MAIN, 'worker'];
/** Short locks so that a death is noticed in about 2 s + 2 × 0.5 s rather than 15 s. */
const LOCK_MS = 2000;
const STALLED_MS = 500;

const root = await mkdtemp(join(tmpdir(), 'kiban-worker-death-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Everything a worker process has written so far, by process. */
const outputs = new WeakMap<ChildProcess, () => string>();

/** Resolves once `child` has written `text` (on stdout or stderr); rejects if it exits first. */
function untilOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolveOutput, fail) => {
    const check = (): void => {
      if (!outputs.get(child)!().includes(text)) return;
      child.stdout!.off('data', check);
      resolveOutput();
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) =>
      fail(
        new Error(`worker exited with ${code} before writing "${text}": ${outputs.get(child)!()}`),
      ),
    );
    check();
  });
}

/** Starts a worker process and resolves once it says it is taking tasks. */
async function spawnWorker(
  queue: string,
  id: string,
  locks = { lockMs: LOCK_MS, stalledMs: STALLED_MS },
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      ...ENTRY,
      '--redis',
      TEST_REDIS_URL,
      '--queue',
      queue,
      '--id',
      id,
      '--metadata',
      `sqlite:${join(root, `${id}.db`)}`,
      '--lock-duration',
      String(locks.lockMs),
      '--stalled-interval',
      String(locks.stalledMs),
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  outputs.set(child, () => output);
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`worker ${id} did not start within 30 s: ${output}`)),
      30_000,
    );
    const onData = (data: Buffer): void => {
      output += data.toString();
      if (output.includes('is taking tasks')) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`worker ${id} exited with ${code}: ${output}`));
    });
  });
  return child;
}

const reachable = await redisAnswers();
if (mustRunRedis(reachable)) {
  describe('kiban worker processes', () => {
    it('reaches Redis at ' + TEST_REDIS_URL, () => {
      expect(reachable, `Redis at ${TEST_REDIS_URL} did not answer PING`).toBe(true);
    });

    it('hands the task of a worker killed mid-task to another worker, which completes it', async () => {
      const queue = `kiban-test-${randomUUID()}`;
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const inspector = new Queue(queue, { connection });
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      try {
        const [a, b] = await Promise.all([
          spawnWorker(queue, 'worker-a'),
          spawnWorker(queue, 'worker-b'),
        ]);
        const workers = new Map([
          ['worker-a', a],
          ['worker-b', b],
        ]);
        const job = makeJob(root, {
          kind: 'module',
          module: 'tasks.ts',
          export: 'nap',
          params: { ms: 3000 },
        });
        const pending = executor.execute(job);

        // Whoever took it: kill it mid-task, without a chance to clean up.
        let first: string | undefined;
        while (first === undefined) {
          first = (await inspector.getJob(taskJobId(job)))?.processedBy;
          if (first === undefined) await new Promise((r) => setTimeout(r, 25));
        }
        expect(first).toMatch(/^worker-[ab]$/);
        await new Promise((r) => setTimeout(r, 500));
        workers.get(first!)!.kill('SIGKILL');

        const outcome = await pending;
        expect(outcome).toMatchObject({ status: 'succeeded', output: { slept: 3000 } });
        expect(outcome.worker).not.toBe(first);
        expect(outcome.worker).toMatch(/^worker-[ab]$/);
        // Taken over because its lock lapsed (the stalled-job check), once.
        expect((await inspector.getJob(taskJobId(job)))?.stalledCounter).toBe(1);
      } finally {
        await executor.close();
        await inspector.obliterate({ force: true });
        await inspector.close();
        connection.disconnect();
      }
    });

    it('runs a 24 s CPU-bound task exactly once with two workers: the lock is renewed while it computes', {
      timeout: 180_000,
    }, async () => {
      const queue = `kiban-test-${randomUUID()}`;
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const inspector = new Queue(queue, { connection });
      try {
        // 24 s of synchronous work against 8 s locks checked every second: on the worker's event
        // loop the lock would lapse three times over and the other worker would start the task
        // too. (With 2 s locks, renewed about every second, the lock lapsed once in a CI run of
        // the whole suite, not reproduced here under four busy loops: this test is of where the
        // task runs, not of how promptly a loaded machine schedules the worker's main thread.)
        const locks = { lockMs: 8000, stalledMs: 1000 };
        await Promise.all([spawnWorker(queue, 'cpu-a', locks), spawnWorker(queue, 'cpu-b', locks)]);
        const starts = join(root, `${queue}.starts`);
        const job = makeJob(root, {
          kind: 'module',
          module: 'cpu-tasks.ts',
          export: 'spin',
          params: { ms: 24_000, file: starts },
        });
        const outcome = await executor.execute(job);
        expect(outcome).toMatchObject({ status: 'succeeded', output: { spun: 24_000 } });
        expect(outcome.worker).toMatch(/^cpu-[ab]$/);
        expect(await readFile(starts, 'utf8')).toBe('started attempt 1\n');
        expect((await inspector.getJob(taskJobId(job)))?.stalledCounter ?? 0).toBe(0);
      } finally {
        await executor.close();
        await inspector.obliterate({ force: true });
        await inspector.close();
        connection.disconnect();
      }
    });

    it('keeps a task queued while no worker runs and completes it when one starts; SIGTERM lets it finish', async () => {
      const queue = `kiban-test-${randomUUID()}`;
      const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
      const inspector = new Queue(queue, { connection });
      const executor = new BullmqExecutor({ redisUrl: TEST_REDIS_URL, queue });
      try {
        // Runs until the test releases it, so that the SIGTERM surely comes while it runs: no
        // race between the task's own duration and a loaded machine.
        const job = makeJob(root, {
          run: 'touch "$KIBAN_WORK_DIR/started"; while [ ! -f "$KIBAN_WORK_DIR/release" ]; do sleep 0.05; done; echo released',
        });
        const id = taskJobId(job);
        const pending = executor.execute(job);
        // Queued (however long that takes here), and still waiting with no worker to take it.
        while ((await inspector.getJobState(id)) === 'unknown')
          await new Promise((r) => setTimeout(r, 25));
        await new Promise((r) => setTimeout(r, 500));
        expect(await inspector.getJobState(id)).toBe('waiting');

        const worker = await spawnWorker(queue, 'worker-late');
        // The task runs on it: no cap on the wait (a loaded machine may take seconds); the
        // test's timeout bounds it, and a SIGTERM before the task starts would leave it queued.
        while ((await inspector.getJobState(id)) !== 'active')
          await new Promise((r) => setTimeout(r, 25));
        const exited = new Promise<number | null>((done) =>
          worker.once('exit', (code) => done(code)),
        );
        worker.kill('SIGTERM');
        // Asked to stop while running the task: it finishes the task first, then exits cleanly.
        await untilOutput(worker, 'is stopping');
        expect(await inspector.getJobState(id)).toBe('active');
        // Active in the queue comes a moment before the worker has made the work directory and
        // started the shell: release it only once the task itself says it runs.
        while (!existsSync(join(job.workDir, 'started')))
          await new Promise((r) => setTimeout(r, 25));
        await writeFile(join(job.workDir, 'release'), '');
        expect(await pending).toMatchObject({ status: 'succeeded', worker: 'worker-late' });
        expect(await exited).toBe(0);
      } finally {
        await executor.close();
        await inspector.obliterate({ force: true });
        await inspector.close();
        connection.disconnect();
      }
    });
  });
} else {
  console.warn(
    `[worker-death.test] Redis at ${TEST_REDIS_URL} is unreachable and CI is not set: skipping.`,
  );
  describe.skip('kiban worker processes (Redis unreachable)', () => {
    it('needs Redis', () => undefined);
  });
}
