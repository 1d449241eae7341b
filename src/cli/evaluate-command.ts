import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import { Interactions } from '../data/interactions.js';
import type { InteractionLog } from '../data/interaction-log.js';
import {
  type ItemFeatureColumn,
  type ItemFeatures,
  parseItemFeatureSpec,
  readItemFeatures,
} from '../data/item-features.js';
import { readInteractionLog, type LogColumns } from '../data/read-interaction-log.js';
import {
  embedsUsers,
  evaluateColdStart,
  holdOutColdUsers,
  type ColdStartBucket,
} from '../evaluation/cold-start.js';
import { evaluateRecommender } from '../evaluation/evaluate.js';
import { renderCurvesSvg, type CurveSeries } from '../evaluation/plot-curves.js';
import { builtinModels } from '../models/builtin-models.js';
import { UnknownModelError, type ModelRegistry } from '../models/model-registry.js';
import { addModelOptions, modelParamsFromOptions } from './model-options.js';
import { bundledPath } from './paths.js';

interface EvaluateOptions {
  train: string;
  test: string;
  model: string;
  all?: boolean;
  k: string;
  json?: boolean;
  skipBadRows?: boolean;
  valueMode: string;
  columns: string;
  idType: 'integer' | 'string';
  save?: string;
  plot?: string;
  coldUsers?: string;
  coldSeed: string;
  itemFeatures?: string;
  itemFeatureColumns?: string;
  itemFeaturesId?: string;
  [param: string]: unknown;
}

/** One model's evaluation, as printed with `--json`. */
export interface EvaluationRecord {
  model: string;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  fitSeconds: number;
  evaluateSeconds: number;
  users: number;
  coldUsers: number;
  /** With `--cold-users`: warm and cold users' nDCG@k and their ratio at equal interaction counts. */
  coldStart?: ColdStartRecord;
  /** With `--item-features`: the table, its feature count and how many training items it covers. */
  itemFeatures?: { file: string; features: number; matchedItems: number };
}

/** The `coldStart` part of an {@link EvaluationRecord} (`--cold-users`). */
export interface ColdStartRecord {
  fraction: number;
  seed: number;
  /** Test users trained on, and their mean nDCG@k. */
  warm: { users: number; ndcg: number };
  /** Test users held out of training and embedded from their training items, and their mean nDCG@k. */
  cold: { users: number; ndcg: number };
  /** Warm nDCG@k weighted to the cold users' interaction counts (buckets of training items). */
  matchedWarmNdcg: number;
  matchedColdNdcg: number;
  /** matchedColdNdcg / matchedWarmNdcg (the goal: ≥ 0.9); null when undefined. */
  ratio: number | null;
  buckets: ColdStartBucket[];
}

/**
 * `kiban evaluate`: fit models on a train file and score their top-k lists on a test file. The
 * models, `--model`'s choices, `--all` and the hyper-parameter flags come from `models`.
 *
 * @example
 * await evaluateCommand(builtinModels().register(myModel)).parseAsync(['--model', 'mine', '--json'], { from: 'user' });
 */
export function evaluateCommand(models: ModelRegistry = builtinModels()): Command {
  const kinds = models.kinds();
  const command = new Command('evaluate')
    .description(
      'Fit one or every model on a training file and report ranking metrics at k on a test file. ' +
        "Each user with at least one test item is scored on a top-k list that leaves out the user's " +
        'training items. Defaults evaluate on the bundled MovieLens split.',
    )
    .option(
      '--train <path>',
      'training interactions (CSV with a header, or Parquet)',
      bundledPath('datasets/ml-latest-small/splits/train.csv'),
    )
    .option(
      '--test <path>',
      'held-out interactions, same columns',
      bundledPath('datasets/ml-latest-small/splits/test.csv'),
    )
    .addOption(
      new Option('--model <name>', `model to evaluate: ${kinds.join(' | ')}`).default('als'),
    )
    .option('--all', 'evaluate every model, one after another')
    .option('--k <n>', 'list length', '10')
    .option('--json', 'print the result as one JSON object on the last line')
    .option(
      '--skip-bad-rows',
      'drop malformed rows (reporting how many) instead of failing on the first',
    )
    .addOption(
      new Option(
        '--value-mode <how>',
        'binary: every (user, item) pair counts 1; value: sum the value column',
      )
        .choices(['binary', 'value'])
        .default('binary'),
    )
    .option(
      '--columns <list>',
      'user,item[,value[,timestamp]] column names',
      'userId,movieId,rating,timestamp',
    )
    .addOption(
      new Option(
        '--id-type <type>',
        'string: ids are kept exactly as written ("007" and "7" differ); integer: ids must be integers (checked)',
      )
        .choices(['string', 'integer'])
        .default('string'),
    )
    .option(
      '--save <dir>',
      'save the fitted model to this directory (with --all: one sub-directory per model)',
    )
    .option(
      '--plot <file.svg>',
      'also draw recall, nDCG, precision and MAP at every k up to --k, one line per model, as an SVG chart',
    )
    .option(
      '--cold-users <fraction>',
      'hold this seeded share of the training users out of training and embed them at test time ' +
        'from their training items only (models that embed users: graphsage, gat); reports warm ' +
        'and cold nDCG and their ratio at equal interaction counts',
    )
    .option('--cold-seed <n>', 'seed of the --cold-users draw', '42')
    .option(
      '--item-features <path>',
      'item table (CSV with a header, or Parquet) whose columns (--item-feature-columns) become item ' +
        'side features of the models that use them (graphsage, gat); the others ignore them',
    )
    .option(
      '--item-feature-columns <spec>',
      'with --item-features: comma-separated column:kind, kind multi[:separator] (multi-hot, ' +
        'separator default |), cat (one-hot) or num (standardised), e.g. "genres:multi:|,year:num"',
    )
    .option(
      '--item-features-id <column>',
      "with --item-features: the table's item id column (default: its first column)",
    )
    .addHelpText(
      'after',
      `\nModels:\n${models
        .definitions()
        .map((d) => `  ${d.kind.padEnd(11)} ${d.describe ?? ''}`.trimEnd())
        .join(
          '\n',
        )}\n\nExample:\n  kiban evaluate --train train.csv --test test.csv --model als --k 10 --json`,
    );
  addModelOptions(command, models);
  return command.action(async (options: EvaluateOptions) => runEvaluate(options, models));
}

async function runEvaluate(options: EvaluateOptions, models: ModelRegistry): Promise<void> {
  const k = Number(options.k);
  if (!Number.isInteger(k) || k <= 0)
    throw new InvalidArgumentError('--k', `must be a positive integer, got "${options.k}"`);
  if (!options.all && !models.has(options.model)) {
    throw new UnknownModelError(options.model, models.kinds(), '--model');
  }
  const kinds = options.all ? models.kinds() : [options.model];
  // Parameters are checked before any data is read, so a typo fails fast.
  const paramsByKind = new Map(
    kinds.map((kind) => [
      kind,
      modelParamsFromOptions(kind, options, options.all === true, models),
    ]),
  );
  const coldFraction = parseColdUsers(options);
  const featureColumns = parseItemFeatureOptions(options);
  for (const [kind, params] of paramsByKind) {
    const model = models.create(kind, params);
    if (coldFraction !== null && !embedsUsers(model))
      throw new InvalidArgumentError(
        '--cold-users',
        `model "${kind}" cannot embed a user it was not trained on (no embedUsers); use a model that does: ${embeddingKinds(models).join(', ')}`,
      );
  }

  const readOptions = {
    columns: parseColumns(options.columns),
    idType: options.idType,
    badRows: options.skipBadRows ? ('skip' as const) : ('error' as const),
  };
  const [trainLog, testLog] = await Promise.all([
    readInteractionLog(options.train, readOptions),
    readInteractionLog(options.test, readOptions),
  ]);
  reportSkipped(trainLog);
  reportSkipped(testLog);
  const train = Interactions.fromLog(trainLog, options.valueMode as 'binary' | 'value');
  log(
    `train: ${trainLog.rows} rows, ${train.users.size} users, ${train.items.size} items, ${train.nnz} pairs; test: ${testLog.rows} rows`,
  );

  const split =
    coldFraction === null ? null : holdOutColdUsers(train, coldFraction, Number(options.coldSeed));
  if (split !== null)
    log(
      `cold users: ${split.cold.ids.length} of ${train.users.size} held out of training (seed ${split.seed}); training on ${split.warm.users.size} users, ${split.warm.items.size} items, ${split.warm.nnz} pairs`,
    );

  let itemFeatures: ItemFeatures | undefined;
  if (featureColumns !== null) {
    itemFeatures = await readItemFeatures(
      options.itemFeatures!,
      featureColumns,
      (split?.warm ?? train).items,
      { idColumn: options.itemFeaturesId },
    );
    log(
      `item features: ${itemFeatures.nFeatures} from ${options.itemFeatures} for ${itemFeatures.matched} of ${(split?.warm ?? train).items.size} training items`,
    );
  }

  const records: EvaluationRecord[] = [];
  const series: CurveSeries[] = [];
  for (const kind of kinds) {
    const model = models.create(kind, paramsByKind.get(kind));
    const fit = await model.fit(split?.warm ?? train, itemFeatures ? { itemFeatures } : {});
    const cold =
      split !== null && embedsUsers(model) ? evaluateColdStart(model, testLog, split, { k }) : null;
    const result = cold?.result ?? evaluateRecommender(model, testLog, { k });
    if (options.save !== undefined)
      await model.save(options.all ? join(options.save, kind) : options.save);
    const record: EvaluationRecord = {
      model: kind,
      params: { ...model.params },
      metrics: result.metrics,
      fitSeconds: round(fit.seconds, 3),
      evaluateSeconds: round(result.seconds, 3),
      users: result.users,
      coldUsers: result.coldUsers,
    };
    if (itemFeatures !== undefined)
      record.itemFeatures = {
        file: options.itemFeatures!,
        features: itemFeatures.nFeatures,
        matchedItems: itemFeatures.matched,
      };
    if (cold !== null)
      record.coldStart = {
        fraction: cold.fraction,
        seed: cold.seed,
        warm: { users: cold.warm.users, ndcg: round(cold.warm.ndcg, 6) },
        cold: { users: cold.cold.users, ndcg: round(cold.cold.ndcg, 6) },
        matchedWarmNdcg: round(cold.matchedWarmNdcg, 6),
        matchedColdNdcg: round(cold.matchedColdNdcg, 6),
        ratio: Number.isNaN(cold.ratio) ? null : round(cold.ratio, 4),
        buckets: cold.buckets.map((b) => ({
          ...b,
          warmNdcg: b.warmNdcg === null ? null : round(b.warmNdcg, 6),
          coldNdcg: b.coldNdcg === null ? null : round(b.coldNdcg, 6),
        })),
      };
    records.push(record);
    series.push({ name: kind, curves: result.curves });
    if (!options.json) {
      printRow(record, k, records.length === 1, models.kinds());
      if (record.coldStart) printColdStart(record.coldStart, k);
    }
  }
  if (options.plot !== undefined) {
    await writeFile(
      options.plot,
      renderCurvesSvg(series, `Ranking quality by list length (${testLog.source})`),
    );
    log(`chart written to ${options.plot}`);
  }
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(records.length === 1 && !options.all ? records[0] : { k, models: records })}\n`,
    );
  }
}

/** `--cold-users` as a fraction in (0, 1), or null without it. */
function parseColdUsers(options: EvaluateOptions): number | null {
  if (options.coldUsers === undefined) return null;
  const fraction = Number(options.coldUsers);
  if (!(fraction > 0 && fraction < 1))
    throw new InvalidArgumentError(
      '--cold-users',
      `must be a fraction between 0 and 1 (exclusive), got "${options.coldUsers}"`,
    );
  const seed = Number(options.coldSeed);
  if (!Number.isInteger(seed))
    throw new InvalidArgumentError('--cold-seed', `must be an integer, got "${options.coldSeed}"`);
  return fraction;
}

/**
 * The columns of `--item-features`, or null without it; `--item-feature-columns` is required
 * with it and refused without it.
 */
function parseItemFeatureOptions(options: EvaluateOptions): ItemFeatureColumn[] | null {
  if (options.itemFeatures === undefined) {
    if (options.itemFeatureColumns !== undefined || options.itemFeaturesId !== undefined)
      throw new InvalidArgumentError(
        options.itemFeatureColumns !== undefined ? '--item-feature-columns' : '--item-features-id',
        'needs --item-features (the item table)',
      );
    return null;
  }
  if (options.itemFeatureColumns === undefined)
    throw new InvalidArgumentError(
      '--item-feature-columns',
      'is required with --item-features, e.g. "genres:multi:|"',
    );
  return parseItemFeatureSpec(options.itemFeatureColumns, '--item-feature-columns');
}

/** The registry's models that embed users from their items. */
function embeddingKinds(models: ModelRegistry): string[] {
  return models.kinds().filter((kind) => {
    try {
      return embedsUsers(models.create(kind));
    } catch {
      return false;
    }
  });
}

function printColdStart(c: ColdStartRecord, k: number): void {
  const ratio = c.ratio === null ? 'n/a' : c.ratio.toFixed(3);
  process.stdout.write(
    `  warm users ${c.warm.users}: ndcg@${k} ${c.warm.ndcg.toFixed(4)}; cold users ${c.cold.users} (embedded from their training items): ndcg@${k} ${c.cold.ndcg.toFixed(4)}
` +
      `  at equal interaction counts: cold ${c.matchedColdNdcg.toFixed(4)} / warm ${c.matchedWarmNdcg.toFixed(4)} = ${ratio}
`,
  );
}

function parseColumns(list: string): LogColumns {
  const names = list.split(',').map((s) => s.trim());
  if (names.length < 2 || names.length > 4 || names.some((n) => n.length === 0)) {
    throw new InvalidArgumentError(
      '--columns',
      `expected user,item[,value[,timestamp]], got "${list}"`,
    );
  }
  return { user: names[0], item: names[1], value: names[2] ?? null, timestamp: names[3] ?? null };
}

function reportSkipped(input: InteractionLog): void {
  if (input.skipped === 0) return;
  const first = input.badRows[0];
  const where = first.line !== undefined ? `line ${first.line}` : `row ${first.row}`;
  log(
    `${input.source}: skipped ${input.skipped} malformed row${input.skipped === 1 ? '' : 's'} (first at ${where}${first.column ? `, column "${first.column}"` : ''}: ${first.reason})`,
  );
}

/**
 * One line of the metrics table (the header line when `header`). Every column is as wide as its
 * longest possible cell plus a gap of two, so that columns stay apart at any k
 * (`precision@1000` is 14 characters) and values sit right-aligned under their names.
 */
function printRow(r: EvaluationRecord, k: number, header: boolean, kinds: readonly string[]): void {
  const cols = [`precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`, 'coverage'];
  const modelWidth = Math.max(...kinds.map((m) => m.length), 'model'.length) + 2;
  // A metric is printed with 4 decimals in [0, 1]: 6 characters.
  const width = (name: string): number => Math.max(name.length, 6) + 2;
  const fit = r.fitSeconds.toFixed(2);
  const fitWidth = Math.max('fit s'.length, fit.length, 7) + 2;
  if (header)
    process.stdout.write(
      `${'model'.padEnd(modelWidth)}${cols.map((c) => c.padStart(width(c))).join('')}${'fit s'.padStart(fitWidth)}\n`,
    );
  process.stdout.write(
    `${r.model.padEnd(modelWidth)}${cols.map((c) => r.metrics[c].toFixed(4).padStart(width(c))).join('')}${fit.padStart(fitWidth)}\n`,
  );
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
