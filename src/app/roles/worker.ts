import { childLogger, createLogger, type Logger } from '../../core/log.js';
import type { TaskWorker } from '../../workflow/executors/bullmq-worker.js';
import { openBackends } from '../backends.js';
import { builtinTaskHandlersRef } from '../builtin-task-handlers.js';
import { storeFields, type KibanConfig } from '../config.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { isArtifactStoreUrl, openArtifactStore } from '../open-artifact-store.js';

/**
 * `{ artifactsUrl }` when `stores.artifacts` is an artifact store URL, so that the run's work
 * files travel through it; `{}` for a plain directory, which keeps them in the work directory.
 */
export function runArtifacts(config: Pick<KibanConfig, 'stores'>): { artifactsUrl?: string } {
  return isArtifactStoreUrl(config.stores.artifacts)
    ? { artifactsUrl: config.stores.artifacts }
    : {};
}

/** Runtime options of {@link startWorkerRole} (see `TaskWorkerOptions`). */
export interface WorkerRoleOptions {
  /** Tasks run at once by this worker. */
  concurrency: number;
  /** Recorded on the tasks it runs; host/pid/random when absent. */
  id?: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  shutdownGraceMs: number;
  /**
   * Also runs stage partition jobs (`kiban worker --stage-jobs`): a stage worker on the BullMQ
   * stage queue of `executor.redis`, with up to `concurrency` partitions at once, each on a
   * thread, stage modules resolved against the working directory, partition files through
   * `stores.artifacts` (which must then be a `file:` or `s3://` URL). @defaultValue none
   */
  stageJobs?: { concurrency: number };
  /**
   * The role's logger: the worker logs its own problems (task log lines that could not be
   * stored) under its `workflow` child. @defaultValue a new {@link createLogger} (JSON lines on
   * stderr, level from `KIBAN_LOG_LEVEL`)
   */
  logger?: Logger;
}

/** A running worker role. */
export interface WorkerRole {
  /** The worker id recorded on the tasks it runs. */
  readonly id: string;
  /** Stops taking tasks, lets running ones finish (up to the grace), then closes the metadata store. */
  close(): Promise<void>;
}

/**
 * The worker role (`kiban worker`): opens the metadata backend of `config.stores` for task logs
 * (and, when `stores.artifacts` is a URL, hands run work files between tasks through that store) and takes tasks from the BullMQ queue `config.executor` names (`redis`, `queue`, `prefix`)
 * until closed. The BullMQ client loads only here, by dynamic import.
 *
 * @example
 * const worker = await startWorkerRole(config, { concurrency: 4, lockDurationMs: 10_000, stalledIntervalMs: 2_500, shutdownGraceMs: 30_000 });
 * process.once('SIGTERM', () => void worker.close());
 */
export async function startWorkerRole(
  config: KibanConfig,
  options: WorkerRoleOptions,
): Promise<WorkerRole> {
  const backends = await openBackends(config.stores, {
    seams: ['metadata'],
    fields: storeFields(config),
  });
  // One logger for the role, a child per component.
  const logger = options.logger ?? createLogger();
  let worker: TaskWorker;
  let stages: StageJobs | null = null;
  try {
    if (options.stageJobs !== undefined)
      stages = await startStageJobs(config, options.stageJobs.concurrency, logger);
    const { startWorker } = await import('../../workflow/executors/bullmq-worker.js');
    worker = await startWorker({
      redisUrl: config.executor.redis,
      queue: config.executor.queue,
      prefix: config.executor.prefix,
      concurrency: options.concurrency,
      logs: backends.workflows,
      taskHandlersRef: builtinTaskHandlersRef({
        metadataUrl: config.stores.metadata,
        redisUrl: config.executor.redis,
        ...runArtifacts(config),
      }),
      lockDurationMs: options.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs,
      shutdownGraceMs: options.shutdownGraceMs,
      logger: childLogger(logger, 'workflow'),
      ...(options.id === undefined ? {} : { workerId: options.id }),
    });
  } catch (error) {
    await stages?.close();
    await backends.close();
    throw error;
  }
  return {
    id: worker.id,
    async close() {
      try {
        await Promise.all([worker.close(), stages?.close()]);
      } finally {
        await backends.close();
      }
    },
  };
}

/** The stage worker a {@link WorkerRole} runs beside its task worker, with its artifact store. */
interface StageJobs {
  close(): Promise<void>;
}

/**
 * Starts the stage worker of {@link WorkerRoleOptions.stageJobs}.
 * @throws InvalidArgumentError (field `stores.artifacts`) when it is a plain directory, which the
 *   submitting machine could not share.
 */
async function startStageJobs(
  config: KibanConfig,
  concurrency: number,
  logger: Logger,
): Promise<StageJobs> {
  if (!isArtifactStoreUrl(config.stores.artifacts))
    throw new InvalidArgumentError(
      'stores.artifacts',
      `--stage-jobs hands partition files through the artifact store, so it must be a file: or s3:// URL shared with the submitting machine, not the directory "${config.stores.artifacts}"`,
    );
  const artifacts = await openArtifactStore(config.stores.artifacts);
  try {
    const { startStageWorker } = await import('../../stages/runners/bullmq-stage-worker.js');
    const stageLog = childLogger(logger, 'stages');
    const worker = await startStageWorker({
      redisUrl: config.executor.redis,
      artifacts,
      root: process.cwd(),
      concurrency,
      log: (line) => stageLog.info(line),
    });
    return {
      async close() {
        try {
          await worker.close();
        } finally {
          await artifacts.close();
        }
      },
    };
  } catch (error) {
    await artifacts.close();
    throw error;
  }
}
