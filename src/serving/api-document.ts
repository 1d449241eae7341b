import type { BanditService } from '../bandits/bandit-service.js';
import type { ExperimentService } from '../experiments/experiment-service.js';
import { defineFeatureRepository } from '../features/feature-definitions.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { InteractionStore } from '../storage/interaction-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import type { WorkflowService } from '../workflow/workflow-service.js';
import { createServingApp } from './create-app.js';

/**
 * The OpenAPI document of the whole serving API (what `/openapi.json` answers on a server with
 * workflows, bandits and experiments mounted), built without a server or any store: the app is
 * made with stand-in services (only started and closed, never called: the document comes from
 * the route schemas alone) and closed again. For code generation (`npm run gen:api-types`).
 *
 * @example
 * const document = await apiDocument();
 * console.log(Object.keys(document.paths));
 */
export async function apiDocument(): Promise<
  { openapi: string; paths: Record<string, unknown> } & Record<string, unknown>
> {
  const idle = { start: async () => {}, startRefresh: () => {}, close: async () => {} };
  const serving = new MemoryServingStore();
  const app = createServingApp({
    serving,
    webRoot: false,
    workflows: { store: {} } as unknown as WorkflowService,
    bandits: idle as unknown as BanditService,
    experiments: idle as unknown as ExperimentService,
    audit: { record: async () => {}, list: async () => ({ entries: [], nextCursor: null }) },
    // An artifact store holding no index: the vector routes only poll it for one.
    vectors: { artifacts: { stat: async () => null } as unknown as ArtifactStore },
    // Never written to: the document only needs the route mounted.
    interactions: {
      append: async () => ({ accepted: 0, duplicates: 0 }),
    } as unknown as InteractionStore,
    // An empty repository and an online store never read: the routes only need mounting.
    features: {
      repo: defineFeatureRepository({ root: '/nonexistent-kiban-features' }),
      online: { read: async () => [], write: async () => 0 },
    },
  });
  try {
    return (await app.inject({ url: '/openapi.json' })).json();
  } finally {
    await app.close();
    await serving.close();
  }
}
