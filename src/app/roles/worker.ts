import { childLogger, createLogger, type Logger } from '../../core/log.js';
import type { TaskWorker } from '../../workflow/executors/bullmq-worker.js';
import { openBackends } from '../backends.js';
import { builtinTaskHandlersRef } from '../builtin-task-handlers.js';
import { storeFields, type KibanConfig } from '../config.js';
import { isArtifactStoreUrl } from '../open-artifact-store.js';

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
  try {
    const { startWorker } = await import('../../workflow/executors/bullmq-worker.js');
    worker = await startWorker({
      redisUrl: config.executor.redis,
      queue: config.executor.queue,
      prefix: config.executor.prefix,
      concurrency: options.concurrency,
      logs: backends.workflows,
      taskHandlersRef: builtinTaskHandlersRef({
        metadataUrl: config.stores.metadata,
        ...runArtifacts(config),
      }),
      lockDurationMs: options.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs,
      shutdownGraceMs: options.shutdownGraceMs,
      logger: childLogger(logger, 'workflow'),
      ...(options.id === undefined ? {} : { workerId: options.id }),
    });
  } catch (error) {
    await backends.close();
    throw error;
  }
  return {
    id: worker.id,
    async close() {
      try {
        await worker.close();
      } finally {
        await backends.close();
      }
    },
  };
}
