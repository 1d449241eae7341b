/**
 * kiban's public SDK surface, for services and notebooks: `import { … } from 'kiban'`.
 * Everything else under `src/` is internal and may move between versions.
 *
 * @example
 * import { builtinModels, Interactions, readInteractionLog, evaluateRecommender } from 'kiban';
 * const log = await readInteractionLog('events.csv');
 * const model = builtinModels().create('als', { factors: 64 });
 * await model.fit(Interactions.fromLog(log));
 *
 * @module
 */

// Errors: every error kiban throws on purpose carries a stable `code`.
export {
  ConflictError,
  DataError,
  InvalidArgumentError,
  KibanError,
  NotFittedError,
  NotFoundError,
  NotReadyError,
  type ErrorCode,
} from './core/errors.js';

// Recommendation models: the contract, the registry of model kinds, data and evaluation.
export type { FitOptions, FitReport, RecommendOptions, Recommender } from './models/recommender.js';
export {
  ModelRegistry,
  UnknownModelError,
  type ModelDefinition,
  type SavedModel,
} from './models/model-registry.js';
export { BUILTIN_MODELS, builtinModels, registerBuiltinModels } from './models/builtin-models.js';
export { Interactions } from './data/interactions.js';
export { readInteractionLog, type ReadLogOptions } from './data/read-interaction-log.js';
export { evaluateRecommender, type EvaluationResult } from './evaluation/evaluate.js';

// Serving stores: where published lists live (the URL picks the backend: memory:, sqlite:PATH, redis://).
export type {
  ScoredItem,
  ServingStore,
  VersionInfo,
  VersionWriter,
} from './storage/serving-store.js';
export { openServingStore } from './app/backends.js';

// Stages and workflows written in TypeScript.
export { defineStage, type StageContext, type StageDefinition } from './stages/stage.js';
export { defineWorkflow, type WorkflowSpec } from './workflow/define-workflow.js';

// A/B testing: the same assignment the server makes, computed locally.
export { assignUnit, variantOf, type AssignableExperiment } from './experiments/assign.js';

// The feature store: definitions in TypeScript, point-in-time training data, online reads.
export {
  defineEntity,
  defineFeatureRepository,
  defineFeatureService,
  defineFeatureView,
  defineSource,
  loadFeatureRepository,
} from './features/feature-definitions.js';
export type { FeatureReference, FeatureRepository } from './features/feature-types.js';
export { DuckDBOfflineFeatureStore, type OfflineFeatureStore } from './features/offline-store.js';
export type { OnlineFeatureStore } from './features/online-store.js';
export {
  getOnlineFeatures,
  type FeatureStatus,
  type OnlineFeaturesResult,
} from './features/online-features.js';
export { materialize, type MaterializeResult } from './features/materialize.js';
export { openOnlineFeatureStore } from './app/open-online-store.js';

// A client of the serving API.
export {
  KibanClient,
  KibanHttpError,
  type Assignment,
  type BanditDecision,
  type ExperimentEvent,
  type InteractionEvent,
  type KibanClientOptions,
  type RecommendationsAnswer,
} from './client/kiban-client.js';
