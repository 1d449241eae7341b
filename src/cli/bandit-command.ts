import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import type { PolicyKind } from '../bandits/bandit-policy.js';
import { createPolicy } from '../bandits/create-policy.js';
import type { BanditLog } from '../bandits/ope/bandit-log.js';
import {
  DEFAULT_ESTIMATORS,
  ESTIMATORS,
  isEstimatorName,
  type EstimatorName,
} from '../bandits/ope/estimate-policy-value.js';
import { readDecisionLog } from '../bandits/ope/read-decision-log.js';
import { readObdLog } from '../bandits/ope/read-obd-log.js';
import { L2_GRID } from '../bandits/ope/reward-model.js';
import {
  runOpe,
  TARGET_POLICIES,
  type OpeReport,
  type TargetPolicyName,
} from '../bandits/ope/run-ope.js';
import { bundledPath } from './paths.js';

const MEN_LOG = 'datasets/open-bandit-random/men/men.csv';

interface OpeOptions {
  log: string;
  itemContext?: string;
  format: 'auto' | 'obd' | 'kiban';
  policy: string;
  param: string[];
  trainFraction: string;
  trainMode: 'all' | 'replay';
  estimators: string;
  resamples: string;
  level: string;
  seed: string;
  samples: string;
  l2: string;
  firstSlotOnly?: boolean;
  bandit?: string;
  json?: boolean;
}

/** `kiban bandit`: offline tools for bandit policies (off-policy evaluation). */
export function banditCommand(): Command {
  return new Command('bandit')
    .description('Offline tools for contextual bandit policies.')
    .addCommand(opeCommand());
}

function opeCommand(): Command {
  return new Command('ope')
    .description(
      'Off-policy evaluation: estimate the click rate a policy would have had, from a log of another (behaviour) policy. ' +
        'The first --train-fraction of the log trains the policy and the reward model; the rest is evaluated, per position (each row is one impression). ' +
        'Prints every estimator with a percentile bootstrap interval over rounds, and the observed reward rate of the evaluated rows.',
    )
    .option(
      '--log <path>',
      'Open Bandit Dataset CSV, or kiban decision log: a JSON-lines file or the directory `kiban serve` logs to',
      bundledPath(MEN_LOG),
    )
    .option('--item-context <file>', 'OBD item features (default: item_context.csv beside --log)')
    .addOption(
      new Option(
        '--format <format>',
        'log format; auto: a directory or a .jsonl/.ndjson/.json file is a kiban decision log, anything else OBD CSV',
      )
        .choices(['auto', 'obd', 'kiban'])
        .default('auto'),
    )
    .option(
      '--bandit <name>',
      "kiban logs: evaluate on this bandit's decisions (needed when the log holds several)",
    )
    .option('--policy <name>', `target policy: ${TARGET_POLICIES.join(' | ')}`, 'uniform')
    .option(
      '--param <name=value>',
      'policy parameter, repeatable (e.g. --param alpha=0.5)',
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option(
      '--train-fraction <f>',
      'share of the log (first rows) that trains the policy and the reward model',
      '0.7',
    )
    .addOption(
      new Option(
        '--train-mode <mode>',
        'all: every training row updates the policy; replay: only rows whose logged item the policy would have put at that position',
      )
        .choices(['all', 'replay'])
        .default('all'),
    )
    .option(
      '--estimators <list>',
      `comma-separated, from ${ESTIMATORS.join(', ')}`,
      DEFAULT_ESTIMATORS.join(','),
    )
    .option('--resamples <n>', 'bootstrap resamples', '200')
    .option('--level <p>', 'interval coverage', '0.95')
    .option('--seed <n>', 'seed of the policy, the bootstrap and replay', '0')
    .option(
      '--samples <n>',
      "simulated decisions per round behind a Thompson sampling policy's probabilities",
      '200',
    )
    .option(
      '--l2 <value>',
      `reward model L2 penalty (1/C), or auto: 5-fold cross-validation over ${L2_GRID.join(', ')}`,
      'auto',
    )
    .option(
      '--first-slot-only',
      'kiban logs: keep only slot 0 of each decision (later slots log conditional propensities)',
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .addHelpText(
      'after',
      '\nExamples:\n  kiban bandit ope --policy uniform --json\n  kiban bandit ope --log datasets/open-bandit-random/women/women.csv --policy linucb --param alpha=0.1 --estimators ips,snips,dm,dr,sndr,replay',
    )
    .action(async (options: OpeOptions) => runOpeCommand(options));
}

async function runOpeCommand(options: OpeOptions): Promise<void> {
  // Every option is checked before the log is read, so a typo fails fast.
  if (!(TARGET_POLICIES as readonly string[]).includes(options.policy)) {
    throw new InvalidArgumentError(
      '--policy',
      `unknown policy "${options.policy}"; choose one of ${TARGET_POLICIES.join(', ')}`,
    );
  }
  const params = parseParams(options.param);
  const trainFraction = number(
    options.trainFraction,
    '--train-fraction',
    (x) => x >= 0 && x < 1,
    'a number in [0, 1)',
  );
  const resamples = number(
    options.resamples,
    '--resamples',
    (x) => Number.isInteger(x) && x >= 0,
    'a non-negative integer',
  );
  const level = number(options.level, '--level', (x) => x > 0 && x < 1, 'a number in (0, 1)');
  const seed = number(options.seed, '--seed', Number.isSafeInteger, 'an integer');
  const samples = number(
    options.samples,
    '--samples',
    (x) => Number.isInteger(x) && x >= 1,
    'a positive integer',
  );
  const l2 =
    options.l2 === 'auto'
      ? 'auto'
      : number(options.l2, '--l2', (x) => x >= 0, 'a non-negative number or "auto"');
  const estimators = parseEstimators(options.estimators);
  if (options.policy === 'uniform' && Object.keys(params).length > 0)
    throw new InvalidArgumentError('--param', 'the uniform policy takes no parameters');
  if (options.policy !== 'uniform') createPolicy(options.policy as PolicyKind, { dim: 1, params }); // checks the parameters' names and ranges
  const isDirectory = (await stat(options.log).catch(() => null))?.isDirectory() === true;
  const format =
    options.format === 'auto'
      ? isDirectory || /^\.(jsonl|ndjson|json)$/i.test(extname(options.log))
        ? 'kiban'
        : 'obd'
      : options.format;
  if (format === 'kiban' && options.itemContext !== undefined)
    throw new InvalidArgumentError(
      '--item-context',
      'applies to Open Bandit Dataset CSV logs only',
    );
  if (format === 'obd' && (options.bandit !== undefined || options.firstSlotOnly === true))
    throw new InvalidArgumentError(
      options.bandit !== undefined ? '--bandit' : '--first-slot-only',
      'applies to kiban decision logs only',
    );

  let log: BanditLog;
  if (format === 'obd') {
    log = await readObdLog(
      options.log,
      options.itemContext !== undefined ? { itemContext: options.itemContext } : {},
    );
  } else {
    const read = await readDecisionLog(options.log, {
      firstSlotOnly: options.firstSlotOnly === true,
      ...(options.bandit !== undefined ? { bandit: options.bandit } : {}),
    }).catch((error: unknown) => {
      // The reader names its option `bandit`; on the command line it is `--bandit`.
      throw error instanceof InvalidArgumentError && error.field === 'bandit'
        ? new InvalidArgumentError('--bandit', error.reason)
        : error;
    });
    log = read.log;
    if (read.missingRewards > 0)
      note(`${options.log}: ${read.missingRewards} impressions have no reward; counted as 0`);
    if (read.laterSlotImpressions > 0) {
      note(
        `${options.log}: ${read.laterSlotImpressions} impressions come from slots after the first of multi-slot decisions, whose logged propensities are conditional on the earlier slots; per-position estimates need marginal ones (use --first-slot-only to keep slot 0 only)`,
      );
    }
  }
  note(
    `${log.source}: ${log.rows} rows, ${log.actions.length} actions, ${log.positions} positions, context of ${log.contextDim}`,
  );
  const report = runOpe(log, {
    policy: options.policy as TargetPolicyName,
    ...(Object.keys(params).length > 0 ? { params } : {}),
    trainFraction,
    trainMode: options.trainMode,
    estimators,
    resamples,
    level,
    seed,
    samples,
    rewardModel: { l2 },
  });
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
}

function printReport(r: OpeReport): void {
  const pct = `${Math.round(r.bootstrap.level * 100)}%`;
  const f = (x: number): string => (Number.isNaN(x) ? 'n/a' : x.toFixed(5));
  const out: string[] = [
    `policy ${r.policy}${
      Object.keys(r.params).length > 0
        ? ` (${Object.entries(r.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')})`
        : ''
    }: trained on ${r.trainRows} rows, evaluated on ${r.evalRows}`,
    `${'estimator'.padEnd(10)}${'value'.padStart(10)}   ${pct} interval`,
    `${'observed'.padEnd(10)}${f(r.observed.value).padStart(10)}   [${f(r.observed.ci[0])}, ${f(r.observed.ci[1])}]`,
  ];
  for (const [name, e] of Object.entries(r.estimates))
    out.push(`${name.padEnd(10)}${f(e.value).padStart(10)}   [${f(e.ci[0])}, ${f(e.ci[1])}]`);
  out.push(
    `importance weights: mean ${r.weights.mean.toFixed(3)}, max ${r.weights.max.toFixed(2)}, effective sample size ${r.weights.effectiveSampleSize.toFixed(0)} of ${r.evalRows}`,
  );
  if (r.rewardModel !== null)
    out.push(
      `reward model: ${r.rewardModel.link}, ${r.rewardModel.features} features, l2 ${r.rewardModel.l2}, held-out loss ${r.rewardModel.evalLoss.toFixed(5)}`,
    );
  out.push(`${r.seconds.total.toFixed(2)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function parseParams(list: string[]): Record<string, number> {
  const params: Record<string, number> = {};
  for (const item of list) {
    const match = /^([A-Za-z][A-Za-z0-9_]*)=(.+)$/.exec(item.trim());
    const value = match === null ? Number.NaN : Number(match[2]);
    if (match === null || !Number.isFinite(value))
      throw new InvalidArgumentError('--param', `expected name=number, got "${item}"`);
    params[match[1]] = value;
  }
  return params;
}

function parseEstimators(list: string): EstimatorName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0)
    throw new InvalidArgumentError('--estimators', 'name at least one estimator');
  for (const name of names)
    if (!isEstimatorName(name))
      throw new InvalidArgumentError(
        '--estimators',
        `unknown estimator "${name}"; choose from ${ESTIMATORS.join(', ')}`,
      );
  return [...new Set(names)] as EstimatorName[];
}

function number(text: string, flag: string, ok: (x: number) => boolean, what: string): number {
  const x = text.trim() === '' ? Number.NaN : Number(text);
  if (!ok(x)) throw new InvalidArgumentError(flag, `must be ${what}, got "${text}"`);
  return x;
}

function note(message: string): void {
  process.stderr.write(`${message}\n`);
}
