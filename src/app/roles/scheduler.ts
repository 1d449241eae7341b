import { createLogger, type Logger } from '../../core/log.js';
import type { DriveEvent } from '../../workflow/engine/drive-run.js';
import { WorkflowCatalog } from '../../workflow/engine/workflow-catalog.js';
import { WorkflowScheduler, type SchedulerEvent } from '../../workflow/engine/scheduler.js';
import { builtinTaskHandlers } from '../builtin-task-handlers.js';
import type { KibanConfig } from '../config.js';
import { openEngine } from '../open-engine.js';

/** Runtime options of {@link startSchedulerRole}. */
export interface SchedulerRoleOptions {
  /** Directory of workflow files. */
  workflowsDir: string;
  /** How often to re-read workflows and look for orphaned runs, in milliseconds. */
  scanMs: number;
  /** The name the metadata URL goes by in errors. @defaultValue `stores.metadata` */
  metadataField?: string;
  onDriveEvent?: (event: DriveEvent) => void;
  onSchedulerEvent?: (event: SchedulerEvent) => void;
  /**
   * The role's logger: the inline executor logs under its `workflow` child, run notifications go
   * to its `notifier` child. @defaultValue a new {@link createLogger} (JSON lines on stderr, level
   * from `KIBAN_LOG_LEVEL`)
   */
  logger?: Logger;
}

/** A running scheduler role. */
export interface SchedulerRole {
  /** The engine's owner id (recorded on the runs it drives). */
  readonly owner: string;
  /**
   * Catches up, then starts scheduled runs until {@link close}; settles once the scheduler has
   * stopped and the engine is closed. Calling it again returns the same promise.
   */
  run(): Promise<void>;
  /** Stops the scheduler (running runs are released for the next one) and waits for the engine to close. */
  close(): Promise<void>;
}

/**
 * The scheduler role (`kiban scheduler`): loads the workflows of `options.workflowsDir` (failing
 * now on a missing directory), opens an engine over `config.stores.metadata` with the executor
 * and notifiers of `config`, and starts scheduled runs at their cron times until closed.
 *
 * @example
 * const role = await startSchedulerRole(config, { workflowsDir: 'workflows', scanMs: 15_000 });
 * process.once('SIGTERM', () => void role.close());
 * await role.run();
 */
export async function startSchedulerRole(
  config: KibanConfig,
  options: SchedulerRoleOptions,
): Promise<SchedulerRole> {
  const catalog = new WorkflowCatalog({
    dir: options.workflowsDir,
    handlers: builtinTaskHandlers(),
  });
  await catalog.load(); // fail now on a missing directory
  // One logger for the role, a child per component.
  const logger = options.logger ?? createLogger();
  const open = await openEngine(
    {
      metadata: config.stores.metadata,
      ...(options.metadataField === undefined ? {} : { metadataField: options.metadataField }),
      executor: config.executor,
      notifiers: config.notifiers,
      workDir: config.stores.work,
      artifacts: config.stores.artifacts,
    },
    {
      catalog,
      logger,
      ...(options.onDriveEvent === undefined ? {} : { onEvent: options.onDriveEvent }),
    },
  );
  const scheduler = new WorkflowScheduler(open.engine, catalog, {
    scanMs: options.scanMs,
    ...(options.onSchedulerEvent === undefined ? {} : { onEvent: options.onSchedulerEvent }),
  });
  let running: Promise<void> | undefined;
  const run = (): Promise<void> =>
    (running ??= (async () => {
      try {
        await scheduler.start();
      } finally {
        await open.close();
      }
    })());
  return {
    owner: open.engine.owner,
    run,
    async close() {
      await scheduler.stop();
      await (running ?? open.close());
    },
  };
}
