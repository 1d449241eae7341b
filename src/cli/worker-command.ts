import { Command, Option } from 'commander';
import { healthPortOption, startProbes } from './health-option.js';
import { loadKibanConfig } from '../app/config.js';
import { startWorkerRole } from '../app/roles/worker.js';
import { InvalidArgumentError } from '../core/errors.js';
import { DEFAULT_QUEUE_PREFIX, DEFAULT_TASK_QUEUE } from '../workflow/executors/bullmq-executor.js';
import { flagOverlay } from './config-flags.js';

interface WorkerCliOptions {
  redis: string;
  queue: string;
  prefix: string;
  concurrency: number;
  metadata: string;
  id?: string;
  lockDuration: number;
  stalledInterval: number;
  shutdownGrace: number;
  stageJobs?: string | true;
  artifacts?: string;
  healthPort?: number;
}

/** `kiban worker`: runs workflow tasks from a BullMQ queue until SIGTERM or SIGINT. */
export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'Run workflow tasks that an engine started with --executor bullmq puts on a Redis queue. Start as many as you like, ' +
        'on as many machines: each takes up to --concurrency tasks at a time and writes their logs to the metadata store. ' +
        'A worker that dies loses no task: once its lock lapses (--lock-duration) another worker runs it again. ' +
        'On SIGTERM or SIGINT it stops taking tasks and lets running ones finish (up to --shutdown-grace, then hands them back).',
    )
    .addOption(
      new Option('--redis <url>', 'Redis holding the queue, redis://HOST:PORT[/DB]')
        .env('KIBAN_REDIS_URL')
        .makeOptionMandatory(),
    )
    .option(
      '--queue <name>',
      'queue to take tasks from (the engine\u2019s --queue)',
      DEFAULT_TASK_QUEUE,
    )
    .option('--prefix <prefix>', 'Redis key prefix of the queue', DEFAULT_QUEUE_PREFIX)
    .option(
      '--concurrency <n>',
      'tasks run at once by this worker',
      (v) => whole('--concurrency', v, 1),
      1,
    )
    .addOption(
      new Option(
        '--metadata <url>',
        'metadata store for task logs: sqlite:PATH or postgres://… (shared by the engine; SQLite only on one machine)',
      )
        .env('KIBAN_METADATA_URL')
        .default('sqlite:.kiban/meta.db'),
    )
    .option('--id <id>', 'worker id recorded on the tasks it runs (default: host/pid/random)')
    .option(
      '--lock-duration <ms>',
      'task lock lifetime; renewed every half of it while a task runs',
      (v) => whole('--lock-duration', v, 1000),
      10_000,
    )
    .option(
      '--stalled-interval <ms>',
      'how often to look for tasks whose worker died',
      (v) => whole('--stalled-interval', v, 100),
      2_500,
    )
    .option(
      '--shutdown-grace <ms>',
      'on SIGTERM/SIGINT, how long running tasks may finish before they are handed back',
      (v) => whole('--shutdown-grace', v, 0),
      30_000,
    )
    .option(
      '--stage-jobs [n]',
      'also run partitions of stages started with --runner bullmq, up to n at once (default 1), as kiban stage bullmq-worker does; needs stores.artifacts as a file: or s3:// URL (--artifacts)',
    )
    .addOption(
      new Option(
        '--artifacts <url>',
        'artifact store for --stage-jobs partition files, shared with the submitter',
      ).env('KIBAN_STORES_ARTIFACTS'),
    )
    .addOption(healthPortOption())
    .addHelpText(
      'after',
      '\nExample:\n  kiban worker --redis redis://redis:6379 --metadata postgres://kiban@db/kiban --concurrency 4\n' +
        '  kiban worker --redis redis://redis:6379 --stage-jobs 2 --artifacts s3://bucket/kiban\n',
    )
    .action(async (options: WorkerCliOptions, command: Command) => {
      // Listening before anything else: a SIGTERM that came between "is taking tasks" and the
      // listener killed the worker outright, leaving its task to stall instead of finishing.
      const stopRequested = untilSignal();
      const config = await loadKibanConfig({
        flags: flagOverlay(command, {
          redis: ['executor.redis', '--redis'],
          queue: ['executor.queue', '--queue'],
          prefix: ['executor.prefix', '--prefix'],
          metadata: ['stores.metadata', '--metadata'],
          artifacts: ['stores.artifacts', '--artifacts'],
        }),
      });
      const stageJobs =
        options.stageJobs === undefined
          ? undefined
          : whole('--stage-jobs', options.stageJobs === true ? '1' : options.stageJobs, 1);
      const stopProbes = await startProbes(options.healthPort, config.executor.redis);
      const worker = await startWorkerRole(config, {
        concurrency: options.concurrency,
        lockDurationMs: options.lockDuration,
        stalledIntervalMs: options.stalledInterval,
        shutdownGraceMs: options.shutdownGrace,
        ...(options.id === undefined ? {} : { id: options.id }),
        ...(stageJobs === undefined ? {} : { stageJobs: { concurrency: stageJobs } }),
      });
      process.stdout.write(
        `kiban worker ${worker.id} is taking tasks from queue ${config.executor.queue} (concurrency ${options.concurrency})\n`,
      );
      await stopRequested;
      process.stdout.write(`kiban worker ${worker.id} is stopping\n`);
      await worker.close();
      await stopProbes();
    });
}

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const first = (): void => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const again = (): void => process.exit(130);
      process.once('SIGTERM', again);
      process.once('SIGINT', again);
      resolve();
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

function whole(field: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new InvalidArgumentError(field, `must be a whole number \u2265 ${min}, got "${value}"`);
  return n;
}
