/**
 * One off-policy evaluation from end to end: split a log in time, train the target policy and
 * the reward model on the first part, estimate the policy's value on the rest.
 */
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../../core/errors.js';
import { CONTEXTUAL_KINDS, seededRandom, type PolicyKind } from '../bandit-policy.js';
import { createPolicy, isPolicyKind, POLICY_KINDS } from '../create-policy.js';
import { sliceBanditLog, type BanditLog } from './bandit-log.js';
import {
  DEFAULT_ESTIMATE_OPTIONS,
  estimatePolicyValue,
  MODEL_ESTIMATORS,
  type Estimate,
  type EstimatorName,
} from './estimate-policy-value.js';
import { RewardModel, type RewardModelOptions } from './reward-model.js';
import {
  targetProbabilities,
  trainPolicy,
  UNIFORM_POLICY,
  type ProbabilisticPolicy,
} from './target-policy.js';

/** Target policies {@link runOpe} can evaluate: the uniform random policy and every kiban policy. */
export const TARGET_POLICIES = ['uniform', ...POLICY_KINDS] as const;
/** One of {@link TARGET_POLICIES}. */
export type TargetPolicyName = (typeof TARGET_POLICIES)[number];

/** Options of {@link runOpe}. */
export interface RunOpeOptions {
  policy: TargetPolicyName;
  /** Policy parameters (see `createPolicy`). */
  params?: Record<string, number>;
  /**
   * Share of the rows (in log order, moved to a round boundary) that trains the policy and the
   * reward model; the rest is evaluated. 0 evaluates every row (allowed only for `uniform`
   * with estimators that need no reward model). @defaultValue 0.7
   */
  trainFraction?: number;
  /** How the policy learns from the training rows (see `trainPolicy`). @defaultValue 'all' */
  trainMode?: 'all' | 'replay';
  /** @defaultValue ips, snips, dm, dr, sndr */
  estimators?: readonly EstimatorName[];
  /** Bootstrap resamples. @defaultValue 200 */
  resamples?: number;
  /** Interval coverage. @defaultValue 0.95 */
  level?: number;
  /** Seeds the policy's randomness, the bootstrap and replay. @defaultValue 0 */
  seed?: number;
  /**
   * Monte Carlo decisions per round behind a Thompson sampling policy's probabilities. A
   * context-free policy (bts) is asked once for the whole log, with 100 × this many.
   * @defaultValue 200
   */
  samples?: number;
  rewardModel?: RewardModelOptions;
}

/** Defaults of {@link RunOpeOptions}. */
export const DEFAULT_RUN_OPE_OPTIONS = Object.freeze({
  trainFraction: 0.7,
  trainMode: 'all' as 'all' | 'replay',
  samples: 200,
  ...DEFAULT_ESTIMATE_OPTIONS,
});

/** What {@link runOpe} returns (and `kiban bandit ope --json` prints). */
export interface OpeReport {
  log: string;
  policy: TargetPolicyName;
  params: Record<string, number>;
  rows: number;
  trainRows: number;
  evalRows: number;
  actions: number;
  positions: number;
  contextDim: number;
  /** Mean logged reward of the evaluated rows (the behaviour policy's value there), with its interval. */
  observed: Estimate;
  /** Mean logged reward of the whole log. */
  observedAll: number;
  estimates: Partial<Record<EstimatorName, Estimate>>;
  bootstrap: { resamples: number; level: number; seed: number };
  weights: { mean: number; max: number; effectiveSampleSize: number };
  training: { mode: 'all' | 'replay' | 'none'; updates: number };
  replayMatches?: number;
  rewardModel: null | {
    link: 'logit' | 'identity';
    features: number;
    l2: number;
    validation: readonly { l2: number; loss: number }[];
    iterations: number;
    converged: boolean;
    trainLoss: number;
    evalLoss: number;
  };
  seconds: {
    train: number;
    rewardModel: number;
    probabilities: number;
    estimate: number;
    total: number;
  };
}

/**
 * Evaluates `options.policy` on `log`.
 *
 * @throws InvalidArgumentError for an unknown policy, a train fraction outside [0, 1), or a
 *   split that leaves no rows to evaluate or none to train on when training is needed.
 * @example
 * const report = runOpe(await readObdLog('datasets/open-bandit-random/men/men.csv'), { policy: 'linucb' });
 * console.log(report.estimates.dr);
 */
export function runOpe(log: BanditLog, options: RunOpeOptions): OpeReport {
  const o = { ...DEFAULT_RUN_OPE_OPTIONS, ...options };
  const started = performance.now();
  if (o.policy !== 'uniform' && !isPolicyKind(o.policy))
    throw new InvalidArgumentError(
      'policy',
      `unknown policy "${String(o.policy)}"; choose from ${TARGET_POLICIES.join(', ')}`,
    );
  if (!(o.trainFraction >= 0 && o.trainFraction < 1))
    throw new InvalidArgumentError('trainFraction', `must be in [0, 1), got ${o.trainFraction}`);
  if (!Number.isInteger(o.samples) || o.samples < 1)
    throw new InvalidArgumentError('samples', `must be a positive integer, got ${o.samples}`);
  const split = roundBoundary(log, Math.floor(log.rows * o.trainFraction));
  const train = sliceBanditLog(log, 0, split);
  const test = sliceBanditLog(log, split, log.rows);
  if (test.rows === 0)
    throw new InvalidArgumentError(
      'trainFraction',
      `${o.trainFraction} leaves no rows of ${log.rows} to evaluate`,
    );
  const needsModel = o.estimators.some((e) => MODEL_ESTIMATORS.includes(e));
  if (train.rows === 0 && (needsModel || o.policy !== 'uniform')) {
    const who = [
      ...(o.policy !== 'uniform' ? [`the ${o.policy} policy`] : []),
      ...(needsModel ? ['the reward model'] : []),
    ].join(' and ');
    throw new InvalidArgumentError(
      'trainFraction',
      `${o.trainFraction} leaves no rows to train ${who} on`,
    );
  }

  const random = seededRandom(o.seed);
  let policy: ProbabilisticPolicy = UNIFORM_POLICY;
  const contextFree = o.policy === 'uniform' || !CONTEXTUAL_KINDS.has(o.policy as PolicyKind);
  let params: Record<string, number> = {};
  let updates = 0;
  const t0 = performance.now();
  if (o.policy !== 'uniform') {
    const trained = createPolicy(o.policy as PolicyKind, {
      dim: log.contextDim,
      ...(o.params ? { params: o.params } : {}),
    });
    updates = trainPolicy(train, trained, { mode: o.trainMode, random });
    params = trained.snapshot().params;
    policy = trained;
  } else if (o.params !== undefined && Object.keys(o.params).length > 0) {
    throw new InvalidArgumentError('params', 'the uniform policy takes no parameters');
  }
  const t1 = performance.now();
  let model: RewardModel | null = null;
  let q: Float64Array | null = null;
  if (needsModel) {
    model = RewardModel.fit(train, o.rewardModel);
    q = model.predict(test);
  }
  const t2 = performance.now();
  const target = targetProbabilities(test, policy, {
    random,
    samples: contextFree ? o.samples * 100 : o.samples,
    contextFree,
  });
  const t3 = performance.now();
  const result = estimatePolicyValue(test, target, q, {
    estimators: o.estimators,
    resamples: o.resamples,
    level: o.level,
    seed: o.seed,
  });
  const t4 = performance.now();
  let rewardSum = 0;
  for (let i = 0; i < log.rows; i++) rewardSum += log.reward[i];
  const seconds = (a: number, b: number): number => Math.round(b - a) / 1000;
  return {
    log: log.source,
    policy: o.policy,
    params,
    rows: log.rows,
    trainRows: train.rows,
    evalRows: test.rows,
    actions: log.actions.length,
    positions: log.positions,
    contextDim: log.contextDim,
    observed: result.observed,
    observedAll: rewardSum / log.rows,
    estimates: result.estimates,
    bootstrap: { resamples: o.resamples, level: o.level, seed: o.seed },
    weights: result.weights,
    training: { mode: o.policy === 'uniform' ? 'none' : o.trainMode, updates },
    ...(result.replayMatches !== undefined ? { replayMatches: result.replayMatches } : {}),
    rewardModel:
      model === null
        ? null
        : {
            link: model.model.link,
            features: model.featureNames.length,
            l2: model.l2,
            validation: model.validation,
            iterations: model.model.iterations,
            converged: model.model.converged,
            trainLoss: model.evaluate(train),
            evalLoss: model.evaluate(test),
          },
    seconds: {
      train: seconds(t0, t1),
      rewardModel: seconds(t1, t2),
      probabilities: seconds(t2, t3),
      estimate: seconds(t3, t4),
      total: seconds(started, performance.now()),
    },
  };
}

/** The first row at or after `row` that starts a round (or `rows`). */
function roundBoundary(log: BanditLog, row: number): number {
  let at = row;
  while (at > 0 && at < log.rows && log.round[at] === log.round[at - 1]) at++;
  return at;
}
