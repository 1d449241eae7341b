/**
 * The worker side of the BullMQ stage runner: a BullMQ worker on the stage queue that runs
 * partition jobs ({@link StagePartitionJob}) on a worker thread each, reads their input files
 * from and commits their output files to the artifact store, relays collectives through Redis,
 * and caps the partition jobs of each stage running at once across every host.
 *
 * Started by `kiban stage bullmq-worker` (or `bullmq-stage-worker-main.ts`); any number of
 * them, on any machine that reaches Redis and the artifact store and has the project installed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { deserialize, serialize } from 'node:v8';
import type { Worker as Thread } from 'node:worker_threads';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from '../../core/errors.js';
import { startWorker as startThread } from '../../core/threads.js';
import { readArtifact, type ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import {
  DEFAULT_STAGE_PREFIX,
  DEFAULT_STAGE_QUEUE,
  mainKey,
  preprocessKey,
  runRedisKey,
  semaphoreKey,
  type MainJob,
  type PartitionResult,
  type RunFailure,
  type StagePartitionJob,
} from './bullmq-stage-protocol.js';
import type {
  FromPartitionThread,
  PartitionThreadSetup,
  ToPartitionThread,
} from './bullmq-stage-thread.js';

/** Options of {@link startStageWorker}. */
export interface StageWorkerOptions {
  /** `redis://HOST:PORT[/DB]`, the same as the runners'. */
  redisUrl: string;
  /** Where partition files are read and written; the same store as the runners'. */
  artifacts: ArtifactStore;
  /** Relative stage modules in jobs resolve against it. @defaultValue `process.cwd()` */
  root?: string;
  /** @defaultValue {@link DEFAULT_STAGE_QUEUE} */
  queue?: string;
  /** @defaultValue {@link DEFAULT_STAGE_PREFIX} */
  prefix?: string;
  /** Partition jobs run at once by this worker, each on a thread. @defaultValue 1 */
  concurrency?: number;
  /**
   * How long a partition's lock lasts without renewal; renewed every half of it by BullMQ on
   * this thread, which stays free because partitions run on threads of their own. A killed
   * worker's partition is taken by another within about `lockDurationMs + stalledIntervalMs`.
   * @defaultValue 10000
   */
  lockDurationMs?: number;
  /** How often workers look for partitions whose lock expired. @defaultValue 2500 */
  stalledIntervalMs?: number;
  /** Times a partition may be taken over after its worker died. @defaultValue 2 */
  maxStalledCount?: number;
  /** Stage log lines and the worker's own notes. @defaultValue stderr */
  log?: (line: string) => void;
  /** @defaultValue `host/pid/random` */
  workerId?: string;
}

/** A running stage worker. */
export interface StageWorker {
  readonly id: string;
  /** Stops taking partitions, waits for running ones, closes connections. */
  close(): Promise<void>;
}

/** How a partition thread ended: its figures and files, or an error (the stage's own, or not). */
type ThreadOutcome =
  | { figures: Omit<PartitionResult, 'keys'>; files: Uint8Array[] }
  | { error: string; stageError: boolean };

/** Longest an idle worker waits before it looks for new jobs again. */
const IDLE_POLL_SECONDS = 0.25;

/** How long a per-stage slot lasts without renewal (a dead worker's slot frees itself). */
const SLOT_TTL_MS = 10_000;
/** How long a partition waits before trying again for a slot of its stage. */
const SLOT_RETRY_MS = 200;
/** How often a running partition checks whether its run failed elsewhere. */
const FAILURE_POLL_MS = 500;

/** Takes a slot (a member with an expiry score) if fewer than the cap are live. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

/**
 * Starts a stage worker.
 *
 * @example
 * const worker = await startStageWorker({ redisUrl: 'redis://127.0.0.1:6379', artifacts: await openArtifactStore('s3://bucket/kiban') });
 */
export async function startStageWorker(options: StageWorkerOptions): Promise<StageWorker> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new InvalidArgumentError(
      'concurrency',
      `must be a whole number of at least 1, got ${concurrency}`,
    );
  const prefix = options.prefix ?? DEFAULT_STAGE_PREFIX;
  const root = options.root ?? process.cwd();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const id = options.workerId ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  const { artifacts } = options;

  const failedKey = (runId: string): string => runRedisKey(prefix, runId, 'failed');
  const readFailure = async (runId: string): Promise<RunFailure | null> => {
    const raw = await redis.get(failedKey(runId));
    return raw === null ? null : (JSON.parse(raw) as RunFailure);
  };

  const process_ = async (
    job: Job<StagePartitionJob, PartitionResult>,
    token?: string,
  ): Promise<PartitionResult> => {
    const data = job.data;
    const where = `${data.phase} rank ${data.rank}`;
    if ((await readFailure(data.runId)) !== null) throw new Error('the stage failed elsewhere');
    // The per-stage cap, across hosts: a slot in a Redis sorted set, renewed while it runs.
    let slotTimer: NodeJS.Timeout | undefined;
    const slots = semaphoreKey(prefix, data.stageName);
    const member = `${data.runId}/${job.id}/${id}`;
    if (data.maxConcurrency > 0) {
      const take = (): Promise<unknown> =>
        redis.eval(
          ACQUIRE,
          1,
          slots,
          Date.now(),
          Date.now() + SLOT_TTL_MS,
          member,
          data.maxConcurrency,
          SLOT_TTL_MS * 3,
        );
      if ((await take()) !== 1) {
        if (token === undefined) throw new Error('no slot for the stage and no job token');
        await job.moveToDelayed(Date.now() + SLOT_RETRY_MS, token);
        throw new DelayedError();
      }
      slotTimer = setInterval(() => void take().catch(() => undefined), SLOT_TTL_MS / 3);
    }
    try {
      const inputs =
        data.phase === 'main'
          ? await Promise.all(data.inputs.map((key) => readArtifact(artifacts, key)))
          : undefined;
      const outcome = await runInThread(data, inputs);
      if ('error' in outcome) {
        const failure: RunFailure = { where, message: outcome.error };
        if (outcome.stageError)
          await redis.set(failedKey(data.runId), JSON.stringify(failure), 'EX', 86_400, 'NX');
        throw new Error(outcome.error);
      }
      // A run that failed meanwhile is being cleaned up: write nothing more into it.
      if ((await readFailure(data.runId)) !== null) throw new Error('the stage failed elsewhere');
      const keys =
        data.phase === 'preprocess'
          ? outcome.files.map((_, rank) => preprocessKey(data.runId, data.partition.index, rank))
          : [mainKey(data.runId, data.rank)];
      // Deterministic names and atomic puts: a retried partition replaces, never duplicates.
      await Promise.all(keys.map((key, i) => artifacts.put(key, outcome.files[i])));
      return { ...outcome.figures, keys };
    } finally {
      clearInterval(slotTimer);
      if (data.maxConcurrency > 0) await redis.zrem(slots, member).catch(() => undefined);
    }
  };

  /** Runs the partition on a thread; relays its collectives and watches the run for failure. */
  const runInThread = (
    data: StagePartitionJob,
    inputs: Buffer[] | undefined,
  ): Promise<ThreadOutcome> => {
    const setup: PartitionThreadSetup = {
      kibanStagePartition: true,
      job: data,
      root,
      ...(inputs === undefined
        ? {}
        : { inputs: inputs.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) }),
    };
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const thread: Thread = startThread(new URL(`./bullmq-stage-thread${ext}`, import.meta.url), {
      workerData: setup,
    });
    let blocking: Redis | undefined;
    let calls = 0;
    return new Promise((settle) => {
      let settled = false;
      const finish = (outcome: ThreadOutcome): void => {
        if (settled) return;
        settled = true;
        clearInterval(watch);
        blocking?.disconnect();
        void thread.terminate();
        settle(outcome);
      };
      const watch = setInterval(() => {
        readFailure(data.runId).then(
          (failure) => {
            if (failure === null || settled) return;
            thread.postMessage({
              type: 'abort',
              reason: 'the stage failed elsewhere',
            } satisfies ToPartitionThread);
            // A synchronous loop never sees the abort: stop it.
            setTimeout(
              () => finish({ error: 'the stage failed elsewhere', stageError: false }),
              1000,
            ).unref();
          },
          () => undefined,
        );
      }, FAILURE_POLL_MS);
      thread.on('message', (message: FromPartitionThread) => {
        if (message.type === 'log') log(message.line);
        else if (message.type === 'done') finish(message);
        else if (message.type === 'error') finish({ error: message.message, stageError: true });
        else {
          blocking ??= redis.duplicate();
          blocking.on('error', () => undefined);
          collective(data as MainJob, calls++, message.value, blocking).then(
            (parts) =>
              thread.postMessage({
                type: 'collective-result',
                id: message.id,
                parts,
              } satisfies ToPartitionThread),
            (error: unknown) =>
              thread.postMessage({
                type: 'collective-result',
                id: message.id,
                error: error instanceof Error ? error.message : String(error),
              } satisfies ToPartitionThread),
          );
        }
      });
      thread.on('error', (error) => finish({ error: error.message, stageError: true }));
      thread.on('exit', (code) =>
        finish({ error: `the partition thread exited with code ${code}`, stageError: true }),
      );
    });
  };

  /**
   * One collective round among the main ranks of a run, in Redis: each rank stores its value
   * in the round's hash; the last to arrive wakes every rank (a list per rank), and each reads
   * all values. A rank re-run after its worker died stores the same value again and finds the
   * round complete, so deterministic stages survive a kill here too.
   */
  const collective = async (
    job: MainJob,
    n: number,
    value: unknown,
    blocking: Redis,
  ): Promise<unknown[]> => {
    const key = runRedisKey(prefix, job.runId, 'round', String(n));
    const result = await redis
      .multi()
      .hset(key, String(job.rank), serialize(value))
      .hlen(key)
      .expire(key, 86_400)
      .exec();
    const arrived = Number(result?.[1]?.[1] ?? 0);
    if (arrived >= job.size) {
      const wake = redis.multi();
      for (let r = 0; r < job.size; r++)
        wake.rpush(`${key}:go:${r}`, '1').expire(`${key}:go:${r}`, 86_400);
      await wake.exec();
    }
    for (;;) {
      const woken = await blocking.blpop(`${key}:go:${job.rank}`, 1);
      if (woken !== null) break;
      if ((await readFailure(job.runId)) !== null) throw new Error('the stage failed elsewhere');
    }
    const all = await redis.hgetallBuffer(key);
    return Array.from({ length: job.size }, (_, r) => deserialize(all[String(r)]));
  };

  const worker = new Worker<StagePartitionJob, PartitionResult>(
    options.queue ?? DEFAULT_STAGE_QUEUE,
    process_,
    {
      connection: redis,
      prefix,
      name: id,
      concurrency,
      lockDuration: options.lockDurationMs ?? 10_000,
      stalledInterval: options.stalledIntervalMs ?? 2_500,
      maxStalledCount: options.maxStalledCount ?? 2,
      // An idle worker waits for jobs on a Redis blocking call that a new job's marker wakes;
      // one marker wakes one worker, and the others sleep until their call times out (5 s by
      // default), which left a second worker idle for most of a short stage. Wake often.
      drainDelay: IDLE_POLL_SECONDS,
      autorun: false,
    },
  );
  worker.on('error', (error) => log(`stage worker ${id}: ${error.message}`));
  void worker.run().catch(() => undefined);
  await worker.waitUntilReady();
  let closing: Promise<void> | undefined;
  return {
    id,
    close: () => {
      closing ??= (async () => {
        try {
          await worker.close();
        } finally {
          await redis.quit().catch(() => redis.disconnect());
        }
      })();
      return closing;
    },
  };
}
