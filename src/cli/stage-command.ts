import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { openServingSource, servingSourceOpenerRef } from '../app/open-serving-source.js';
import { openServingStore } from '../app/open-stores.js';
import { InvalidArgumentError } from '../core/errors.js';
import { createStageRunner, STAGE_RUNNERS } from '../stages/runners/index.js';
import { ZmqStageRunner } from '../stages/runners/zmq-runner.js';
import { runZmqWorker } from '../stages/runners/zmq-worker.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import { collectParam } from './engine-options.js';

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
      new Option('--runner <name>', 'inline (one thread), threads, or zeromq (separate processes)')
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
      const runner = zmq
        ? new ZmqStageRunner({
            ...(options.listen === undefined ? {} : { listen: options.listen }),
            ...(options.advertise === undefined ? {} : { advertise: options.advertise }),
            spawn: options.spawn,
          })
        : createStageRunner(options.runner, '--runner');
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
