import { type Command, Option } from 'commander';
import type { FlagValue } from '../app/config.js';
import { openEngine as openAppEngine, type OpenEngine } from '../app/open-engine.js';
import { InvalidArgumentError } from '../core/errors.js';
import { flagOverlay } from './config-flags.js';
import type { DriveEvent } from '../workflow/engine/drive-run.js';
import type { WorkflowCatalog } from '../workflow/engine/workflow-catalog.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import { DEFAULT_TASK_QUEUE } from '../workflow/executors/bullmq-executor.js';

/** The options every command that runs workflows shares. */
export interface EngineCliOptions {
  metadata: string;
  executor: 'inline' | 'bullmq';
  redis: string;
  queue: string;
  workDir: string;
  artifacts?: string;
  concurrency?: number;
  slackWebhook?: string;
  webhook?: string[];
  dashboardUrl?: string;
}

/** Adds the metadata store, executor and notification options to a command. */
export function addEngineOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--metadata <url>',
        'metadata store holding runs, task states and logs: sqlite:PATH or postgres://…',
      )
        .env('KIBAN_METADATA_URL')
        .default('sqlite:.kiban/meta.db'),
    )
    .addOption(
      new Option(
        '--executor <kind>',
        'where tasks run: inline (this process) or bullmq (kiban worker processes via Redis)',
      )
        .choices(['inline', 'bullmq'])
        .default('inline'),
    )
    .addOption(
      new Option('--redis <url>', 'Redis of the bullmq executor')
        .env('KIBAN_REDIS_URL')
        .default('redis://127.0.0.1:6379'),
    )
    .option('--queue <name>', 'BullMQ queue the workers listen on', DEFAULT_TASK_QUEUE)
    .option(
      '--concurrency <n>',
      'inline executor: tasks running at once (default: unlimited)',
      (v) => positiveInt('--concurrency', v),
    )
    .option(
      '--work-dir <dir>',
      "root of the runs' work directories (where tasks hand files to each other)",
      '.kiban/work',
    )
    .option(
      '--artifacts <url>',
      "artifact store through which inline tasks hand the run's work files to each other (file:DIR or s3://BUCKET/PREFIX; default: the work directory)",
    )
    .addOption(
      new Option('--slack-webhook <url>', 'Slack incoming webhook for run notifications').env(
        'KIBAN_SLACK_WEBHOOK_URL',
      ),
    )
    .option(
      '--webhook <url>',
      'JSON webhook for run notifications (repeatable)',
      (v: string, all: string[] = []) => [...all, v],
    )
    .addOption(
      new Option(
        '--dashboard-url <url>',
        'base URL of the dashboard, for links in notifications, e.g. http://kiban:8080',
      ).env('KIBAN_DASHBOARD_URL'),
    );
}

/**
 * The configuration overlay of {@link addEngineOptions}' flags (see `config-flags.ts`).
 */
export function engineFlags(command: Command): FlagValue[] {
  return flagOverlay(command, {
    metadata: ['stores.metadata', '--metadata'],
    executor: ['executor.kind', '--executor'],
    redis: ['executor.redis', '--redis'],
    queue: ['executor.queue', '--queue'],
    concurrency: ['executor.concurrency', '--concurrency'],
    workDir: ['stores.work', '--work-dir'],
    artifacts: ['stores.artifacts', '--artifacts'],
    slackWebhook: ['notifiers.slackWebhook', '--slack-webhook'],
    webhook: ['notifiers.webhooks', '--webhook'],
    dashboardUrl: ['notifiers.dashboardUrl', '--dashboard-url'],
  });
}

/** An engine and what it holds open (see `app/open-engine.ts`). */
export type { OpenEngine } from '../app/open-engine.js';

/**
 * Opens the metadata store, the executor and the notifiers the options name, and an engine
 * over them (see `app/open-engine.ts`). Notifications always go to the log (stderr) too.
 */
export async function openEngine(
  options: EngineCliOptions,
  extra: { catalog?: WorkflowCatalog; onEvent?: (e: DriveEvent) => void } = {},
): Promise<OpenEngine> {
  // Run notifications are the CLI's human lines on stderr (tests and operators read them).
  return openAppEngine(
    {
      metadata: options.metadata,
      metadataField: '--metadata',
      executor: {
        kind: options.executor,
        redis: options.redis,
        queue: options.queue,
        prefix: 'bull',
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      },
      notifiers: {
        webhooks: options.webhook ?? [],
        ...(options.slackWebhook === undefined ? {} : { slackWebhook: options.slackWebhook }),
        ...(options.dashboardUrl === undefined ? {} : { dashboardUrl: options.dashboardUrl }),
      },
      workDir: options.workDir,
      ...(options.artifacts === undefined ? {} : { artifacts: options.artifacts }),
    },
    { ...extra, notifierLines: (line) => process.stderr.write(line) },
  );
}

/** Gathers repeated `--param key=value` options. */
export function collectParam(
  value: string,
  all: Record<string, string> = {},
): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('--param', `expected key=value, got "${value}"`);
  return { ...all, [value.slice(0, at)]: value.slice(at + 1) };
}

/**
 * Gives `--param` values the type of the workflow's declared default (`window_days=30` is a
 * number when the default is), so that the command line and YAML mean the same thing.
 */
export function typedParams(
  wf: WorkflowDefinition,
  raw: Record<string, string>,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, text] of Object.entries(raw)) {
    const declared = wf.params[key];
    if (typeof declared === 'number') {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n))
        throw new InvalidArgumentError(
          `--param ${key}`,
          `must be a number (the default is ${declared}), got "${text}"`,
        );
      out[key] = n;
    } else if (typeof declared === 'boolean') {
      if (text !== 'true' && text !== 'false')
        throw new InvalidArgumentError(`--param ${key}`, `must be true or false, got "${text}"`);
      out[key] = text === 'true';
    } else out[key] = text;
  }
  return out;
}

function positiveInt(field: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(field, `must be a whole number ≥ 1, got "${value}"`);
  return n;
}
