import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { openArtifactStore } from '../app/open-artifact-store.js';
import { InvalidArgumentError } from '../core/errors.js';
import { startProgress } from '../core/progress.js';
import { evaluateTagger } from '../models/tags/evaluate-tagger.js';
import { readTagExamples } from '../models/tags/read-tag-examples.js';
import { readTaggerFile, writeTaggerFile } from '../models/tags/tagger-file.js';
import { DEFAULT_TAGGER_OPTIONS, type Tagger, type TaggerOptions } from '../models/tags/tagger.js';
import { publishTagger } from '../pipeline/tags/publish-tagger.js';
import { trainTagger } from '../pipeline/tags/train-tagger.js';
import type { TaggerPointer } from '../storage/tagger-pointer.js';
import { loadPipelineConfig } from './load-config.js';
import { bundledPath } from './paths.js';
import { openStores } from './run-pipeline-console.js';

const TRAIN = 'datasets/cooking-stackexchange/splits/train.txt';
const VALID = 'datasets/cooking-stackexchange/splits/valid.txt';

/** Tagger options as CLI flags: flag, option key, whether it is an integer. */
const OPTION_FLAGS: [
  flag: string,
  key: Exclude<keyof TaggerOptions, 'loss'>,
  integer: boolean,
  what: string,
][] = [
  ['--dim', 'dim', true, 'embedding width'],
  ['--epoch', 'epoch', true, 'passes over the data'],
  ['--lr', 'lr', false, 'initial learning rate (decays linearly to 0)'],
  ['--word-ngrams', 'wordNgrams', true, 'longest word n-gram (1 = words only)'],
  ['--min-count', 'minCount', true, 'least occurrences of a word to keep it'],
  ['--bucket', 'bucket', true, 'hash buckets for n-grams'],
  ['--minn', 'minn', true, 'shortest character n-gram'],
  ['--maxn', 'maxn', true, 'longest character n-gram (0 = none; try 2–4 for Japanese or Chinese)'],
  ['--threads', 'threads', true, 'training threads'],
  ['--seed', 'seed', true, 'random seed'],
];

const camel = (flag: string): string =>
  flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** `kiban tags`: train, evaluate, try and publish the text tagger behind `/v1/tags/suggest`. */
export function tagsCommand(): Command {
  const tags = new Command('tags').description(
    'Train, evaluate and publish the text tagger that suggests tags for new posts (POST /v1/tags/suggest).',
  );
  tags
    .addCommand(trainCommand())
    .addCommand(evalCommand())
    .addCommand(predictCommand())
    .addCommand(publishCommand());
  return tags;
}

function trainCommand(): Command {
  const command = new Command('train')
    .description(
      'Train a tagger on texts with tags (fastText format `__label__tag … text`, or JSON lines {"text", "tags"}) and save it to a file.',
    )
    .option(
      '--input <file>',
      'training examples (default: the bundled cooking questions, first 12,404)',
      bundledPath(TRAIN),
    )
    .requiredOption('--output <file>', 'where to write the model (written whole or not at all)')
    .option('--valid <file>', 'held-out examples: report precision and recall at --k on them');
  for (const [flag, key, , what] of OPTION_FLAGS)
    command.option(
      `${flag} <${key === 'lr' ? 'rate' : 'n'}>`,
      `${what} (default ${DEFAULT_TAGGER_OPTIONS[key]})`,
    );
  return command
    .addOption(
      new Option(
        '--loss <loss>',
        'softmax: one tag distribution; ova: one-vs-all, for several tags per text',
      )
        .choices(['softmax', 'ova'])
        .default('softmax'),
    )
    .option('--k <n>', 'precision and recall at k on --valid', '1')
    .option('--threshold <p>', 'least score of a prediction on --valid', '0')
    .option(
      '--quantise',
      'store the embeddings as int8 (about 4× smaller file, scores move by thousandths)',
    )
    .option(
      '--publish',
      'also publish it to the stores of --config: /v1/tags/suggest switches to it within seconds',
    )
    .option(
      '--config <file>',
      'configuration naming the stores for --publish (default: the embedded ones)',
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .addHelpText(
      'after',
      '\nExample (the fastText tutorial settings):\n  kiban tags train --output cooking.tagger --valid datasets/cooking-stackexchange/splits/valid.txt --lr 1 --epoch 25 --word-ngrams 2',
    )
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const taggerOptions = taggerOptionsFrom(options);
      const k = positiveInt(options.k as string, '--k');
      const threshold = probability(options.threshold as string, '--threshold');
      const progress = startProgress('training', 100);
      let trained: Awaited<ReturnType<typeof trainTagger>>;
      try {
        trained = await trainTagger({
          input: options.input as string,
          ...(typeof options.valid === 'string' ? { valid: options.valid } : {}),
          options: taggerOptions,
          k,
          threshold,
          onProgress: (fraction, loss) =>
            progress.update(Math.round(fraction * 100), `loss ${loss.toFixed(4)}`),
        });
      } finally {
        progress.stop();
      }
      const bytes = await writeTaggerFile(options.output as string, trained.tagger, {
        quantise: options.quantise === true,
      });
      let published: TaggerPointer | null = null;
      if (options.publish === true)
        published = await publish(trained.tagger, options.config as string | undefined, {
          metrics: trained.metrics,
          dataSnapshot: { input: options.input },
          quantise: options.quantise === true,
        });
      const result = {
        model: options.output,
        bytes,
        tags: trained.tagger.labels.length,
        examples: trained.trainExamples,
        trainSeconds: round(trained.trainSeconds),
        ...(trained.evaluation === null
          ? {}
          : {
              valid: {
                ...trained.evaluation,
                precision: round(trained.evaluation.precision),
                recall: round(trained.evaluation.recall),
              },
            }),
        ...(published === null ? {} : { published: published.modelId }),
      };
      if (options.json === true) return void process.stdout.write(`${JSON.stringify(result)}\n`);
      process.stdout.write(
        `trained ${result.tags} tags on ${result.examples} examples in ${result.trainSeconds} s → ${result.model} (${(bytes / 2 ** 20).toFixed(1)} MiB)\n`,
      );
      if (trained.evaluation !== null) printEvaluation(trained.evaluation);
      if (published !== null) process.stdout.write(`published as ${published.modelId}\n`);
    });
}

function evalCommand(): Command {
  return new Command('eval')
    .description(
      "Precision and recall at k of a saved tagger on examples with tags, as fastText's `test` reports them.",
    )
    .requiredOption('--model <file>', 'a model written by `kiban tags train`')
    .option(
      '--input <file>',
      'examples with tags (default: the bundled cooking questions, last 3,000)',
      bundledPath(VALID),
    )
    .option('--k <n>', 'predictions per example', '1')
    .option('--threshold <p>', 'least score of a prediction (useful with --loss ova models)', '0')
    .option('--json', 'print {examples, k, threshold, precision, recall} as one JSON object')
    .action(
      async (options: {
        model: string;
        input: string;
        k: string;
        threshold: string;
        json?: boolean;
      }) => {
        const k = positiveInt(options.k, '--k');
        const threshold = probability(options.threshold, '--threshold');
        const tagger = await readTaggerFile(options.model);
        const evaluation = evaluateTagger(tagger, await readTagExamples(options.input), {
          k,
          threshold,
          source: options.input,
        });
        if (options.json === true)
          return void process.stdout.write(`${JSON.stringify(evaluation)}\n`);
        printEvaluation(evaluation);
      },
    );
}

function predictCommand(): Command {
  return new Command('predict')
    .description(
      'Suggest tags for texts given as arguments, or for each line of standard input; prints one JSON array per text.',
    )
    .requiredOption('--model <file>', 'a model written by `kiban tags train`')
    .option('--k <n>', 'most tags per text', '5')
    .option('--threshold <p>', 'least score of a tag', '0')
    .argument('[text...]', 'texts to tag (default: read lines from standard input)')
    .action(async (texts: string[], options: { model: string; k: string; threshold: string }) => {
      const k = positiveInt(options.k, '--k');
      const threshold = probability(options.threshold, '--threshold');
      const tagger = await readTaggerFile(options.model);
      const answer = (text: string): void =>
        void process.stdout.write(`${JSON.stringify(tagger.predict(text, { k, threshold }))}\n`);
      if (texts.length > 0) return texts.forEach(answer);
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity }))
        if (line.trim() !== '') answer(line);
    });
}

function publishCommand(): Command {
  return new Command('publish')
    .description(
      'Publish a saved tagger: copy it to the artifacts store, record it in the metadata store and switch /v1/tags/suggest to it.',
    )
    .requiredOption('--model <file>', 'a model written by `kiban tags train`')
    .option('--config <file>', 'configuration naming the stores (default: the embedded ones)')
    .action(async (options: { model: string; config?: string }) => {
      const tagger = await readTaggerFile(options.model);
      const pointer = await publish(tagger, options.config, {
        dataSnapshot: { file: options.model },
      });
      process.stdout.write(
        `published ${options.model} as ${pointer.modelId} (${pointer.labels} tags)\n`,
      );
    });
}

async function publish(
  tagger: Tagger,
  configPath: string | undefined,
  extra: {
    metrics?: Record<string, number>;
    dataSnapshot?: Record<string, unknown>;
    quantise?: boolean;
  },
): Promise<TaggerPointer> {
  const config = await loadPipelineConfig(configPath);
  const stores = await openStores(config);
  try {
    return await publishTagger({
      tagger,
      artifacts: config.stores.artifacts,
      openArtifacts: (url) => openArtifactStore(url),
      serving: stores.serving,
      metadata: stores.metadata,
      ...extra,
    });
  } finally {
    await stores.close();
  }
}

/** The tagger options given as flags (camel-cased by commander), checked as numbers here and in range by the model. */
function taggerOptionsFrom(
  options: Record<string, string | boolean | undefined>,
): Partial<TaggerOptions> {
  const out: Partial<TaggerOptions> = { loss: options.loss as TaggerOptions['loss'] };
  for (const [flag, key, integer] of OPTION_FLAGS) {
    const raw = options[camel(flag)];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (
      typeof raw !== 'string' ||
      raw.trim() === '' ||
      !Number.isFinite(value) ||
      (integer && !Number.isInteger(value))
    ) {
      throw new InvalidArgumentError(
        flag,
        `must be ${integer ? 'an integer' : 'a number'}, got "${String(raw)}"`,
      );
    }
    out[key] = value;
  }
  return out;
}

function positiveInt(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(flag, `must be a positive integer, got "${raw}"`);
  return n;
}

function probability(raw: string, flag: string): number {
  const p = Number(raw);
  if (raw.trim() === '' || !(p >= 0 && p <= 1))
    throw new InvalidArgumentError(flag, `must be a number from 0 to 1, got "${raw}"`);
  return p;
}

function printEvaluation(e: {
  examples: number;
  k: number;
  precision: number;
  recall: number;
}): void {
  process.stdout.write(
    `N\t${e.examples}\nP@${e.k}\t${e.precision.toFixed(3)}\nR@${e.k}\t${e.recall.toFixed(3)}\n`,
  );
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;
