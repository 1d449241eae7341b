import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { applyTunedParams, DEFAULT_TUNE_TRAIN, runTuning } from '../app/tune-task-runner.js';
import { InvalidArgumentError } from '../core/errors.js';
import { startProgress, type Progress } from '../core/progress.js';
import type { LogColumns } from '../data/read-interaction-log.js';
import { renderTuningSvg } from '../evaluation/plot-tuning.js';
import { requireSearchSpace, type TrialResult, type TuneResult } from '../evaluation/tuner.js';
import { CARVE_KINDS, type CarveKind } from '../evaluation/validation-carve.js';
import { builtinModels } from '../models/builtin-models.js';
import type { ModelRegistry } from '../models/model-registry.js';
import { parseDuration } from '../workflow/duration.js';
import { table } from './workflow-console.js';

interface TuneCommandOptions {
  model: string;
  trials: string;
  budget?: string;
  carve: CarveKind;
  train?: string;
  columns?: string;
  idType: 'integer' | 'string';
  config?: string;
  apply?: boolean;
  json?: boolean;
  plot?: string;
  seed: string;
  eta: string;
  minBudget: string;
  k: string;
}

/** Where `--apply` writes when `--config` is not given. */
const DEFAULT_CONFIG_FILE = 'kiban.yaml';

/**
 * `kiban tune`: successive halving over a model's declared search space, scored by validation
 * nDCG@k on a carve of the training data (never the test file); prints the trials best first,
 * optionally plots them (`--plot`) and writes the best params under `model:` of a kiban.yaml
 * (`--apply`, comments kept). Models and their spaces come from `models`.
 *
 * @example
 * await tuneCommand().parseAsync(['--model', 'als', '--trials', '16', '--json'], { from: 'user' });
 */
export function tuneCommand(models: ModelRegistry = builtinModels()): Command {
  const tunable = models
    .definitions()
    .filter((d) => d.searchSpace !== undefined)
    .map((d) => d.kind);
  return new Command('tune')
    .description(
      "Search a model's hyper-parameters by successive halving over its declared search space: sample " +
        '--trials configurations, score each by nDCG@k on a validation carve of the training data with ' +
        'a small budget (fewer iterations or users), keep the best 1/eta and repeat with eta times the ' +
        'budget. The test file is never read.',
    )
    .requiredOption('--model <name>', `model to tune: ${tunable.join(' | ')}`)
    .option('--trials <n>', 'configurations sampled (the defaults are one of them)', '16')
    .option('--budget <duration>', 'stop starting evaluations after this long, e.g. 10m or 90s')
    .addOption(
      new Option(
        '--carve <how>',
        "validation rows: temporal (each user's latest ~10% of train by timestamp, as the pipeline holds out) | random",
      )
        .choices([...CARVE_KINDS])
        .default('temporal'),
    )
    .option(
      '--train <path>',
      `training interactions (CSV with a header, or Parquet) [default: the events of --config, else ${DEFAULT_TUNE_TRAIN}]`,
    )
    .option('--columns <list>', 'with --train: user,item[,value[,timestamp]] column names')
    .addOption(
      new Option('--id-type <type>', 'with --train: ids as strings or integers')
        .choices(['string', 'integer'])
        .default('string'),
    )
    .option(
      '--config <file>',
      `a kiban.yaml: its events (aggregated as its pipeline does) are the default training data, and --apply writes to it [default for --apply: ./${DEFAULT_CONFIG_FILE}]`,
    )
    .option(
      '--apply',
      'write the best params under model: (kind and params) of --config, keeping its comments',
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .option('--plot <file.svg>', 'draw nDCG@k of every trial at every rung as an SVG chart')
    .option('--seed <n>', 'seed of the sampling, the random carve and the user subsamples', '42')
    .option('--eta <n>', 'keep the best 1/eta of each rung', '3')
    .option(
      '--min-budget <share>',
      "the first rung's share of the full budget at least (fewer rungs when eta's powers go below it)",
      '0.3',
    )
    .option('--k <n>', 'list length of the objective nDCG@k', '10')
    .addHelpText(
      'after',
      '\nExamples:\n  kiban tune --model als --trials 16 --budget 10m --carve temporal --plot als-tune.svg\n' +
        '  kiban tune --model itemknn --config kiban.yaml --apply\n',
    )
    .action(async (options: TuneCommandOptions) => runTuneCommand(options, models));
}

async function runTuneCommand(options: TuneCommandOptions, models: ModelRegistry): Promise<void> {
  // Everything is checked before data is read, so a typo fails fast.
  requireSearchSpace(models, options.model, '--model');
  const trials = wholeNumber(options.trials, '--trials', 1);
  const seed = wholeNumber(options.seed, '--seed', 0);
  const eta = wholeNumber(options.eta, '--eta', 2);
  const k = wholeNumber(options.k, '--k', 1);
  const minBudget = Number(options.minBudget);
  if (!(minBudget > 0 && minBudget <= 1))
    throw new InvalidArgumentError(
      '--min-budget',
      `must be a share in (0, 1], got "${options.minBudget}"`,
    );
  let budgetMs: number | undefined;
  if (options.budget !== undefined) {
    budgetMs = parseDuration(options.budget, '--budget');
    if (budgetMs <= 0) throw new InvalidArgumentError('--budget', 'must be longer than 0');
  }
  const columns = options.columns === undefined ? undefined : parseColumns(options.columns);

  let bar: Progress | undefined;
  let result: TuneResult;
  try {
    result = await runTuning(
      {
        models,
        model: options.model,
        trials,
        carve: options.carve,
        seed,
        eta,
        minBudget,
        k,
        idType: options.idType,
        ...(options.train === undefined ? {} : { train: options.train }),
        ...(columns === undefined ? {} : { columns }),
        ...(options.config === undefined ? {} : { config: options.config }),
        ...(budgetMs === undefined ? {} : { budgetMs }),
        onData: (line) => process.stderr.write(`${line}\n`),
        onProgress: ({ done, total, evaluation, rungBest }) => {
          bar ??= startProgress(`tune ${options.model}`, total);
          bar.update(done, `rung ${evaluation.rung} best ndcg@${k} ${rungBest.toFixed(4)}`);
        },
      },
      '--model',
    );
  } finally {
    bar?.stop();
  }
  if (result.stopped === 'budget')
    process.stderr.write(`--budget ${options.budget} ran out; results are what was scored\n`);
  let applied: string | null = null;
  if (options.apply === true) {
    applied = options.config ?? DEFAULT_CONFIG_FILE;
    await applyTunedParams(applied, options.model, result.best.params);
  }
  if (options.plot !== undefined) {
    await writeFile(
      options.plot,
      renderTuningSvg(result, `kiban tune ${options.model}: ${options.carve} carve`),
    );
    process.stderr.write(`chart written to ${options.plot}\n`);
  }
  if (options.json === true) {
    process.stdout.write(
      `${JSON.stringify({
        model: options.model,
        carve: options.carve,
        k,
        best: result.best.params,
        [`ndcg@${k}`]: result.best.ndcg,
        fidelity: result.fidelity,
        rungSizes: result.rungSizes,
        stopped: result.stopped,
        applied,
        seconds: round(result.seconds, 3),
        trials: result.trials.map((t) => ({
          trial: t.trial,
          defaults: t.defaults,
          params: t.params,
          rung: t.rungs.length - 1,
          [`ndcg@${k}`]: t.ndcg,
          fitSeconds: round(t.fitSeconds, 3),
        })),
      })}\n`,
    );
    return;
  }
  process.stdout.write(resultTable(result.trials, k, result.rungSizes.length));
  process.stdout.write(
    `best (validation ndcg@${k} ${result.best.ndcg.toFixed(4)}): ${JSON.stringify(result.best.params)}\n`,
  );
  if (applied !== null)
    process.stdout.write(`wrote model: ${options.model} with these params to ${applied}\n`);
}

/** Best first; `*` marks the defaults, and the rung column says how far each got. */
function resultTable(trials: readonly TrialResult[], k: number, rungs: number): string {
  return table([
    ['#', 'TRIAL', 'RUNG', 'PARAMS', `NDCG@${k}`, 'FIT S'],
    ...trials.map((t, i) => [
      String(i + 1),
      `${t.trial}${t.defaults ? '*' : ''}`,
      `${t.rungs.length - 1}/${rungs - 1}`,
      Object.entries(t.params)
        .map(([name, value]) => `${name}=${String(value)}`)
        .join(' '),
      t.ndcg.toFixed(4),
      t.fitSeconds.toFixed(2),
    ]),
  ]);
}

function wholeNumber(raw: string, flag: string, min: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min)
    throw new InvalidArgumentError(flag, `must be a whole number ≥ ${min}, got "${raw}"`);
  return n;
}

function parseColumns(list: string): LogColumns {
  const names = list.split(',').map((s) => s.trim());
  if (names.length < 2 || names.length > 4 || names.some((n) => n.length === 0))
    throw new InvalidArgumentError(
      '--columns',
      `expected user,item[,value[,timestamp]], got "${list}"`,
    );
  return { user: names[0], item: names[1], value: names[2] ?? null, timestamp: names[3] ?? null };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
