import type { FastifyInstance } from 'fastify';
import { stat } from 'node:fs/promises';
import { BANDIT_SERVICE_DEFAULTS, BanditService } from '../../bandits/bandit-service.js';
import { DecisionLogWriter, decisionLogFileName } from '../../bandits/decision-log.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { childLogger, createLogger } from '../../core/log.js';
import { ExperimentService } from '../../experiments/experiment-service.js';
import { loadFeatureRepository } from '../../features/feature-definitions.js';
import type { OnlineFeatureStore } from '../../features/online-store.js';
import { configuredOnlineStoreUrl, openOnlineFeatureStore } from '../open-online-store.js';
import { buildOidcAuth } from '../../auth/oidc-auth.js';
import { createServingApp } from '../../serving/create-app.js';
import { createWorkflowService } from '../../workflow/engine/create-workflow-service.js';
import { InlineExecutor } from '../../workflow/executors/inline-executor.js';
import { openBackends } from '../backends.js';
import { builtinTaskHandlers, builtinTaskHandlersRef } from '../builtin-task-handlers.js';
import { buildAuthenticators } from '../build-authenticators.js';
import { storeFields, type KibanConfig } from '../config.js';
import { resolveServeAuth } from '../serve-auth.js';
import { openRateLimit } from '../open-rate-limit.js';
import { runArtifacts } from './worker.js';
import { freshUserServing } from '../fresh-user-serving.js';
import { openServices, openUserState, type OpenedServices } from '../open-services.js';
import type { UserStateStore } from '../../storage/user-state-store.js';
import { bundledPath } from '../paths.js';

/** Where the serve role looks for workflows when `serve.workflows` is not given. */
export const DEFAULT_WORKFLOWS_DIR = 'workflows';

/** A serve role, built and ready to listen. */
export interface ServeRole {
  /** The HTTP app: recommendations, bandits, experiments and, with workflows, the workflow API and dashboard. */
  app: FastifyInstance;
  /** The workflows directory in use, or null when there is none (no workflow API). */
  workflowsDir: string | null;
  /** The auth mode in force (`auth.mode`, else by host), and a warning to print loudly when it is off on a non-loopback host. */
  auth: { mode: 'required' | 'off'; warning: string | null };
  /** Tells the role the base URL it is reached at, for the links in run notifications. */
  setBaseUrl(url: string): void;
  /**
   * Releases runs in flight (left running for the next process to resume), then closes the
   * decision log and the backends. Call after the app has stopped listening.
   */
  close(): Promise<void>;
}

/**
 * The serve role: opens the serving, bandit, metadata and artifact backends of `config.stores` once and
 * builds the serving API over them, and each other service's serving store, interactions and
 * user state (`config.services`, served at `/v1/services/NAME/…`; see `app/open-services.ts`), with the bandit and experiment services and, when there is a
 * workflows directory (`serve.workflows`, else `./workflows` if it exists), the workflow service
 * with an inline executor (runs started from the dashboard are driven in this process). Auth
 * (`auth.mode`, else `required` off loopback) checks API keys from the metadata store and the
 * other ways in `auth` configures ({@link buildAuthenticators}).
 * @throws InvalidArgumentError when auth is off on a non-loopback host without `auth.insecure`
 * @throws InvalidArgumentError naming `serve.workflows`'s source when a given directory is missing
 *
 * @example
 * const role = await startServeRole(await loadKibanConfig({ file: 'kiban.yaml' }));
 * await role.app.listen({ port: 8080 });
 * // …
 * await role.app.close();
 * await role.close();
 */
export async function startServeRole(config: KibanConfig): Promise<ServeRole> {
  // Before anything opens: auth off on a non-loopback host is refused unless --insecure.
  const auth = resolveServeAuth(config);
  // Bearer JWTs, the dashboard's login session and a trusted proxy (auth.oidc, auth.proxy); the
  // login and /v1/me work with auth off too.
  const oidc = buildOidcAuth({ oidc: config.auth.oidc, proxy: config.auth.proxy });
  const dir = await workflowsDir(
    config.serve.workflows,
    config.sources['serve.workflows'] ?? 'serve.workflows',
  );
  // Feature serving (issue 20) when `features.repo` is set: read before anything opens.
  const featureRepo =
    config.features.repo === undefined ? null : await loadFeatureRepository(config.features.repo);
  const backends = await openBackends(config.stores, {
    // Artifacts: taggers published by key are loaded from the store (opening it does no I/O for file:).
    seams: ['serving', 'bandits', 'metadata', 'artifacts'],
    fields: storeFields(config),
  });
  const decisionLog = await DecisionLogWriter.open(
    decisionLogFileName(config.serve.banditLog),
  ).catch(async (error: unknown) => {
    await backends.close();
    throw error;
  });
  // Bandit state lives beside the serving store (the same URL), shared by every process using it.
  // One logger for the role (JSON lines on stderr, level from KIBAN_LOG_LEVEL), a child per component.
  const logger = createLogger();
  for (const warning of oidc.warnings) logger.warn(warning);
  const authenticators =
    auth.mode === 'off'
      ? [...oidc.authenticators]
      : [
          ...(await buildAuthenticators(config, {
            metadata: backends.metadata,
            logger: childLogger(logger, 'auth'),
          }).catch(async (error: unknown) => {
            await decisionLog.close();
            await backends.close();
            throw error;
          })),
          ...oidc.authenticators,
        ];
  // Experiments and their events live in the metadata store, shared by every process using it.
  const experiments = new ExperimentService(backends.experiments, {
    logger: childLogger(logger, 'experiments'),
    // CUPED covariates from the feature store (results?covariateFeature=VIEW:FEATURE).
    ...(featureRepo === null ? {} : { features: { repo: featureRepo } }),
  });
  // Runs started from the dashboard are driven here, with tasks in this process.
  const executor =
    dir === null
      ? null
      : new InlineExecutor({
          logs: backends.workflows,
          taskHandlersRef: builtinTaskHandlersRef({
            metadataUrl: config.stores.metadata,
            ...runArtifacts(config),
          }),
        });
  let base = '';
  const workflows =
    dir === null || executor === null
      ? undefined
      : await createWorkflowService({
          dir,
          metadata: backends.metadata,
          executor,
          handlers: builtinTaskHandlers(),
          runUrl: (id) => `${base}/runs/${encodeURIComponent(id)}`,
        });
  // Rate limits (auth.rateLimit; issue 17.5), counted in Redis when it names one.
  const rateLimit = await openRateLimit(config, childLogger(logger, 'rate-limit'));
  let online: OnlineFeatureStore | null = null;
  let services: OpenedServices | null = null;
  let userState: UserStateStore | undefined;
  const close = async (): Promise<void> => {
    await userState?.close();
    await workflows?.close();
    await executor?.close();
    await Promise.allSettled([decisionLog.close()]);
    await rateLimit?.close();
    await online?.close();
    await services?.close();
    await backends.close();
  };
  // The other services (issue 22, `services:`): each its own serving namespace, its interactions
  // and user state; the model records and API keys are the shared metadata store's.
  services = await openServices(config, {
    metadata: backends.metadata,
    logger: childLogger(logger, 'services'),
  }).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  // The default service's hidden and seen items, beside its serving store.
  userState = await openUserState(
    config.stores.serving,
    storeFields(config).serving,
    'default',
    childLogger(logger, 'services'),
  ).catch(async (error: unknown) => {
    await close();
    throw error;
  });
  // The online feature store: `features.online`, else the one beside the serving store.
  if (featureRepo !== null)
    online = await openOnlineFeatureStore(
      configuredOnlineStoreUrl(config),
      config.sources['features.online'] === undefined
        ? 'features.online'
        : `features.online (${config.sources['features.online']})`,
    ).catch(async (error: unknown) => {
      await close();
      throw error;
    });
  const features = featureRepo === null || online === null ? null : { repo: featureRepo, online };
  // Bandits take contexts named by feature service and entity from the online feature store.
  const bandits = new BanditService(backends.bandits, {
    logger: childLogger(logger, 'bandits'),
    log: decisionLog,
    decisionTtlMs: config.serve.decisionTtlMs ?? BANDIT_SERVICE_DEFAULTS.decisionTtlMs,
    limits: config.serve.banditLimits,
    ...(features === null ? {} : { features }),
  });
  const app = createServingApp({
    logger: childLogger(logger, 'serve'),
    serving: backends.serving,
    metadata: backends.metadata,
    artifacts: backends.artifacts,
    // Vector search (issue 18): indexes saved on the artifact store, PUT/DELETE changes kept in
    // the metadata store so that a restart loses none; interaction events and users re-embedded
    // from them when the published model embeds users (issue 19).
    ...freshUserServing(backends, logger),
    services: services.services,
    ...(userState === undefined ? {} : { userState }),
    ...(config.pipeline.recommend === undefined ? {} : { recommend: config.pipeline.recommend }),
    webRoot: bundledPath('dist/web'),
    ...(workflows === undefined ? {} : { workflows }),
    dataRoot: config.serve.dataRoot,
    bandits,
    experiments,
    auth: { mode: auth.mode, authenticators, publicMetrics: config.auth.publicMetrics },
    ...(oidc.login === undefined ? {} : { login: oidc.login }),
    // Every write through the API is recorded in the metadata store's audit log (issue 17.5).
    audit: backends.metadata.audit,
    ...(rateLimit === null ? {} : { rateLimit: rateLimit.options }),
    ...(features === null ? {} : { features }),
  });
  return {
    app,
    auth,
    workflowsDir: dir,
    setBaseUrl(url) {
      base = url;
    },
    close,
  };
}

/** The workflows directory to use: the one given (which must exist), else ./workflows if present. */
async function workflowsDir(given: string | undefined, field: string): Promise<string | null> {
  const dir = given ?? DEFAULT_WORKFLOWS_DIR;
  const info = await stat(dir).catch(() => null);
  if (info?.isDirectory()) return dir;
  if (given === undefined) return null;
  throw new InvalidArgumentError(field, `"${given}" is not a directory`);
}
