import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { openServingSource, servingSourceOpenerRef } from '../app/open-serving-source.js';
import { DEFAULT_ARTIFACTS_URL, openArtifactStore } from '../app/open-artifact-store.js';
import { openServingStore } from '../app/open-stores.js';
import { InvalidArgumentError } from '../core/errors.js';
import { startStageWorker } from '../stages/runners/bullmq-stage-worker.js';
import {
  DEFAULT_STAGE_PREFIX,
  DEFAULT_STAGE_QUEUE,
} from '../stages/runners/bullmq-stage-protocol.js';
import { createStageRunner, STAGE_RUNNERS } from '../stages/runners/index.js';
import { ZmqStageRunner } from '../stages/runners/zmq-runner.js';
import { runZmqWorker } from '../stages/runners/zmq-worker.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import { collectParam } from './engine-options.js';
import { healthPortOption, startProbes } from './health-option.js';

/** Outputs of a `collect` sink printed, at most (the rest are counted). */
const MAX_PRINTED = 50;

/** `kiban stage …`: run a user-written stage. */
export function stageCommand(): Command {
  const stage = new Command('stage').description(
    'Stages: preprocess / main / postprocess functions (defineStage) that kiban runs in parallel, streaming records between them.',
  );
  stage
    .command('run')
    .description(
      'Run a stage exported by a module: read the source in partitions, preprocess them on --num-preprocessors workers, deal ' +
        'the records to --count main workers, postprocess their outputs and write them to the sink, which changes only if ' +
        'the whole stage succeeds. Exits 1 if any worker fails.',
    )
    .argument('<module>', 'module file that exports the stage (.ts or .js)')
    .option('--export <name>', 'export name of the stage', 'default')
    .requiredOption(
      '--source <spec>',
      'csv:PATH | jsonl:PATH | parquet:PATH (file or directory of partitions) | query:SQL | serving:URL#NAMESPACE',
    )
    .option(
      '--sink <spec>',
      'jsonl:DIR | csv:DIR | parquet:DIR | serving:URL#NAMESPACE | collect (print the outputs)',
      'collect',
    )
    .addOption(
      new Option(
        '--runner <name>',
        'inline (one thread), threads, zeromq (separate processes) or bullmq (`kiban stage bullmq-worker` processes on any host)',
      )
        .choices([...STAGE_RUNNERS])
        .default('threads'),
    )
    .option('--count <n>', 'main workers', (v) => positive('--count', v), 1)
    .option(
      '--num-preprocessors <n>',
      'preprocess workers',
      (v) => positive('--num-preprocessors', v),
      1,
    )
    .option(
      '--batch-size <n>',
      'records per message between workers',
      (v) => positive('--batch-size', v),
      1024,
    )
    .option(
      '-p, --param <key=value>',
      'a stage parameter, in ctx.params (repeatable; numbers and booleans are parsed)',
      collectParam,
    )
    .option('--json', 'print the result as one JSON object')
    .option(
      '--listen <address>',
      'zeromq: control address of the coordinator (default tcp://127.0.0.1:0; tcp://0.0.0.0:5555 for workers on other machines)',
    )
    .option(
      '--advertise <host>',
      'zeromq: host name that workers on other machines use to reach this one',
    )
    .option(
      '--no-spawn',
      'zeromq: start no local worker processes; wait for `kiban stage worker` processes to join',
    )
    .option('--redis <url>', 'bullmq: Redis shared with the workers', 'redis://127.0.0.1:6379')
    .option(
      '--artifacts <url>',
      'bullmq: artifact store shared with the workers, for partition files (file:DIR on a shared disk, s3://BUCKET/PREFIX)',
      DEFAULT_ARTIFACTS_URL,
    )
    .option(
      '--stage-queue <name>',
      'bullmq: queue the stage workers listen on',
      DEFAULT_STAGE_QUEUE,
    )
    .option('--queue-prefix <prefix>', 'bullmq: BullMQ key prefix', DEFAULT_STAGE_PREFIX)
    .option(
      '--max-concurrency <n>',
      "bullmq: this stage's partition jobs running at once over all workers (default: no cap beyond the workers')",
      (v) => positive('--max-concurrency', v),
    )
    .addHelpText(
      'after',
      '\nExample:\n  kiban stage run stages/word-count.ts --export wordCount --source jsonl:data/posts/ --sink parquet:out/counts --num-preprocessors 2 --count 2\n',
    )
    .action(async (module: string, options: RunOptions) => {
      const params = Object.fromEntries(
        Object.entries(options.param ?? {}).map(([k, v]) => [k, parseScalar(v)]),
      );
      const zmq =
        options.listen !== undefined || options.advertise !== undefined || options.spawn === false;
      if (zmq && options.runner !== 'zeromq')
        throw new InvalidArgumentError(
          '--runner',
          '--listen, --advertise and --no-spawn are for --runner zeromq',
        );
      const artifacts =
        options.runner === 'bullmq'
          ? await openArtifactStore(options.artifacts, { field: '--artifacts' })
          : undefined;
      const runner = zmq
        ? new ZmqStageRunner({
            ...(options.listen === undefined ? {} : { listen: options.listen }),
            ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
            spawn: options.spawn,
          })
        : createStageRunner(
            options.runner,
            '--runner',
            artifacts === undefined
              ? {}
              : {
                  bullmq: {
                    redisUrl: options.redis,
                    artifacts,
                    queue: options.stageQueue,
                    prefix: options.queuePrefix,
                    ...(options.maxConcurrency === undefined
                      ? {}
                      : { maxConcurrency: options.maxConcurrency }),
                  },
                },
          );
      const result = await runner.run(
        { module: resolve(module), export: options.export },
        {
          source: parseSourceSpec(options.source),
          sink: parseSinkSpec(options.sink),
          openServingStore,
          servingSourceOpener: servingSourceOpenerRef(),
          count: options.count,
          numPreprocessors: options.numPreprocessors,
          batchSize: options.batchSize,
          params,
          // The stage's lines stay human text on stderr for the CLI.
          log: (line) => process.stderr.write(`${line}\n`),
        },
      );
      await artifacts?.close();
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      for (const output of (result.outputs ?? []).slice(0, MAX_PRINTED))
        process.stdout.write(`${JSON.stringify(output)}\n`);
      if ((result.outputs?.length ?? 0) > MAX_PRINTED)
        process.stdout.write(`… ${result.outputs!.length - MAX_PRINTED} more outputs\n`);
      const { read, preprocessed, written } = result.records;
      process.stdout.write(
        `stage ${result.stage} on ${result.runner}: ${read} records read from ${result.partitions} partitions, ${preprocessed} preprocessed, ` +
          `${written} written in ${result.seconds.toFixed(2)} s${result.sink.path === undefined ? '' : ` to ${result.sink.path}`}\n`,
      );
    });
  stage
    .command('worker')
    .description(
      'Run one worker process of a stage started elsewhere with --runner zeromq --no-spawn: registers with the coordinator, ' +
        'takes the role and rank it is given, and exits when the stage ends (0 on success, 2 if it failed elsewhere, 1 if this ' +
        'worker failed or the coordinator went silent). The stage module must exist at the same path on this machine.',
    )
    .requiredOption('--coordinator <address>', "the coordinator's control address, tcp://HOST:PORT")
    .option(
      '--bind <host>',
      "interface for this worker's data socket (default 127.0.0.1 for a loopback coordinator, else 0.0.0.0)",
    )
    .option(
      '--advertise <host>',
      "host other workers connect to (default --bind, or this machine's hostname for 0.0.0.0)",
    )
    .action(async (o: { coordinator: string; bind?: string; advertise?: string }) => {
      const { outcome } = await runZmqWorker({
        coordinator: o.coordinator,
        openServingSource,
        ...(o.bind ? { bind: o.bind } : {}),
        ...(o.advertise ? { advertise: o.advertise } : {}),
      });
      // Exit now: handles the stage's own code left open must not keep a finished worker alive.
      process.exit(
        outcome === 'done' || outcome === 'dismissed' ? 0 : outcome === 'aborted' ? 2 : 1,
      );
    });
  stage
    .command('bullmq-worker')
    .description(
      'Run a worker for stages started with --runner bullmq: takes preprocess and main partition jobs from the stage queue, ' +
        'each on a thread of its own, until SIGTERM. Stage modules are resolved relative to --root (the installed project), ' +
        'never at the submitting machine\u2019s path. Any number of workers, on any host that reaches Redis and the artifact store.',
    )
    .addOption(
      new Option(
        '--redis <url>',
        'Redis shared with the coordinator (from the environment, it stays out of the process list)',
      )
        .env('KIBAN_REDIS_URL')
        .default('redis://127.0.0.1:6379'),
    )
    .addOption(
      new Option('--artifacts <url>', 'artifact store shared with the coordinator')
        .env('KIBAN_STORES_ARTIFACTS')
        .default(DEFAULT_ARTIFACTS_URL),
    )
    .option('--root <dir>', 'project root that stage modules resolve against', '.')
    .option('--stage-queue <name>', 'queue to take partition jobs from', DEFAULT_STAGE_QUEUE)
    .option('--queue-prefix <prefix>', 'BullMQ key prefix', DEFAULT_STAGE_PREFIX)
    .option('--concurrency <n>', 'partition jobs at once', (v) => positive('--concurrency', v), 1)
    .option(
      '--lock-ms <ms>',
      "how long a partition's lock lasts unrenewed: a dead worker's partitions move to another after about this",
      (v) => positive('--lock-ms', v),
      10_000,
    )
    .option(
      '--stalled-ms <ms>',
      'how often to look for partitions of dead workers',
      (v) => positive('--stalled-ms', v),
      2_500,
    )
    .addOption(healthPortOption())
    .action(
      async (o: {
        redis: string;
        artifacts: string;
        root: string;
        stageQueue: string;
        queuePrefix: string;
        concurrency: number;
        lockMs: number;
        stalledMs: number;
        healthPort?: number;
      }) => {
        const stopProbes = await startProbes(o.healthPort, o.redis);
        const artifacts = await openArtifactStore(o.artifacts, { field: '--artifacts' });
        const worker = await startStageWorker({
          redisUrl: o.redis,
          artifacts,
          root: resolve(o.root),
          queue: o.stageQueue,
          prefix: o.queuePrefix,
          concurrency: o.concurrency,
          lockDurationMs: o.lockMs,
          stalledIntervalMs: o.stalledMs,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(`ready ${worker.id}\n`);
        process.stderr.write(`stage worker ${worker.id} ready on ${o.stageQueue}\n`);
        await new Promise<void>((done) => {
          const stop = (): void => done();
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        await worker.close();
        await artifacts.close();
        await stopProbes();
        process.exit(0);
      },
    );
  return stage;
}

type RunOptions = {
  export: string;
  source: string;
  sink: string;
  runner: string;
  count: number;
  numPreprocessors: number;
  batchSize: number;
  param?: Record<string, string>;
  json?: boolean;
  listen?: string;
  advertise?: string;
  spawn: boolean;
  redis: string;
  artifacts: string;
  stageQueue: string;
  queuePrefix: string;
  maxConcurrency?: number;
};

function positive(field: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(field, `must be a whole number ≥ 1, got "${value}"`);
  return n;
}

function parseScalar(text: string): string | number | boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}
