import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { childLogger, processLogger, type Logger } from '../core/log.js';
import {
  analyzeExperimentMetric,
  type AnalysisOptions,
  type ExperimentAnalysis,
} from './analyze-metric.js';
import { assignUnit, type Assignment } from './assign.js';
import { parseEvent } from './check-event.js';
import {
  BUCKETS,
  checkName,
  normaliseDefinition,
  sameSplit,
  type AttributeValue,
  type Experiment,
} from './experiment.js';
import type { ExperimentStore } from './experiment-store.js';
import { featureCovariateRows } from './feature-covariate-aggregates.js';
import type { FeatureReference, FeatureRepository } from '../features/feature-types.js';
import { DuckDBOfflineFeatureStore, type OfflineFeatureStore } from '../features/offline-store.js';
import { allocateRange } from './layer-ranges.js';

/** Options of {@link ExperimentService}. */
export interface ExperimentServiceOptions {
  /** How often the running experiments are re-read for assignment, in ms. @defaultValue 1000 */
  pollMs?: number;
  /** The clock (for tests). @defaultValue () => new Date() */
  now?: () => Date;
  /**
   * Where problems of the background refresh are reported, instead of {@link ExperimentServiceOptions.logger}.
   * @defaultValue an `error` entry (with `err`) on the logger
   */
  onError?: (error: unknown) => void;
  /** Where the service logs. @defaultValue the process logger's `experiments` child ({@link processLogger}) */
  logger?: Logger;
  /**
   * The feature repository that `results(…, {covariateFeature})` reads CUPED covariates from,
   * point-in-time at each unit's first exposure (`feature-covariate-aggregates.ts`), and the
   * offline store to read it with. @defaultValue none (such a request is refused); the offline
   * store defaults to a {@link DuckDBOfflineFeatureStore}
   */
  features?: { repo: FeatureRepository; offline?: OfflineFeatureStore } | null;
}

/** Most events one `POST /v1/events` may carry. */
export const MAX_EVENTS_PER_BATCH = 1000;

/** What ingesting a batch did. */
export interface IngestResult {
  /** New events stored. */
  accepted: number;
  /** Events whose id was stored before (a retried batch): not stored again. */
  duplicates: number;
}

/**
 * A/B experiments over an {@link ExperimentStore}: definitions with their layer ranges,
 * start/stop, assignment from an in-memory copy of the running experiments (re-read every
 * `pollMs`, and at once after a change made here), event ingestion and analysis.
 *
 * Changing how a running experiment splits units (variants, weights, salt, layer or traffic)
 * reassigns units mid-test and is refused unless `force` is given.
 */
export class ExperimentService {
  readonly #store: ExperimentStore;
  readonly #pollMs: number;
  readonly #now: () => Date;
  readonly #onError: (error: unknown) => void;
  readonly #features: { repo: FeatureRepository; offline: OfflineFeatureStore } | null;
  readonly #ownsOffline: boolean;
  #running: Experiment[] = [];
  #loaded: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(store: ExperimentStore, options: ExperimentServiceOptions = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? 1000;
    if (!(this.#pollMs > 0))
      throw new InvalidArgumentError('pollMs', `must be > 0, got ${this.#pollMs}`);
    this.#now = options.now ?? (() => new Date());
    this.#ownsOffline = options.features != null && options.features.offline === undefined;
    this.#features =
      options.features == null
        ? null
        : {
            repo: options.features.repo,
            offline: options.features.offline ?? new DuckDBOfflineFeatureStore(),
          };
    const logger = options.logger ?? childLogger(processLogger(), 'experiments');
    this.#onError =
      options.onError ??
      ((error) =>
        logger.error({ err: error }, `experiments: ${String((error as Error)?.message ?? error)}`));
  }

  /** Starts re-reading the running experiments every `pollMs` (the timer does not keep the process alive). */
  startRefresh(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.#refresh().catch(this.#onError), this.#pollMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    // The offline store made here (not one given) holds an in-memory DuckDB once used.
    if (this.#ownsOffline) void this.#features?.offline.close().catch(this.#onError);
  }

  /**
   * Creates experiment `name` (as a draft, with a free range of its layer) or changes its
   * definition. @throws InvalidArgumentError for a bad definition; ConflictError when its layer
   * has no room for its traffic, or when the change would reassign units of a running
   * experiment and `force` is not set.
   */
  async define(
    name: string,
    input: unknown,
    options: { force?: boolean } = {},
  ): Promise<{ created: boolean; experiment: Experiment }> {
    const definition = normaliseDefinition(name, input);
    for (let attempt = 0; ; attempt++) {
      const now = this.#now();
      const existing = await this.#store.getExperiment(name);
      const size = Math.round(definition.traffic * BUCKETS);
      if (existing === null) {
        const range = await this.#freeRange(definition.layer, size, name);
        const experiment: Experiment = {
          ...definition,
          status: 'draft',
          startAt: null,
          stopAt: null,
          layerRange: range,
          version: 1,
          createdAt: now,
          updatedAt: now,
        };
        try {
          await this.#store.createExperiment(experiment);
          return { created: true, experiment };
        } catch (error) {
          if (error instanceof ConflictError && attempt < 3) continue; // created meanwhile: treat as an update
          throw error;
        }
      }
      const resplit =
        !sameSplit(existing.variants, definition.variants) ||
        existing.salt !== definition.salt ||
        existing.layer !== definition.layer ||
        existing.traffic !== definition.traffic;
      if (resplit && existing.status === 'running' && options.force !== true) {
        throw new ConflictError(
          `experiment "${name}" is running: changing its variants, weights, salt, layer or traffic moves units between variants and spoils the comparison; stop it and start a new one, or send force=true`,
        );
      }
      const layerRange =
        existing.layer === definition.layer && existing.traffic === definition.traffic
          ? existing.layerRange
          : existing.status === 'stopped'
            ? existing.layerRange
            : await this.#freeRange(
                definition.layer,
                size,
                name,
                existing.layer === definition.layer ? existing.layerRange : undefined,
              );
      const experiment: Experiment = {
        ...existing,
        ...definition,
        layerRange,
        version: existing.version + 1,
        updatedAt: now,
      };
      if (await this.#store.replaceExperiment(experiment, existing.version)) {
        await this.#refresh();
        return { created: false, experiment };
      }
      if (attempt >= 5)
        throw new ConflictError(`experiment "${name}" keeps changing under this update; try again`);
    }
  }

  /** Starts assigning units (now, or at `at`). @throws NotFoundError; ConflictError when stopped and its layer range is taken since. */
  async start(name: string, options: { at?: Date } = {}): Promise<Experiment> {
    return this.#transition(name, async (e, now) => {
      if (e.status === 'running') return e;
      let layerRange = e.layerRange;
      if (e.status === 'stopped')
        layerRange = await this.#freeRange(
          e.layer,
          e.layerRange[1] - e.layerRange[0],
          e.name,
          e.layerRange,
        );
      return {
        ...e,
        status: 'running',
        startAt: options.at ?? e.startAt ?? now,
        stopAt: null,
        layerRange,
      };
    });
  }

  /** Stops assigning units; its events stay and its layer range is free for other experiments. @throws NotFoundError */
  async stop(name: string): Promise<Experiment> {
    return this.#transition(name, async (e, now) =>
      e.status === 'stopped' ? e : { ...e, status: 'stopped', stopAt: now },
    );
  }

  async get(name: string): Promise<Experiment> {
    const e = await this.#store.getExperiment(checkName(name, 'name'));
    if (e === null) throw new NotFoundError(`experiment "${name}"`);
    return e;
  }

  list(options: { status?: Experiment['status'] } = {}): Promise<Experiment[]> {
    return this.#store.listExperiments(options);
  }

  /** Every running experiment's variant for the unit (see `assignUnit`), from the in-memory copy. */
  async assignments(
    unit: string,
    attributes: Readonly<Record<string, AttributeValue>>,
  ): Promise<Assignment[]> {
    // The first request loads the running experiments; a failed load is tried again by the next one.
    this.#loaded ??= this.#refresh().catch((error: unknown) => {
      this.#loaded = null;
      throw error;
    });
    await this.#loaded;
    return assignUnit(this.#running, unit, attributes, this.#now());
  }

  /**
   * Validates and stores a batch of events in one transaction (all or none; repeats skipped).
   * @throws InvalidArgumentError naming `events[k].field` (an exposure's variant must be one of its
   * experiment's), or for an empty or oversized batch; NotFoundError naming `events[k].experiment`
   * for an experiment that is not defined. Either way nothing of the batch is stored.
   */
  async ingest(input: unknown): Promise<IngestResult> {
    if (!Array.isArray(input) || input.length === 0)
      throw new InvalidArgumentError('events', 'must be a non-empty list');
    if (input.length > MAX_EVENTS_PER_BATCH)
      throw new InvalidArgumentError(
        'events',
        `at most ${MAX_EVENTS_PER_BATCH} per request, got ${input.length}`,
      );
    const now = this.#now();
    const events = input.map((e, k) => parseEvent(e, `events[${k}]`, now));
    const seen = new Set<string>();
    events.forEach((e, k) => {
      if (seen.has(e.eventId))
        throw new InvalidArgumentError(
          `events[${k}].eventId`,
          `"${e.eventId}" appears twice in this batch`,
        );
      seen.add(e.eventId);
    });
    // Events of an experiment that does not exist, or of a variant it does not have, could never
    // be analysed: refuse the batch (all or none) naming the first such event.
    const named = [...new Set(events.map((e) => e.experiment))];
    const found = await Promise.all(named.map((n) => this.#store.getExperiment(n)));
    const byName = new Map(named.map((n, k) => [n, found[k] ?? null]));
    events.forEach((e, k) => {
      const experiment = byName.get(e.experiment) ?? null;
      if (experiment === null)
        throw new NotFoundError(`events[${k}].experiment: experiment "${e.experiment}"`);
      if (e.type === 'exposure' && !experiment.variants.some((v) => v.name === e.variant)) {
        throw new InvalidArgumentError(
          `events[${k}].variant`,
          `"${e.variant}" is not a variant of experiment "${e.experiment}" (${experiment.variants.map((v) => v.name).join(', ')})`,
        );
      }
    });
    const { inserted, duplicates } = await this.#store.insertEvents(events);
    return { accepted: inserted, duplicates };
  }

  /**
   * The analysis of one metric (default: the experiment's only or first metric). With
   * `covariateFeature`, CUPED adjusts with that feature of the configured feature repository,
   * each unit's value just before its first exposure (a unit without one takes the mean of those
   * found; a warning says how many had one), instead of the metric's pre-exposure events.
   * @throws NotFoundError; InvalidArgumentError naming `covariateFeature` (no feature repository
   *   configured, an unknown or non-numeric feature, a view not keyed by one entity)
   */
  async results(
    name: string,
    options: AnalysisOptions & { metric?: string; covariateFeature?: FeatureReference },
  ): Promise<ExperimentAnalysis> {
    const experiment = await this.get(name);
    const metrics = await this.#store.listMetrics(name);
    const metric = options.metric ?? metrics[0]?.metric;
    if (metric === undefined)
      throw new NotFoundError(
        `metric events of experiment "${name}" (send conversion or value events first)`,
      );
    if (!metrics.some((m) => m.metric === metric))
      throw new NotFoundError(
        `metric "${metric}" of experiment "${name}" (known: ${metrics.map((m) => m.metric).join(', ') || 'none'})`,
      );
    const bucketMs = options.bucketMs ?? 86_400_000;
    const variants = experiment.variants.map((v) => v.name);
    const aggregates = await this.#store.metricAggregates(name, metric, { bucketMs, variants });
    const feature = options.covariateFeature;
    if (feature === undefined)
      return analyzeExperimentMetric(
        experiment,
        metric,
        aggregates,
        options,
        metrics.map((m) => m.metric),
      );
    if (this.#features === null || this.#store.unitOutcomes === undefined)
      throw new InvalidArgumentError(
        'covariateFeature',
        this.#features === null
          ? 'this server has no feature repository (configure features.repo)'
          : 'the experiment store cannot list units',
      );
    const covariate = await featureCovariateRows({
      units: await this.#store.unitOutcomes(name, metric, { variants }),
      repo: this.#features.repo,
      feature,
      offline: this.#features.offline,
      bucketMs,
    });
    const analysis = analyzeExperimentMetric(
      experiment,
      metric,
      { ...aggregates, rows: covariate.rows },
      options,
      metrics.map((m) => m.metric),
    );
    analysis.warnings.push(
      `CUPED covariate ${feature.view}:${feature.feature} from the feature store: ${covariate.unitsWithValue} of ${covariate.units} units had a value before their first exposure (the others take the mean)`,
    );
    return analysis;
  }

  /** Applies `change` by compare-and-set, retrying when someone else changed the experiment first. */
  async #transition(
    name: string,
    change: (e: Experiment, now: Date) => Promise<Experiment>,
  ): Promise<Experiment> {
    for (let attempt = 0; attempt < 6; attempt++) {
      const existing = await this.get(name);
      const now = this.#now();
      const next = await change(existing, now);
      if (next === existing) return existing;
      const stored = { ...next, version: existing.version + 1, updatedAt: now };
      if (await this.#store.replaceExperiment(stored, existing.version)) {
        await this.#refresh();
        return stored;
      }
    }
    throw new ConflictError(`experiment "${name}" keeps changing under this update; try again`);
  }

  /** A free range of `size` buckets in `layer`, among the ranges of its other experiments that are not stopped. */
  async #freeRange(
    layer: string,
    size: number,
    name: string,
    prefer?: [number, number],
  ): Promise<[number, number]> {
    const others = (await this.#store.listExperiments({ layer })).filter(
      (e) => e.name !== name && e.status !== 'stopped',
    );
    const range = allocateRange(
      size,
      others.map((e) => e.layerRange),
      prefer,
    );
    if (range === null) {
      const used = others.reduce((s, e) => s + (e.layerRange[1] - e.layerRange[0]), 0) / BUCKETS;
      throw new ConflictError(
        `layer "${layer}" has no free range for ${size / BUCKETS} of its units (its other experiments take ${used.toFixed(4)}); lower traffic or stop one of ${others.map((e) => e.name).join(', ')}`,
      );
    }
    return range;
  }

  async #refresh(): Promise<void> {
    this.#running = await this.#store.listExperiments({ status: 'running' });
  }
}
