import { randomBytes } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { InvalidArgumentError } from '../../core/errors.js';
import { readArtifact, type ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import { coordinate } from '../coordinator.js';
import type { RoleFigures } from '../roles.js';
import type { RunStageOptions, StageResult, StageRunner } from '../runner.js';
import type { StageRef } from '../stage.js';
import {
  DEFAULT_STAGE_PREFIX,
  DEFAULT_STAGE_QUEUE,
  decodeFrames,
  mainKey,
  preprocessKey,
  runPrefix,
  runRedisKey,
  type PartitionResult,
  type RunFailure,
  type ShippedStageRef,
  type StagePartitionJob,
} from './bullmq-stage-protocol.js';

/** After a failure, how long the coordinator waits for the run's other jobs to stop before cleaning up. */
const SETTLE_AFTER_FAILURE_MS = 10_000;

/** Options of {@link BullmqStageRunner}. */
export interface BullmqStageRunnerOptions {
  /** `redis://HOST:PORT[/DB]`, the same as the workers'. */
  redisUrl: string;
  /** Where partition files go between phases; the same store as the workers' (`file:` on a shared disk, `s3://`). */
  artifacts: ArtifactStore;
  /**
   * The project root: a stage module under it is shipped as a path relative to it, which each
   * worker resolves against its own root. @defaultValue `process.cwd()`
   */
  root?: string;
  /** @defaultValue {@link DEFAULT_STAGE_QUEUE} */
  queue?: string;
  /** @defaultValue {@link DEFAULT_STAGE_PREFIX} */
  prefix?: string;
  /**
   * Partition jobs of one stage (by name) running at once over every worker and host; 0: only
   * the workers' own concurrency limits. Main jobs take slots too: a stage whose `main` uses
   * collectives needs a cap of at least `count`, or its ranks wait for each other for ever.
   * @defaultValue 0
   */
  maxConcurrency?: number;
}

/**
 * Runs a stage on `kiban stage bullmq-worker` processes anywhere (see `bullmq-stage-worker.ts`),
 * through BullMQ. The coordinator (this process) plans the source's partitions and queues one
 * preprocess job per partition; each writes, per main rank, a file of its preprocessed records
 * to the artifact store. Once all are done, it queues one main job per rank, which reads its
 * files in partition order, runs `main` and `postprocess`, and writes its outputs to one file;
 * the coordinator then writes those to the sink in rank order. So the output depends only on
 * the stage and the input, not on which worker ran what.
 *
 * Fault tolerance: a worker that dies (SIGKILL, lost host) stops renewing its jobs' locks, and
 * BullMQ's stalled-job check hands them to another worker; partition files have deterministic
 * names and are written atomically, so a re-run replaces its earlier attempt's file and the
 * coordinator reads only files of completed jobs: no duplicates in the sink. A stage function
 * that throws fails the stage (no retry), names the function and rank, and stops the other
 * jobs of the run. Collectives (`allreduce`, `broadcast`, `barrier`) go through Redis and need
 * all `count` main jobs running at once: give the workers enough concurrency together.
 */
export class BullmqStageRunner implements StageRunner {
  readonly name = 'bullmq';
  readonly #options: BullmqStageRunnerOptions;

  constructor(options: BullmqStageRunnerOptions) {
    const cap = options.maxConcurrency ?? 0;
    if (!Number.isInteger(cap) || cap < 0)
      throw new InvalidArgumentError('maxConcurrency', `must be a whole number ≥ 0, got ${cap}`);
    this.#options = options;
  }

  run(ref: StageRef, options: RunStageOptions): Promise<StageResult> {
    const o = this.#options;
    const root = o.root ?? process.cwd();
    const prefix = o.prefix ?? DEFAULT_STAGE_PREFIX;
    const queueName = o.queue ?? DEFAULT_STAGE_QUEUE;
    return coordinate(ref, options, this.name, async (c) => {
      const shipped = shipStageRef(ref, root);
      const runId = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
      redis.on('error', () => undefined);
      const queue = new Queue<StagePartitionJob, PartitionResult>(queueName, {
        connection: redis,
        prefix,
      });
      // BullMQ leaves connections it was given open on close: this one is closed below.
      const eventsRedis = redis.duplicate();
      eventsRedis.on('error', () => undefined);
      const events = new QueueEvents(queueName, { connection: eventsRedis, prefix });
      const failedKey = runRedisKey(prefix, runId, 'failed');
      const stop = (failure: RunFailure): Promise<unknown> =>
        redis.set(failedKey, JSON.stringify(failure), 'EX', 86_400, 'NX').catch(() => undefined);
      const aborted = new Promise<never>((_, reject) => {
        c.signal.addEventListener(
          'abort',
          () => {
            void stop({ where: 'the caller', message: String(c.signal.reason) });
            reject(c.signal.reason);
          },
          { once: true },
        );
      });
      aborted.catch(() => undefined);
      const jobs: Job<StagePartitionJob, PartitionResult>[] = [];
      try {
        await events.waitUntilReady();
        // Jobs nobody takes would wait for ever: say so at once instead.
        if ((await queue.getWorkersCount()) === 0)
          throw new Error(
            `no kiban stage bullmq-worker is listening on queue ${queueName} (prefix ${prefix}) at ${redactUrl(o.redisUrl)}`,
          );
        c.log(
          `run ${runId}: ${c.partitions.length} preprocess jobs, then ${c.options.count} main jobs, on queue ${queueName}`,
        );
        const { count, numPreprocessors, batchSize, params } = c.options;
        const base = {
          runId,
          stage: shipped,
          stageName: c.stage.name,
          params,
          batchSize,
          mains: count,
          maxConcurrency: o.maxConcurrency ?? 0,
        };
        /** Queues one phase's jobs and waits for all; the first failure fails the stage. */
        const phase = async (
          datas: { where: string; data: StagePartitionJob }[],
        ): Promise<PartitionResult[]> => {
          const added = await queue.addBulk(
            datas.map(({ data }) => ({
              name: `${data.phase}-${data.rank}`,
              data,
              opts: {
                jobId: `${runId}-${data.phase}-${data.phase === 'preprocess' ? data.partition.index : data.rank}`,
                attempts: 1,
                removeOnComplete: { age: 3600 },
                removeOnFail: { age: 86_400 },
              },
            })),
          );
          jobs.push(...added);
          const waits = added.map((job, i) =>
            job.waitUntilFinished(events).then(
              (result: PartitionResult) => result,
              async (error: unknown) => {
                // The first failure is in Redis when a stage function threw; otherwise
                // (a job that stalled too often) this job is where it failed.
                const raw = await redis.get(failedKey);
                const failure: RunFailure =
                  raw === null
                    ? {
                        where: datas[i].where,
                        message: error instanceof Error ? error.message : String(error),
                      }
                    : (JSON.parse(raw) as RunFailure);
                await stop(failure);
                c.fail(failure.where, new Error(failure.message));
                throw error;
              },
            ),
          );
          try {
            return await Promise.race([aborted, Promise.all(waits)]);
          } catch (error) {
            // The other jobs stop on the run's failure key within a second or so; wait for
            // them (boundedly) so that none writes a partition file after the clean-up below.
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
              Promise.allSettled(waits),
              new Promise((done) => {
                timer = setTimeout(done, SETTLE_AFTER_FAILURE_MS);
              }),
            ]);
            clearTimeout(timer);
            throw error;
          }
        };
        const pre = await phase(
          c.partitions.map((partition) => ({
            where: `preprocess partition ${partition.index}`,
            data: {
              ...base,
              phase: 'preprocess',
              rank: partition.index % numPreprocessors,
              size: numPreprocessors,
              source: c.options.source,
              partition,
              ...(c.options.servingSourceOpener === undefined
                ? {}
                : { servingSourceOpener: c.options.servingSourceOpener }),
            },
          })),
        );
        const figures: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
        for (const r of pre) {
          figures.read += r.read;
          figures.preprocessed += r.preprocessed;
        }
        const mains = await phase(
          Array.from({ length: count }, (_, rank) => ({
            where: `main rank ${rank}`,
            data: {
              ...base,
              phase: 'main',
              rank,
              size: count,
              inputs: c.partitions.map((p) => preprocessKey(runId, p.index, rank)),
            },
          })),
        );
        // Only completed jobs' files are read, in rank order: what the sink gets is fixed.
        for (let rank = 0; rank < count; rank++) {
          const key = mains[rank].keys[0] ?? mainKey(runId, rank);
          for (const batch of decodeFrames(await readArtifact(o.artifacts, key))) {
            await c.write(batch);
          }
        }
        return figures;
      } finally {
        await Promise.all(jobs.map((job) => job.remove().catch(() => undefined)));
        for (const { key } of await o.artifacts.list(runPrefix(runId)).catch(() => []))
          await o.artifacts.delete(key).catch(() => undefined);
        await deleteRunKeys(redis, runRedisKey(prefix, runId), failedKey).catch(() => undefined);
        await events.close().catch(() => undefined);
        await eventsRedis.quit().catch(() => eventsRedis.disconnect());
        await queue.close().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
      }
    });
  }
}

/**
 * The stage reference as shipped to workers: a module under `root` as a path relative to it;
 * a bare package specifier as it is.
 *
 * @throws InvalidArgumentError (field `stage`) for an absolute module outside `root`, which
 *   workers on other machines could not resolve.
 */
export function shipStageRef(ref: StageRef, root: string): ShippedStageRef {
  const path = ref.module.startsWith('file:') ? fileURLToPath(ref.module) : ref.module;
  const exportName = ref.export === undefined ? {} : { export: ref.export };
  if (!isAbsolute(path)) return { module: path, ...exportName };
  const rel = relative(root, path);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new InvalidArgumentError(
      'stage',
      `${path} is outside the project root ${root}; bullmq workers resolve stage modules relative to their project root`,
    );
  return { module: rel.split(sep).join('/'), ...exportName };
}

/** Deletes a run's Redis keys (collective rounds) once it has ended. */
async function deleteRunKeys(redis: Redis, base: string, failedKey: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${base}:*`, 'COUNT', 1000);
    cursor = next;
    // The failure stays (it expires): workers still running the run's jobs stop on it.
    const done = keys.filter((key) => key !== failedKey);
    if (done.length > 0) await redis.del(...done);
  } while (cursor !== '0');
}

/** A Redis URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
