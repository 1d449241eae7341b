/**
 * Hyper-parameter search by successive halving (Jamieson & Talwalkar 2016) over a model's
 * declared {@link SearchSpace}, scored by nDCG@k on a validation carve of the training data.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { Random } from '../core/random.js';
import type { ExternalId } from '../data/id-map.js';
import type { InteractionLog } from '../data/interaction-log.js';
import { Interactions, type InteractionWeighting } from '../data/interactions.js';
import { UnknownModelError, type ModelRegistry } from '../models/model-registry.js';
import type { SearchDimension, SearchSpace } from '../models/search-space.js';
import { evaluateRecommender } from './evaluate.js';
import { logOfUsers, type ValidationCarve } from './validation-carve.js';

/** Options of {@link tuneModel}. */
export interface TuneOptions {
  /** The registry holding `kind`. */
  models: ModelRegistry;
  /** The model to tune; it must declare a `searchSpace`. */
  kind: string;
  /** What to fit on and score on (see `carveValidation`). */
  carve: ValidationCarve;
  /** Configurations sampled for the first rung (the defaults count as one, see `includeDefaults`). */
  trials: number;
  /** Keep the best 1/eta of each rung; each rung has eta times the budget of the one before. @defaultValue 3 */
  eta?: number;
  /**
   * The smallest share of the full budget a rung may have; fewer rungs are run when eta's powers
   * would go below it. Very small budgets (2 of 15 ALS sweeps, a ninth of the users) rank
   * configurations differently from full fits, favouring small, fast-converging ones: on the
   * bundled MovieLens temporal carve a floor of 1/9 let both itemknn's and ALS's defaults drop
   * out early and the search return settings worse than them; 0.3 (with eta 3: 1/3, then all) did
   * not. @defaultValue 0.3
   */
  minBudget?: number;
  /** Seed of the sampling and of the user subsamples. @defaultValue 42 */
  seed?: number;
  /** List length of the objective, nDCG@k. @defaultValue 10 */
  k?: number;
  /** Params every trial uses, over its sampled ones (a searched param given here is not searched). */
  fixed?: Record<string, unknown>;
  /** Make trial 0 the model's defaults (with `fixed`), so the table shows where they stand. @defaultValue true */
  includeDefaults?: boolean;
  /**
   * With `includeDefaults`: carry the defaults to every rung even where they rank below the cut
   * (one more evaluation a rung), so the best returned scores at least as well as they do at full
   * budget. @defaultValue true
   */
  keepDefaults?: boolean;
  /** How fits are weighted (see `Interactions.fromLog`). @defaultValue 'binary' */
  valueMode?: InteractionWeighting;
  /**
   * Wall-clock limit: no evaluation starts after `deadline` (ms since the epoch); the result then
   * holds what was done, `stopped: 'budget'`.
   */
  deadline?: number;
  /** Aborts between and inside fits; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after every evaluation. */
  onProgress?: (progress: TuneProgress) => void;
}

/** One report to {@link TuneOptions.onProgress}. */
export interface TuneProgress {
  /** Evaluations done so far, and the most there will be. */
  done: number;
  total: number;
  /** The evaluation just done. */
  evaluation: TrialEvaluation;
  /** The best nDCG@k of the rung so far. */
  rungBest: number;
}

/** One trial evaluated at one rung. */
export interface TrialEvaluation {
  trial: number;
  /** 0-based rung. */
  rung: number;
  /** Share of the full budget: of the iterations (`fidelity.param`) or of the users. */
  budget: number;
  /** The params this fit used, fidelity param included. */
  params: Record<string, unknown>;
  ndcg: number;
  fitSeconds: number;
}

/** A sampled configuration and how far it got. */
export interface TrialResult {
  trial: number;
  /** The sampled params (plus `fixed`), without the fidelity scaling: what `--apply` writes. */
  params: Record<string, unknown>;
  /** Whether these are the model's defaults (trial 0 with `includeDefaults`). */
  defaults: boolean;
  /** Its evaluations, one per rung it reached. */
  rungs: TrialEvaluation[];
  /** nDCG@k at its last rung. */
  ndcg: number;
  /** Fit seconds at its last rung. */
  fitSeconds: number;
}

/** How early rungs are made cheaper. */
export interface Fidelity {
  /** `iterations`: fewer iterations/epochs (`param`); `users`: a seeded share of the users. */
  by: 'iterations' | 'users';
  /** With `iterations`: the param scaled, and its full value. */
  param?: string;
  full?: number;
}

/** What {@link tuneModel} returns. */
export interface TuneResult {
  kind: string;
  k: number;
  eta: number;
  fidelity: Fidelity;
  /** Configurations per rung, as planned (the defaults, when carried past a cut, come on top). */
  rungSizes: number[];
  /** Every trial, best first: furthest rung reached, then nDCG@k there. */
  trials: TrialResult[];
  /** The first of `trials`. */
  best: TrialResult;
  /** `done`, or `budget` when the deadline stopped it early. */
  stopped: 'done' | 'budget';
  seconds: number;
}

/**
 * Successive halving: samples `trials` configurations from the model's search space (log-scale
 * where declared), scores every one on the carve at the smallest budget, keeps the best 1/eta,
 * and repeats with eta times the budget up to the full budget (as many rungs as fit between
 * `minBudget` and 1, and while a rung keeps at least one configuration). The
 * budget is the iterations or epochs param when the model has one that is not searched, else a
 * seeded share of the users. Deterministic for a given seed (up to the model's own determinism).
 * @throws UnknownModelError (field `model`) for an unregistered kind
 * @throws InvalidArgumentError naming `model` when it declares no search space, `trials` or `eta`
 *   when not an integer ≥ 1 (≥ 2 for eta), `minBudget` outside (0, 1], `searchSpace.NAME` for a
 *   range its params lack, `budget` when the deadline passed before anything was scored
 *
 * @example
 * const carve = carveValidation(await readInteractionLog('train.csv'), { kind: 'temporal' });
 * const { best } = await tuneModel({ models: builtinModels(), kind: 'als', carve, trials: 16 });
 */
export async function tuneModel(options: TuneOptions): Promise<TuneResult> {
  const started = performance.now();
  const { models, kind, carve } = options;
  const space = checkSpace(options, models.get(kind).params.shape);
  const eta = options.eta ?? 3;
  const k = options.k ?? 10;
  if (!Number.isInteger(options.trials) || options.trials < 1)
    throw new InvalidArgumentError('trials', `must be an integer ≥ 1, got ${options.trials}`);
  if (!Number.isInteger(eta) || eta < 2)
    throw new InvalidArgumentError('eta', `must be an integer ≥ 2, got ${eta}`);
  const fixed = options.fixed ?? {};
  const defaults = models.get(kind).params.parse(fixed) as Record<string, unknown>;
  const fidelity = chooseFidelity(space, defaults);

  const random = new Random(options.seed ?? 42);
  const trials: TrialResult[] = [];
  const seen = new Set<string>();
  if (options.includeDefaults !== false) {
    const params = { ...fixed };
    for (const name of Object.keys(space)) params[name] = defaults[name];
    trials.push({ trial: 0, params, defaults: true, rungs: [], ndcg: Number.NaN, fitSeconds: 0 });
    seen.add(JSON.stringify(params));
  }
  for (let attempts = 0; trials.length < options.trials && attempts < options.trials * 20; ) {
    attempts++;
    const params: Record<string, unknown> = { ...fixed };
    for (const [name, dim] of Object.entries(space)) params[name] = sample(dim, random);
    const key = JSON.stringify(params);
    // A small discrete space runs out of new points: stop rather than score one twice.
    if (seen.has(key)) continue;
    seen.add(key);
    trials.push({
      trial: trials.length,
      params,
      defaults: false,
      rungs: [],
      ndcg: 0,
      fitSeconds: 0,
    });
  }

  const minBudget = options.minBudget ?? 0.3;
  if (!(minBudget > 0 && minBudget <= 1))
    throw new InvalidArgumentError('minBudget', `must lie in (0, 1], got ${minBudget}`);
  const maxRungs = 1 + Math.floor(Math.log(1 / minBudget) / Math.log(eta) + 1e-9);
  const rungSizes = [trials.length];
  while (rungSizes.length < maxRungs && rungSizes.at(-1)! >= eta)
    rungSizes.push(Math.floor(rungSizes.at(-1)! / eta));
  const carryDefaults = options.keepDefaults !== false && trials.some((t) => t.defaults);
  // At most: the defaults carried past every cut; lowered at each cut they make by themselves.
  let total = rungSizes.reduce((a, b) => a + b, 0) + (carryDefaults ? rungSizes.length - 1 : 0);
  const weighting = options.valueMode ?? 'binary';
  const fullFit = Interactions.fromLog(carve.fit, weighting);
  const users = distinctUsers(carve.fit);

  let alive = trials;
  let done = 0;
  let stopped: TuneResult['stopped'] = 'done';
  rungs: for (let rung = 0; rung < rungSizes.length; rung++) {
    const budget = eta ** -(rungSizes.length - 1 - rung);
    let fitData = fullFit;
    let holdout = carve.holdout;
    if (fidelity.by === 'users' && budget < 1) {
      const chosen = sampleUsers(users, budget, new Random((options.seed ?? 42) + rung + 1));
      fitData = Interactions.fromLog(logOfUsers(carve.fit, chosen), weighting);
      holdout = logOfUsers(carve.holdout, chosen);
    }
    let rungBest = Number.NEGATIVE_INFINITY;
    for (const trial of alive) {
      options.signal?.throwIfAborted();
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        stopped = 'budget';
        break rungs;
      }
      const params = { ...trial.params };
      if (fidelity.by === 'iterations' && fidelity.param !== undefined)
        params[fidelity.param] = Math.max(1, Math.round(fidelity.full! * budget));
      const model = models.create(kind, params);
      const report = await model.fit(fitData, {
        progress: false,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const ndcg = evaluateRecommender(model, holdout, { k }).metrics[`ndcg@${k}`];
      const evaluation: TrialEvaluation = {
        trial: trial.trial,
        rung,
        budget,
        params,
        ndcg,
        fitSeconds: report.seconds,
      };
      trial.rungs.push(evaluation);
      trial.ndcg = ndcg;
      trial.fitSeconds = report.seconds;
      rungBest = Math.max(rungBest, ndcg);
      done++;
      options.onProgress?.({ done, total, evaluation, rungBest });
    }
    if (rung + 1 < rungSizes.length) {
      const ranked = [...alive].sort(byRungThenScore);
      alive = ranked.slice(0, rungSizes[rung + 1]);
      // Early rungs can misjudge the defaults (a tuned schedule cut short scores worst): carried
      // to full budget, they bound the result, so the best is never worse than them on the carve.
      const incumbent = ranked.find((t) => t.defaults);
      if (carryDefaults && incumbent !== undefined && !alive.includes(incumbent))
        alive.push(incumbent);
      else if (carryDefaults) total--;
    }
  }
  const ranked = trials.filter((t) => t.rungs.length > 0).sort(byRungThenScore);
  if (ranked.length === 0)
    throw new InvalidArgumentError('budget', 'ran out before the first trial was scored');
  return {
    kind,
    k,
    eta,
    fidelity,
    rungSizes,
    trials: ranked,
    best: ranked[0],
    stopped,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Furthest rung first, then the higher nDCG, then the lower trial number (stable ties). */
function byRungThenScore(a: TrialResult, b: TrialResult): number {
  return b.rungs.length - a.rungs.length || b.ndcg - a.ndcg || a.trial - b.trial;
}

/**
 * The search space `kind` declares, to check a request before any data is read.
 * @throws UnknownModelError naming `field` for a kind `models` lacks
 * @throws InvalidArgumentError naming `field` when the model declares no (or an empty) space;
 *   the message lists the models that do
 */
export function requireSearchSpace(
  models: ModelRegistry,
  kind: string,
  field = 'model',
): SearchSpace {
  if (!models.has(kind)) throw new UnknownModelError(kind, models.kinds(), field);
  const declared = models.get(kind).searchSpace;
  if (declared === undefined || Object.keys(declared).length === 0) {
    const tunable = models
      .definitions()
      .filter((d) => d.searchSpace !== undefined && Object.keys(d.searchSpace).length > 0)
      .map((d) => d.kind);
    throw new InvalidArgumentError(
      field,
      `model "${kind}" declares no search space, so there is nothing to tune; models that do: ${tunable.join(', ')}`,
    );
  }
  return declared;
}

function checkSpace(options: TuneOptions, shape: Record<string, unknown>): SearchSpace {
  const declared = requireSearchSpace(options.models, options.kind);
  const space: Record<string, SearchDimension> = {};
  for (const [name, dim] of Object.entries(declared)) {
    if (!Object.hasOwn(shape, name))
      throw new InvalidArgumentError(
        `searchSpace.${name}`,
        `model "${options.kind}" has no param "${name}"`,
      );
    // A param the caller fixed is not searched.
    if (options.fixed === undefined || !Object.hasOwn(options.fixed, name)) space[name] = dim;
  }
  return space;
}

function chooseFidelity(space: SearchSpace, defaults: Record<string, unknown>): Fidelity {
  for (const param of ['iterations', 'epochs']) {
    const full = defaults[param];
    // Scaling a searched param would change what is being compared, not only its cost.
    if (typeof full === 'number' && full >= 3 && !Object.hasOwn(space, param))
      return { by: 'iterations', param, full };
  }
  return { by: 'users' };
}

/** One value of `dim`: uniform, or uniform in the logarithm when `log`. */
export function sample(dim: SearchDimension, random: Random): string | number | boolean {
  if (dim.kind === 'choice') return dim.values[random.nextInt(dim.values.length)];
  const u = random.next();
  const x = dim.log
    ? Math.exp(Math.log(dim.low) + u * (Math.log(dim.high) - Math.log(dim.low)))
    : dim.low + u * (dim.high - dim.low);
  if (dim.kind === 'float') return Number(x.toPrecision(4));
  // Rounding the log-uniform real keeps each whole number's share close to its log-width.
  return Math.min(dim.high, Math.max(dim.low, Math.round(x)));
}

function distinctUsers(log: InteractionLog): ExternalId[] {
  return [...new Set<ExternalId>(log.users)];
}

/** A seeded share of `users` (at least 20, or all of them). */
function sampleUsers(users: ExternalId[], share: number, random: Random): Set<ExternalId> {
  const n = Math.min(users.length, Math.max(20, Math.round(share * users.length)));
  const pool = [...users];
  for (let i = 0; i < n; i++) {
    const j = i + random.nextInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return new Set(pool.slice(0, n));
}
