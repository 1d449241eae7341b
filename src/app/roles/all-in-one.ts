import type { FastifyInstance } from 'fastify';
import { childLogger, createLogger, type Logger } from '../../core/log.js';
import {
  runPipeline,
  type PipelineEvent,
  type PipelineResult,
} from '../../pipeline/run-pipeline.js';
import { createServingApp } from '../../serving/create-app.js';
import { freshUserServing } from '../fresh-user-serving.js';
import { openBackends } from '../backends.js';
import { buildAuthenticators } from '../build-authenticators.js';
import { storeFields, type KibanConfig } from '../config.js';
import { ensureDevKey } from '../dev-key.js';
import { openArtifactStore } from '../open-artifact-store.js';
import { metadataForService, openServices, openUserState } from '../open-services.js';
import { resolveServeAuth, type ServeAuth } from '../serve-auth.js';

/** Runtime options of {@link startAllInOneRole}. */
export interface AllInOneOptions {
  /** Receives each pipeline step as it starts and ends (for progress output). */
  onPipelineEvent?: (event: PipelineEvent) => void;
  /** The role's logger; the pipeline and the API log through its children. @defaultValue {@link createLogger}'s (JSON on stderr, level from `KIBAN_LOG_LEVEL`, else info) */
  logger?: Logger;
}

/** The all-in-one role after its pipeline run, ready to listen. */
export interface AllInOneRole {
  /** The recommendations API over the stores the pipeline just filled. */
  app: FastifyInstance;
  /** What the pipeline run published (including a sample user and item to try). */
  pipeline: PipelineResult;
  /** What each other service's pipeline run published, by service name (`config.services`). */
  servicePipelines: Readonly<Record<string, PipelineResult>>;
  /** The auth mode in force (as `kiban serve` decides it: off on loopback unless `auth.mode` says) and its warning. */
  auth: ServeAuth;
  /** An `admin` API key for trying the API with auth required (`ensureDevKey`): the same on every run. */
  devKey: string;
  /** Closes the backends; call after the app has stopped listening. */
  close(): Promise<void>;
}

/**
 * The all-in-one role (`kiban demo`): opens the serving and metadata backends of
 * `config.stores` once, runs the batch pipeline of `config.pipeline` into them (the built-in
 * `recommend` workflow, inline, recorded in the metadata store's workflow runs), then builds the
 * serving API over the same backends. Each other service of `config.services` (issue 22) has its
 * own pipeline run into its own serving namespace, and is served at `/v1/services/NAME/…`. The role logs through one logger (`options.logger`, else
 * JSON lines on stderr at the level of `KIBAN_LOG_LEVEL`), its `pipeline` and `serve` children.
 * When the pipeline fails, the backends are closed and the error is rethrown. Auth is decided as
 * for `kiban serve` (off on loopback unless `auth.mode` says otherwise); either way the role
 * makes (or reuses) a development key with every scope, {@link AllInOneRole.devKey}.
 *
 * @example
 * const role = await startAllInOneRole(await loadKibanConfig());
 * await role.app.listen({ port: 0 });
 * console.log(role.pipeline.sample.user);
 */
export async function startAllInOneRole(
  config: KibanConfig,
  options: AllInOneOptions = {},
): Promise<AllInOneRole> {
  const auth = resolveServeAuth(config);
  const backends = await openBackends(config.stores, {
    seams: ['serving', 'metadata', 'artifacts'],
    fields: storeFields(config),
  });
  // One logger for the role, a child per component.
  const logger = options.logger ?? createLogger();
  const services = await openServices(config, {
    metadata: backends.metadata,
    logger: childLogger(logger, 'services'),
  }).catch(async (error: unknown) => {
    await backends.close();
    throw error;
  });
  // The default service's hidden and seen items, beside its serving store.
  const userState = await openUserState(
    config.stores.serving,
    storeFields(config).serving,
    'default',
    childLogger(logger, 'services'),
  ).catch(async (error: unknown) => {
    await services.close();
    await backends.close();
    throw error;
  });
  const close = async (): Promise<void> => {
    await userState?.close();
    await services.close();
    await backends.close();
  };
  let pipeline: PipelineResult;
  const servicePipelines: Record<string, PipelineResult> = {};
  try {
    const run = (
      pipelineConfig: KibanConfig['pipeline'],
      stores: Pick<Parameters<typeof runPipeline>[1], 'serving' | 'metadata'>,
    ) =>
      runPipeline(pipelineConfig, {
        ...stores,
        logger: childLogger(logger, 'pipeline'),
        openArtifacts: (url) => openArtifactStore(url),
        ...(options.onPipelineEvent === undefined ? {} : { onEvent: options.onPipelineEvent }),
      });
    pipeline = await run(config.pipeline, {
      serving: backends.serving,
      metadata: backends.metadata,
    });
    for (const service of services.services)
      servicePipelines[service.name] = await run(config.services[service.name], {
        serving: service.serving,
        metadata: metadataForService(backends.metadata, service.name),
      });
  } catch (error) {
    await close();
    throw error;
  }
  let devKey: string;
  let authenticators: Awaited<ReturnType<typeof buildAuthenticators>> = [];
  try {
    devKey = await ensureDevKey(config, backends.metadata);
    if (auth.mode === 'required')
      authenticators = await buildAuthenticators(config, { metadata: backends.metadata });
  } catch (error) {
    await close();
    throw error;
  }
  const app = createServingApp({
    logger: childLogger(logger, 'serve'),
    serving: backends.serving,
    metadata: backends.metadata,
    auth: { mode: auth.mode, authenticators, publicMetrics: config.auth.publicMetrics },
    // Similar items from the item vectors the pipeline just published (the `items` index), and
    // interaction events that re-embed users when the model embeds them (graphsage, gat).
    ...freshUserServing(backends, logger),
    services: services.services,
    ...(userState === undefined ? {} : { userState }),
    ...(config.pipeline.recommend === undefined ? {} : { recommend: config.pipeline.recommend }),
  });
  return { app, pipeline, servicePipelines, auth, devKey, close };
}
