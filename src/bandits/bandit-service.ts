import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import {
  BanditReportAggregator,
  parseReportRange,
  type ReportRange,
} from './bandit-report-aggregator.js';
import { buildBanditReport, type BanditReport } from './bandit-report.js';
import type { Feedback } from './bandit-policy.js';
import { createPolicy, isPolicyKind, POLICY_KINDS } from './create-policy.js';
import type { DecisionLogWriter } from './decision-log.js';
import {
  type BanditFeatureSource,
  type FeatureContextRequest,
  type FetchedFeatureContext,
  featureContextWidth,
  fetchFeatureContext,
} from './feature-context.js';
import { feedbackIncrements, statisticsWidth } from './sufficient-statistics.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { childLogger, processLogger, type Logger } from '../core/log.js';
import { checkBanditName, checkDecisionId, type BanditStore } from '../storage/bandit-store.js';
import {
  checkArmLimit,
  checkDecideLimits,
  resolveBanditLimits,
  type BanditLimits,
} from './bandit-limits.js';
import {
  duplicateFeedbackError,
  LiveBandit,
  parseDefinition,
  unknownDecisionError,
  type BanditDefinition,
} from './live-bandit.js';

/** Options of {@link BanditService}. */
export interface BanditServiceOptions {
  /** How often each bandit this process serves checks the store for newer statistics or a new definition, in ms. @defaultValue 200 */
  pollMs?: number;
  /** How long a decision waits for its feedback, in ms. @defaultValue 3,600,000 (one hour) */
  decisionTtlMs?: number;
  /** Where decisions and feedback are logged; null logs nothing. @defaultValue null */
  log?: DecisionLogWriter | null;
  /** Uniform random source of the policies' choices. @defaultValue Math.random */
  random?: () => number;
  /**
   * Where problems of the background poll are reported, instead of {@link BanditServiceOptions.logger}.
   * @defaultValue an `error` entry on the logger (with `err`, and `bandit` where one is concerned)
   */
  onError?: (error: unknown) => void;
  /** Where the service logs. @defaultValue the process logger's `bandits` child ({@link processLogger}) */
  logger?: Logger;
  /** What one request may ask (see {@link BanditLimits}); each left out keeps its default. */
  limits?: Partial<BanditLimits>;
  /**
   * Where contexts named by feature service come from (`context: {featureService, entity}`, see
   * `feature-context.ts`): the feature repository and its online store. Without it such contexts
   * and definitions with a `featureService` are refused. @defaultValue null
   */
  features?: BanditFeatureSource | null;
}

/**
 * How long feedback on a decision the store does not hold waits before looking once more, in ms:
 * decisions are answered before their record is stored (see {@link BanditService.decide}).
 */
const UNKNOWN_RECHECK_MS = 30;

/** Defaults of {@link BanditServiceOptions}. */
export const BANDIT_SERVICE_DEFAULTS = Object.freeze({ pollMs: 200, decisionTtlMs: 3_600_000 });

/** What `PUT /v1/bandits/{name}` asks for. */
export interface DefineBanditInput {
  /** One of the policy kinds. */
  policy: string;
  /** Context length; required (≥ 1) for `linucb` and `lints`. @defaultValue 0 */
  dim?: number;
  params?: Record<string, number>;
  /**
   * The feature service decisions read their context from when they name only an entity
   * (`context: {entity}`); its features must be numeric or bool and as many as `dim`.
   * @defaultValue none
   */
  featureService?: string;
}

/** What a decision asks for. */
export interface DecideRequest {
  /**
   * `dim` numbers; or a feature service (default: the bandit's) and an entity whose features
   * are read from the online store as the context (see `feature-context.ts`); may be left out
   * when the bandit's dim is 0.
   */
  context?: readonly number[] | FeatureContextRequest;
  candidates: readonly string[];
  /** @defaultValue 1 */
  slots?: number;
}

/** What a decision answers. */
export interface DecideResult {
  decisionId: string;
  arms: string[];
  propensities: number[];
  /** The statistics version of the policy that decided. */
  version: number;
  /** With a context read from a feature service: which, and how many features were filled with 0. */
  featureContext?: { featureService: string; missing: number; expired: number };
}

/** Feedback on one decision: a reward per chosen arm, in slot order, or by arm id (arms left out earned 0). */
export interface FeedbackRequest {
  decisionId: string;
  rewards: readonly number[] | Readonly<Record<string, number>>;
}

/** What feedback answers. */
export interface FeedbackResult {
  decisionId: string;
  arms: string[];
  rewards: number[];
  /** The statistics version that includes this feedback. */
  version: number;
}

/** A bandit's definition and shared statistics, as `GET /v1/bandits/{name}` shows them. */
export interface BanditSummary extends Omit<BanditDefinition, 'generation'> {
  name: string;
  version: number;
  /** Per arm with feedback, by id: the count, reward sum and mean reward. */
  arms: { arm: string; n: number; rewardSum: number; mean: number }[];
}

/** The record kept in the store for a decision's feedback. */
interface DecisionRecord {
  /** Definition generation. */
  g: string;
  arms: string[];
  /** Context. */
  x: number[];
}

/**
 * Online bandits over a shared {@link BanditStore}: any number of server processes, each with a
 * `BanditService` on the same store, serve the same bandits. Bandits are created by
 * {@link BanditService.define} (`PUT /v1/bandits/{name}`) and live in the store.
 *
 * - A decision chooses with the process's in-memory policy, sends a small record for the
 *   feedback (with a TTL) to the store without waiting for it, and logs the decision; the record
 *   is what lets any process take the feedback.
 * - Feedback reads the decision's record, turns the rewards into additive statistics increments
 *   and sends them in mini-batches ({@link LiveBandit.add}), each of which marks its decisions fed
 *   back in the same atomic step that adds their increments (exactly once: a repeat is a
 *   {@link ConflictError}); the reply waits until its batch is stored. A process that dies before
 *   that leaves the decision open, so the client's retry counts.
 * - Every `pollMs` each process checks the store's statistics version and rebuilds its policy when
 *   it moved, so feedback taken by any process reaches every process's decisions within about
 *   `pollMs`.
 *
 * @example
 * const service = new BanditService(store, { log: await DecisionLogWriter.open(path) });
 * await service.define('home', { policy: 'linucb', dim: 20 });
 * const { decisionId, arms } = await service.decide('home', { context, candidates, slots: 3 });
 * await service.feedback('home', { decisionId, rewards: { [arms[0]]: 1 } });
 */
export class BanditService {
  readonly #store: BanditStore;
  readonly #pollMs: number;
  readonly #ttlMs: number;
  readonly #log: DecisionLogWriter | null;
  readonly #random: () => number;
  readonly #features: BanditFeatureSource | null;
  readonly #onError: (error: unknown, fields?: Record<string, unknown>) => void;
  /** The request limits in force, defaults applied. */
  readonly limits: Readonly<BanditLimits>;
  readonly #live = new Map<string, LiveBandit>();
  readonly #loading = new Map<string, Promise<LiveBandit>>();
  #timer: NodeJS.Timeout | null = null;
  #failedRecords = 0;
  #failureReportedAt = -Infinity;
  #polling: Promise<void> | null = null;

  constructor(store: BanditStore, options: BanditServiceOptions = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? BANDIT_SERVICE_DEFAULTS.pollMs;
    this.#ttlMs = options.decisionTtlMs ?? BANDIT_SERVICE_DEFAULTS.decisionTtlMs;
    if (!(this.#pollMs > 0))
      throw new InvalidArgumentError('pollMs', `must be > 0, got ${this.#pollMs}`);
    if (!Number.isSafeInteger(this.#ttlMs) || this.#ttlMs < 1)
      throw new InvalidArgumentError('decisionTtlMs', `must be an integer ≥ 1, got ${this.#ttlMs}`);
    this.#log = options.log ?? null;
    this.#random = options.random ?? Math.random;
    this.#features = options.features ?? null;
    this.limits = resolveBanditLimits(options.limits);
    const onError = options.onError;
    const logger = options.logger ?? childLogger(processLogger(), 'bandits');
    this.#onError =
      onError === undefined
        ? (error, fields = {}) =>
            logger.error(
              { ...fields, err: error },
              `bandits: ${String((error as Error)?.message ?? error)}`,
            )
        : (error) => onError(error);
  }

  /** Starts the background poll (its timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.#polling ??= this.#poll().finally(() => {
        this.#polling = null;
      });
    }, this.#pollMs);
    this.#timer.unref();
  }

  /** Stops polling and waits for queued feedback to be stored. The store and log stay open (their owner closes them). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#polling;
    await Promise.all([...this.#live.values()].map((live) => live.drain()));
  }

  /**
   * Creates bandit `name`, or confirms it when it exists with the same policy, dim and parameters
   * (`created` false). @throws ConflictError when it exists with another definition;
   * InvalidArgumentError for an unknown policy, a bad dim or bad parameters.
   */
  async define(
    name: string,
    input: DefineBanditInput,
  ): Promise<{ created: boolean; definition: BanditDefinition }> {
    checkBanditName(name);
    if (!isPolicyKind(input.policy))
      throw new InvalidArgumentError(
        'policy',
        `unknown policy "${String(input.policy)}"; known: ${POLICY_KINDS.join(', ')}`,
      );
    const dim = input.dim ?? 0;
    const policy = createPolicy(input.policy, { dim, params: input.params ?? {} });
    if (input.featureService !== undefined) this.#checkFeatureService(input.featureService, dim);
    const definition: BanditDefinition = {
      policy: input.policy,
      dim,
      params: { ...policy.params },
      ...(input.featureService === undefined ? {} : { featureService: input.featureService }),
      createdAt: new Date().toISOString(),
      generation: randomUUID(),
    };
    const result = await this.#store.createBandit(name, JSON.stringify(definition));
    if (result.created) return { created: true, definition };
    const existing = parseDefinition(name, result.definition);
    const same =
      existing.policy === definition.policy &&
      existing.dim === dim &&
      sameParams(existing.params, definition.params) &&
      existing.featureService === definition.featureService;
    if (!same) {
      const service =
        existing.featureService === undefined
          ? ''
          : `, feature service "${existing.featureService}"`;
      throw new ConflictError(
        `bandit "${name}" exists with another definition (policy ${existing.policy}, dim ${existing.dim}, params ${JSON.stringify(existing.params)}${service}); delete it first`,
      );
    }
    return { created: false, definition: existing };
  }

  /** Checks that `featureService` can give a bandit of `dim` its context. @throws InvalidArgumentError naming `featureService` */
  #checkFeatureService(featureService: string, dim: number): void {
    if (this.#features === null)
      throw new InvalidArgumentError(
        'featureService',
        'this server has no feature repository (configure features to take contexts from the feature store)',
      );
    const width = featureContextWidth(this.#features.repo, featureService, 'featureService');
    if (width !== dim)
      throw new InvalidArgumentError(
        'featureService',
        `feature service "${featureService}" gives ${width} feature(s); dim is ${dim}`,
      );
  }

  /** The context a decision names by feature service, read from the online store. */
  async #fetchContext(
    name: string,
    definition: BanditDefinition,
    request: FeatureContextRequest,
  ): Promise<FetchedFeatureContext> {
    if (this.#features === null)
      throw new InvalidArgumentError(
        'context',
        'names a feature service, but this server has no feature repository; send the context as numbers',
      );
    const featureService = request.featureService ?? definition.featureService;
    if (featureService === undefined)
      throw new InvalidArgumentError(
        'context.featureService',
        `is needed: bandit "${name}" names no default feature service`,
      );
    return fetchFeatureContext(
      this.#features,
      featureService,
      request.entity,
      definition.dim,
      name,
    );
  }

  /** Names of every bandit, sorted. */
  list(): Promise<string[]> {
    return this.#store.listBandits();
  }

  /** The bandit's definition and its shared statistics, read from the store now. @throws NotFoundError */
  async summary(name: string): Promise<BanditSummary> {
    checkBanditName(name);
    const stored = await this.#store.getBandit(name);
    if (stored === null) throw new NotFoundError(`bandit "${name}"`);
    const { generation: _, ...definition } = parseDefinition(name, stored.definition);
    const live = this.#live.get(name);
    const width = live?.width ?? statisticsWidth(definition.policy, definition.dim);
    const statistics = await this.#store.readStatistics(name, width);
    if (statistics === null) throw new NotFoundError(`bandit "${name}"`);
    const arms = [...statistics.arms]
      .map(([arm, v]) => ({ arm, n: v[0], rewardSum: v[1], mean: v[0] > 0 ? v[1] / v[0] : 0 }))
      .sort((a, b) => (a.arm < b.arm ? -1 : a.arm > b.arm ? 1 : 0));
    return { name, ...definition, version: statistics.version, arms };
  }

  /**
   * Arm selection shares and reward rate over time of bandit `name` for decisions in `range`
   * ([from, to), ISO-8601, either optional), from the decision logs of every process in the
   * directory this process logs to, read incrementally ({@link BanditReportAggregator}: each call
   * reads only what was appended since the last); empty when this service logs nothing. Flushes
   * this process's pending lines first. @throws NotFoundError; InvalidArgumentError naming `from`
   * or `to` for a malformed range
   */
  async report(name: string, range: ReportRange = {}): Promise<BanditReport> {
    checkBanditName(name);
    parseReportRange(range);
    if ((await this.#store.getBandit(name)) === null) throw new NotFoundError(`bandit "${name}"`);
    if (this.#log === null) return buildBanditReport(name, []);
    await this.#log.flush();
    this.#reports ??= new BanditReportAggregator(dirname(this.#log.path));
    await this.#reports.update();
    return this.#reports.report(name, range);
  }

  /** The decision logs read so far, aggregated (created by the first report). */
  #reports: BanditReportAggregator | null = null;

  /** Deletes the bandit and its statistics. @throws NotFoundError */
  async remove(name: string): Promise<void> {
    checkBanditName(name);
    this.#live.delete(name);
    if (!(await this.#store.deleteBandit(name))) throw new NotFoundError(`bandit "${name}"`);
  }

  /**
   * Chooses `slots` arms among the candidates, records the decision for its feedback and logs it.
   * A context given as `{featureService?, entity}` is read from the online feature store now
   * (`feature-context.ts`: missing or expired features are 0 and counted in `featureContext`);
   * the vector used is what the decision record and the decision log keep.
   * @throws NotFoundError for an unknown bandit; InvalidArgumentError for a malformed context
   *   (numbers other than `dim`; an unknown feature service, one with a string feature or of
   *   another width, a bad entity), candidates or slots.
   */
  async decide(name: string, request: DecideRequest): Promise<DecideResult> {
    const live = this.#live.get(name) ?? (await this.#load(name));
    const { definition } = live;
    const given = request.context;
    const fetched =
      given !== undefined && given !== null && typeof given === 'object' && !Array.isArray(given)
        ? await this.#fetchContext(name, definition, given as FeatureContextRequest)
        : null;
    const contextArray = fetched?.x ?? (given as readonly number[] | undefined) ?? [];
    if (!Array.isArray(contextArray) || contextArray.length !== definition.dim) {
      const given = Array.isArray(contextArray) ? `${contextArray.length}` : 'none';
      throw new InvalidArgumentError(
        'context',
        `must have ${definition.dim} numbers (the dim of bandit "${name}"), got ${given}`,
      );
    }
    const context = Float64Array.from(contextArray);
    for (let j = 0; j < context.length; j++)
      if (!Number.isFinite(context[j]))
        throw new InvalidArgumentError(`context[${j}]`, 'must be a finite number');
    const slots = request.slots ?? 1;
    if (Array.isArray(request.candidates) && Number.isSafeInteger(slots))
      checkDecideLimits(this.limits, definition.dim, request.candidates.length, slots);
    const version = live.version;
    const input = { context, candidates: request.candidates, slots };
    const { arms, propensities } = live.policy.select(input, this.#random);
    const decisionId = randomUUID();
    const record: DecisionRecord = { g: definition.generation, arms, x: contextArray as number[] };
    // Sent now and not waited for: the answer does not wait on the store's round trip (on a busy
    // machine, the store process's turn on a core is most of the tail latency). The command is
    // on the store's connection before the answer leaves, so any later feedback through this
    // process is read after it; feedback through another process is re-checked once (see
    // feedback). A record that fails to store is reported, and its feedback will get a 404.
    this.#store
      .putDecision(name, decisionId, JSON.stringify(record), this.#ttlMs)
      .catch((error: unknown) => this.#recordFailed(error));
    this.#log?.write({
      type: 'decision',
      decisionId,
      bandit: name,
      policy: definition.policy,
      version,
      time: new Date().toISOString(),
      context: contextArray as number[],
      ...(fetched === null
        ? {}
        : {
            featureContext: {
              featureService: fetched.featureService,
              entity: (given as FeatureContextRequest).entity,
              missing: fetched.missing,
              expired: fetched.expired,
            },
          }),
      candidates: request.candidates as string[],
      arms,
      positions: arms.map((_, j) => j),
      propensities,
      // Only what the log keeps: the chosen arms' marginals, computed only when a log is kept.
      ...(arms.length > 1
        ? { marginals: live.policy.slotMarginals(input, arms, this.#random) }
        : {}),
    });
    return fetched === null
      ? { decisionId, arms, propensities, version }
      : {
          decisionId,
          arms,
          propensities,
          version,
          featureContext: {
            featureService: fetched.featureService,
            missing: fetched.missing,
            expired: fetched.expired,
          },
        };
  }

  /**
   * Applies the rewards of one decision, once. Resolves when they are in the shared statistics.
   * @throws NotFoundError for an unknown bandit or decision (or one whose TTL passed);
   *   ConflictError for feedback given already (nothing is counted twice) or a decision of an
   *   earlier definition of the bandit; InvalidArgumentError for malformed rewards.
   */
  async feedback(name: string, request: FeedbackRequest): Promise<FeedbackResult> {
    const live = this.#live.get(name) ?? (await this.#load(name));
    const { definition } = live;
    const decisionId = checkDecisionId(request.decisionId);
    checkRewards(request.rewards, definition.policy === 'bts');
    let lookup = await this.#store.getDecision(name, decisionId);
    if (lookup.status === 'unknown') {
      // The decision's record may still be on its way from the process that made it.
      await new Promise((resolve) => setTimeout(resolve, UNKNOWN_RECHECK_MS));
      lookup = await this.#store.getDecision(name, decisionId);
    }
    if (lookup.status === 'unknown') throw unknownDecisionError(name, decisionId);
    if (lookup.status === 'duplicate') throw duplicateFeedbackError(decisionId);
    const record = JSON.parse(lookup.record) as DecisionRecord;
    if (record.g !== definition.generation)
      throw new ConflictError(
        `decision "${decisionId}" was made by an earlier definition of bandit "${name}"`,
      );
    const rewards = alignRewards(record.arms, request.rewards);
    const context = Float64Array.from(record.x);
    const feedback: Feedback[] = record.arms.map((arm, j) => ({
      arm,
      context,
      reward: rewards[j],
    }));
    checkArmLimit(
      this.limits,
      name,
      live.knownArms,
      [...new Set(record.arms)].filter((arm) => !live.knowsArm(arm)),
    );
    // The decision is marked fed back in the same atomic step that counts it (a repeat racing
    // through another process is refused there).
    const version = await live.add(
      feedbackIncrements(definition.policy, definition.dim, feedback),
      decisionId,
      feedback,
    );
    this.#log?.write({
      type: 'feedback',
      decisionId,
      bandit: name,
      time: new Date().toISOString(),
      arms: record.arms,
      rewards,
    });
    return { decisionId, arms: record.arms, rewards, version };
  }

  /** Reports failed decision-record writes: the first at once, then a count at most every 10 s. */
  #recordFailed(error: unknown): void {
    this.#failedRecords++;
    const now = Date.now();
    if (now - this.#failureReportedAt < 10_000) return;
    this.#failureReportedAt = now;
    this.#onError(
      new Error(
        `${this.#failedRecords} decision record(s) not stored, so their feedback will get 404; last: ${String((error as Error)?.message ?? error)}`,
      ),
    );
    this.#failedRecords = 0;
  }

  /** The live bandit `name`, loading it (once, however many requests ask at the same time). */
  async #load(name: string): Promise<LiveBandit> {
    checkBanditName(name);
    let loading = this.#loading.get(name);
    if (loading === undefined) {
      loading = LiveBandit.load(this.#store, name).finally(() => this.#loading.delete(name));
      this.#loading.set(name, loading);
    }
    const live = await loading;
    // A concurrent delete or reload may have replaced it; keep the first one in the map.
    const current = this.#live.get(name);
    if (current !== undefined) return current;
    this.#live.set(name, live);
    return live;
  }

  /** Checks every live bandit against the store; never throws (problems go to `onError`). */
  async #poll(): Promise<void> {
    await Promise.all(
      [...this.#live].map(async ([name, live]) => {
        try {
          const stored = await this.#store.getBandit(name);
          if (
            stored === null ||
            parseDefinition(name, stored.definition).generation !== live.definition.generation
          ) {
            // Deleted or redefined elsewhere: forget it; the next request loads what is there now.
            if (this.#live.get(name) === live) this.#live.delete(name);
            return;
          }
          live.noteVersion(stored.version);
          if (live.stale) await live.refresh();
        } catch (error) {
          this.#onError(error, { bandit: name });
        }
      }),
    );
  }
}

function sameParams(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Checks the shape and values of `rewards` (before the decision is claimed). */
function checkRewards(rewards: FeedbackRequest['rewards'], unitInterval: boolean): void {
  if (rewards === null || typeof rewards !== 'object')
    throw new InvalidArgumentError(
      'rewards',
      'must be an array of numbers (one per slot) or an object of arm → reward',
    );
  const entries = Array.isArray(rewards)
    ? rewards.map((r, j) => [`rewards[${j}]`, r] as const)
    : Object.entries(rewards).map(([arm, r]) => [`rewards.${arm}`, r] as const);
  if (entries.length === 0) throw new InvalidArgumentError('rewards', 'is empty');
  for (const [field, r] of entries) {
    if (typeof r !== 'number' || !Number.isFinite(r))
      throw new InvalidArgumentError(field, `must be a finite number, got ${JSON.stringify(r)}`);
    if (unitInterval && (r < 0 || r > 1))
      throw new InvalidArgumentError(
        field,
        `must be in [0, 1] for Bernoulli Thompson sampling, got ${r}`,
      );
  }
}

/** The reward of each of the decision's arms, in slot order. */
function alignRewards(arms: readonly string[], rewards: FeedbackRequest['rewards']): number[] {
  if (Array.isArray(rewards)) {
    if (rewards.length !== arms.length)
      throw new InvalidArgumentError(
        'rewards',
        `must have ${arms.length} numbers, one per chosen arm in slot order, got ${rewards.length}`,
      );
    return rewards.slice();
  }
  const byArm = rewards as Readonly<Record<string, number>>;
  for (const arm of Object.keys(byArm)) {
    if (!arms.includes(arm))
      throw new InvalidArgumentError(
        `rewards.${arm}`,
        `is not an arm of this decision (its arms: ${arms.join(', ')})`,
      );
  }
  return arms.map((arm) => (Object.hasOwn(byArm, arm) ? byArm[arm] : 0));
}
