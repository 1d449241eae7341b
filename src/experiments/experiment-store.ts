import type { Experiment, ExperimentStatus } from './experiment.js';

/** The kinds of event an experiment takes. */
export type ExperimentEventType = 'exposure' | 'conversion' | 'value';

/**
 * One event of an experiment, as ingested by `POST /v1/events`.
 * - `exposure`: the unit saw `variant` (required);
 * - `conversion`: the unit did `metric` (a unit converts once, however many events it sends);
 * - `value`: the unit scored `value` on `metric` (summed per unit, e.g. revenue).
 */
export interface ExperimentEvent {
  /** Chosen by the sender; a second event with the same id is a duplicate and is not stored. */
  eventId: string;
  type: ExperimentEventType;
  experiment: string;
  unit: string;
  /** The variant the unit was shown (exposures); null for other events. */
  variant: string | null;
  /** The metric (conversions and values); null for exposures. */
  metric: string | null;
  /** The value (value events; 1 for conversions); null for exposures. */
  value: number | null;
  time: Date;
}

/**
 * Per-variant sums over the units of one experiment for one metric, per bucket of first-exposure
 * time: what every statistic of the analysis is computed from (see `experiments/analysis`).
 * Only units exposed to exactly one variant count.
 */
export interface MetricAggregateRow {
  variant: string;
  /** Start of the bucket of the units' first exposure, epoch ms. */
  bucketStartMs: number;
  units: number;
  /** Units with at least one conversion or value event of the metric at or after their first exposure. */
  converted: number;
  /** Σ over units of their metric total after exposure (conversions count 1 per unit), and of its square. */
  sum: number;
  sumSquares: number;
  /** The same metric's total per unit before its first exposure (the pre-period covariate of CUPED): Σx, Σx², Σxy. */
  preSum: number;
  preSumSquares: number;
  sumProducts: number;
}

/** What {@link ExperimentStore.metricAggregates} found. */
export interface MetricAggregates {
  /** The metric's event type: conversion (a rate) or value (a mean); null when it has no events. */
  kind: 'conversion' | 'value' | null;
  rows: MetricAggregateRow[];
  /** Exposed units per variant, those in several variants excluded. */
  exposedUnits: Map<string, number>;
  /** Units exposed to more than one variant: flagged, and excluded from every figure. */
  multiVariantUnits: number;
  /** Events of the metric from units never exposed (not counted). */
  unexposedEvents: number;
  /** Exposures naming a variant the experiment does not have (their units are excluded too). */
  unknownVariantUnits: number;
}

/** One analysed unit of a metric (see {@link ExperimentStore.unitOutcomes}). */
export interface UnitOutcome {
  unit: string;
  variant: string;
  /** The unit's first exposure, epoch ms. */
  firstExposureMs: number;
  /** Its metric after the first exposure: 0/1 for a conversion metric, the total for a value metric. */
  y: number;
  /** Whether it had a conversion or value event of the metric at or after its first exposure. */
  converted: boolean;
}

/**
 * Experiments and their events, in the metadata store's database (`kiban_ab_*` tables). Names,
 * units and ids are validated before any SQL, with `InvalidArgumentError` naming the field.
 */
export interface ExperimentStore {
  /** Stores a new experiment. @throws ConflictError when the name is taken. */
  createExperiment(experiment: Experiment): Promise<void>;
  getExperiment(name: string): Promise<Experiment | null>;
  /** By name; only those of `status` when given. */
  listExperiments(options?: { status?: ExperimentStatus; layer?: string }): Promise<Experiment[]>;
  /**
   * Replaces the stored experiment of the same name when its version is still `expectedVersion`
   * (compare-and-set): returns false, changing nothing, when someone changed it meanwhile.
   */
  replaceExperiment(experiment: Experiment, expectedVersion: number): Promise<boolean>;
  /**
   * Stores a batch of events in one transaction: all or none. An event whose id is stored
   * already is skipped (idempotent retries); returns how many were new and how many repeats.
   */
  insertEvents(
    events: readonly ExperimentEvent[],
  ): Promise<{ inserted: number; duplicates: number }>;
  /**
   * The sums of one metric per variant and bucket of first-exposure time (`bucketMs` wide,
   * aligned to the epoch), with the data-quality counts; computed in the database.
   */
  metricAggregates(
    experiment: string,
    metric: string,
    options: { bucketMs: number; variants: readonly string[] },
  ): Promise<MetricAggregates>;
  /**
   * Each unit {@link metricAggregates} counts (exposed to exactly one of `variants`), with its
   * metric outcome: what a covariate computed outside the database (a feature store's, see
   * `feature-covariate-aggregates.ts`) is joined to. Optional: a store without it cannot take
   * such covariates.
   */
  unitOutcomes?(
    experiment: string,
    metric: string,
    options: { variants: readonly string[] },
  ): Promise<UnitOutcome[]>;
  /** The metric names with events in the experiment, and each one's kind. */
  listMetrics(
    experiment: string,
  ): Promise<{ metric: string; kind: 'conversion' | 'value'; events: number }[]>;
}
