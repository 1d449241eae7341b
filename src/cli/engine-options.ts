import { Command, Option } from 'commander';
import { builtinTaskHandlersRef } from '../app/builtin-task-handlers.js';
import { openMetadataStore } from '../app/open-stores.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { DriveEvent } from '../workflow/engine/drive-run.js';
import { WorkflowCatalog } from '../workflow/engine/workflow-catalog.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import type { Executor } from '../workflow/executor.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import { BullmqExecutor, DEFAULT_TASK_QUEUE } from '../workflow/executors/bullmq-executor.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { LogNotifier } from '../workflow/notifiers/log-notifier.js';
import type { Notifier } from '../workflow/notifiers/notifier.js';
import { SlackNotifier } from '../workflow/notifiers/slack-notifier.js';
import { WebhookNotifier } from '../workflow/notifiers/webhook-notifier.js';

/** The options every command that runs workflows shares. */
export interface EngineCliOptions {
  metadata: string;
  executor: 'inline' | 'bullmq';
  redis: string;
  queue: string;
  workDir: string;
  concurrency?: number;
  slackWebhook?: string;
  webhook?: string[];
  dashboardUrl?: string;
}

/** Adds the metadata store, executor and notification options to a command. */
export function addEngineOptions(command: Command): Command {
  return command
    .addOption(new Option('--metadata <url>', 'metadata store holding runs, task states and logs: sqlite:PATH or postgres://…').env('KIBAN_METADATA_URL').default('sqlite:.kiban/meta.db'))
    .addOption(new Option('--executor <kind>', 'where tasks run: inline (this process) or bullmq (kiban worker processes via Redis)').choices(['inline', 'bullmq']).default('inline'))
    .addOption(new Option('--redis <url>', 'Redis of the bullmq executor').env('KIBAN_REDIS_URL').default('redis://127.0.0.1:6379'))
    .option('--queue <name>', 'BullMQ queue the workers listen on', DEFAULT_TASK_QUEUE)
    .option('--concurrency <n>', 'inline executor: tasks running at once (default: unlimited)', (v) => positiveInt('--concurrency', v))
    .option('--work-dir <dir>', 'root of the runs\' work directories (where tasks hand files to each other)', '.kiban/work')
    .addOption(new Option('--slack-webhook <url>', 'Slack incoming webhook for run notifications').env('KIBAN_SLACK_WEBHOOK_URL'))
    .option('--webhook <url>', 'JSON webhook for run notifications (repeatable)', (v: string, all: string[] = []) => [...all, v])
    .addOption(new Option('--dashboard-url <url>', 'base URL of the dashboard, for links in notifications, e.g. http://kiban:8080').env('KIBAN_DASHBOARD_URL'));
}

/** An engine and what it holds open. */
export interface OpenEngine {
  engine: WorkflowEngine;
  metadata: MetadataStore;
  executor: Executor;
  close(): Promise<void>;
}

/**
 * Opens the metadata store, the executor and the notifiers the options name, and an engine
 * over them. Notifications always go to the log (stderr) too.
 */
export async function openEngine(options: EngineCliOptions, extra: { catalog?: WorkflowCatalog; onEvent?: (e: DriveEvent) => void } = {}): Promise<OpenEngine> {
  const metadata = await openMetadataStore(options.metadata, '--metadata');
  const executor: Executor =
    options.executor === 'bullmq'
      ? new BullmqExecutor({ redisUrl: options.redis, queue: options.queue })
      : new InlineExecutor({ logs: metadata.workflows, taskHandlersRef: builtinTaskHandlersRef({ metadataUrl: options.metadata }), ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }) });
  const notifiers: Notifier[] = [new LogNotifier()];
  if (options.slackWebhook !== undefined) notifiers.push(new SlackNotifier(options.slackWebhook));
  for (const url of options.webhook ?? []) notifiers.push(new WebhookNotifier(url));
  const base = options.dashboardUrl?.replace(/\/+$/, '');
  const engine = new WorkflowEngine({
    store: metadata.workflows,
    executor,
    workRoot: options.workDir,
    notifiers,
    ...(base === undefined ? {} : { runUrl: (id: string) => `${base}/runs/${encodeURIComponent(id)}` }),
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

/** Gathers repeated `--param key=value` options. */
export function collectParam(value: string, all: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('--param', `expected key=value, got "${value}"`);
  return { ...all, [value.slice(0, at)]: value.slice(at + 1) };
}

/**
 * Gives `--param` values the type of the workflow's declared default (`window_days=30` is a
 * number when the default is), so that the command line and YAML mean the same thing.
 */
export function typedParams(wf: WorkflowDefinition, raw: Record<string, string>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, text] of Object.entries(raw)) {
    const declared = wf.params[key];
    if (typeof declared === 'number') {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`--param ${key}`, `must be a number (the default is ${declared}), got "${text}"`);
      out[key] = n;
    } else if (typeof declared === 'boolean') {
      if (text !== 'true' && text !== 'false') throw new InvalidArgumentError(`--param ${key}`, `must be true or false, got "${text}"`);
      out[key] = text === 'true';
    } else out[key] = text;
  }
  return out;
}

function positiveInt(field: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(field, `must be a whole number ≥ 1, got "${value}"`);
  return n;
}
