import { childLogger, processLogger, type Logger } from '../core/log.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { DriveEvent } from '../workflow/engine/drive-run.js';
import type { WorkflowCatalog } from '../workflow/engine/workflow-catalog.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import type { Executor } from '../workflow/executor.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { LogNotifier, type NotifierLineWriter } from '../workflow/notifiers/log-notifier.js';
import type { Notifier } from '../workflow/notifiers/notifier.js';
import { SlackNotifier } from '../workflow/notifiers/slack-notifier.js';
import { WebhookNotifier } from '../workflow/notifiers/webhook-notifier.js';
import { openMetadataStore } from './backends.js';
import { builtinTaskHandlersRef } from './builtin-task-handlers.js';
import type { KibanConfig } from './config.js';
import { isArtifactStoreUrl } from './open-artifact-store.js';

/** What an engine is built from: the parts of {@link KibanConfig} it reads. */
export interface EngineSettings {
  /** Metadata store URL (runs, task states, logs). */
  metadata: string;
  /** The name the metadata URL goes by in errors. @defaultValue `stores.metadata` */
  metadataField?: string;
  executor: KibanConfig['executor'];
  notifiers: KibanConfig['notifiers'];
  /** Root of the runs' work directories. */
  workDir: string;
  /**
   * `stores.artifacts`: when it is an artifact store URL (`file:…`, `s3://…`), inline tasks hand
   * the run's work files to each other through that store (under `runs/<runId>/`), as a worker's
   * do; a plain directory (or none) keeps them in the work directory. @defaultValue none
   */
  artifacts?: string;
}

/** What {@link openEngine} is handed besides the settings. */
export interface EngineExtras {
  catalog?: WorkflowCatalog;
  onEvent?: (e: DriveEvent) => void;
  /**
   * The role's logger: the inline executor logs under its `workflow` child, and the log notifier
   * writes one entry per run event to its `notifier` child. @defaultValue the process logger
   */
  logger?: Logger;
  /**
   * The log notifier writes one human line per run event here instead (the CLI passes stderr).
   * @defaultValue entries on the logger's `notifier` child
   */
  notifierLines?: NotifierLineWriter;
}

/** An engine and what it holds open. */
export interface OpenEngine {
  engine: WorkflowEngine;
  metadata: MetadataStore;
  executor: Executor;
  close(): Promise<void>;
}

/**
 * Opens the metadata store, the executor (inline, or BullMQ loaded by dynamic import) and the
 * notifiers `settings` name, and an engine over them. Notifications always go to the log too
 * (`extra.logger`, or the human lines of `extra.notifierLines`).
 *
 * @example
 * const open = await openEngine({ metadata: config.stores.metadata, executor: config.executor, notifiers: config.notifiers, workDir: config.stores.work });
 * try { await open.engine.start(wf); } finally { await open.close(); }
 */
export async function openEngine(
  settings: EngineSettings,
  extra: EngineExtras = {},
): Promise<OpenEngine> {
  const logger = extra.logger ?? processLogger();
  const metadata = await openMetadataStore(
    settings.metadata,
    settings.metadataField ?? 'stores.metadata',
  );
  const { executor: ex, notifiers: n } = settings;
  const executor: Executor =
    ex.kind === 'bullmq'
      ? new (await import('../workflow/executors/bullmq-executor.js')).BullmqExecutor({
          redisUrl: ex.redis,
          queue: ex.queue,
        })
      : new InlineExecutor({
          logs: metadata.workflows,
          taskHandlersRef: builtinTaskHandlersRef({
            metadataUrl: settings.metadata,
            ...(settings.artifacts !== undefined && isArtifactStoreUrl(settings.artifacts)
              ? { artifactsUrl: settings.artifacts }
              : {}),
          }),
          ...(ex.concurrency === undefined ? {} : { concurrency: ex.concurrency }),
          logger: childLogger(logger, 'workflow'),
        });
  const notifiers: Notifier[] = [
    new LogNotifier(extra.notifierLines ?? childLogger(logger, 'notifier')),
  ];
  if (n.slackWebhook !== undefined) notifiers.push(new SlackNotifier(n.slackWebhook));
  for (const url of n.webhooks) notifiers.push(new WebhookNotifier(url));
  const base = n.dashboardUrl?.replace(/\/+$/, '');
  const engine = new WorkflowEngine({
    store: metadata.workflows,
    executor,
    workRoot: settings.workDir,
    notifiers,
    ...(base === undefined
      ? {}
      : { runUrl: (id: string) => `${base}/runs/${encodeURIComponent(id)}` }),
    ...(extra.catalog === undefined ? {} : { catalog: extra.catalog }),
    ...(extra.onEvent === undefined ? {} : { onEvent: extra.onEvent }),
  });
  return {
    engine,
    metadata,
    executor,
    async close() {
      await engine.close();
      await executor.close();
      await metadata.close();
    },
  };
}
