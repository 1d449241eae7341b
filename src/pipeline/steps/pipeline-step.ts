import { childLogger, type Logger, processLogger } from '../../core/log.js';
import type { ModelRegistry } from '../../models/model-registry.js';
import type { FitOptions } from '../../models/recommender.js';
import type { ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import type { MetadataStore } from '../../storage/metadata-store.js';
import type { ServingStore } from '../../storage/serving-store.js';
import type { PipelineConfig } from '../pipeline-config.js';

/** The batch steps a workflow task can run, in pipeline order. */
export const PIPELINE_STEP_KINDS = [
  'aggregate',
  'train',
  'evaluate',
  'candidates',
  'publish',
] as const;
export type PipelineStepKind = (typeof PIPELINE_STEP_KINDS)[number];

/**
 * What one step needs. Steps share nothing in memory: each reads its inputs from files in
 * `workDir` and writes its outputs there, so that each can run in its own process or machine
 * and be retried on its own.
 */
export interface StepContext {
  /** Already validated (see parsePipelineConfig). */
  config: PipelineConfig;
  runId: string;
  /** Directory private to the run; steps hand files to each other here. */
  workDir: string;
  /** Opened lazily: only publish needs the serving store. */
  serving: () => Promise<ServingStore>;
  metadata: MetadataStore;
  /**
   * Where the steps report what they did: one info entry per step, its message a human line
   * (`publish: version … is now serving`) with the figures as fields. A workflow task passes one
   * over the task's log (`taskLogLogger`). @defaultValue the process logger's `pipeline` child
   */
  logger?: Logger;
  /** Aborts long work (timeout, cancelled run); checked between phases and passed to model fits. */
  signal?: AbortSignal;
  /** Passed to model training (progress bar, loss callback). */
  fit?: FitOptions;
  /**
   * Where evaluate and train find `config.model.kind` and candidates finds the saved model's
   * kind; `config` must have been parsed with the same registry.
   * @defaultValue kiban's own models (`builtinModels()`)
   */
  models?: ModelRegistry;
  /**
   * Opens the artifact store an URL names (`file:DIR`, `s3://…`); the caller closes what it gets.
   * Needed when `config.stores.artifacts` is such a URL (train saves its model there under
   * `models/<modelId>/`) or `model.json` names one (candidates and publish load from it). A plain
   * directory path in `config.stores.artifacts` keeps the older layout (`DIR/<modelId>`) and needs
   * no opener for models; publish opens the model's store with it (`file:DIR` for a plain
   * directory) to store the item vector index (`vectors/items/`), and without one publishes the
   * lists only.
   */
  openArtifacts?: (url: string) => Promise<ArtifactStore>;
}

/** Runs one step; returns its figures and outputs (JSON-able), e.g. `{ rowsIn, pairs }` or `{ modelId }`. */
export type PipelineStepFn = (ctx: StepContext) => Promise<Record<string, number | string>>;

/** The logger of `ctx`: {@link StepContext.logger}, else the process logger's `pipeline` child. */
export function stepLogger(ctx: Pick<StepContext, 'logger'>): Logger {
  return ctx.logger ?? childLogger(processLogger(), 'pipeline');
}
