import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AuditStore } from '../auth/audit-store.js';
import type { BanditService } from '../bandits/bandit-service.js';
import { KibanError } from '../core/errors.js';
import { childLogger, processLogger, type Logger } from '../core/log.js';
import type { ExperimentService } from '../experiments/experiment-service.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { WorkflowService } from '../workflow/workflow-service.js';
import { installAuth, type AuthOptions } from './auth-plugin.js';
import { installAudit } from './audit-plugin.js';
import { installRateLimit, type RateLimitOptions } from './rate-limit-plugin.js';
import { installSecurityHeaders } from './security-headers.js';
import { STATUS_BY_CODE, type ErrorBody } from './error-status.js';
import { registerOpenApi } from './openapi-document.js';
import { instrumentRequests } from './request-metrics.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes, type AuthRoutesOptions } from './routes/auth.js';
import { banditRoutes } from './routes/bandits.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { experimentRoutes } from './routes/experiments.js';
import { featureRoutes, type FeatureRoutesOptions } from './routes/features.js';
import { featureCatalogRoutes } from './routes/feature-catalog.js';
import { registerFeatureFreshness } from './feature-freshness-metric.js';
import type { OnlineFeatureStore } from '../features/online-store.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { openApiRoutes } from './routes/openapi.js';
import type { RecommendOptions } from './recommend-engine.js';
import type { FreshUserEmbedding } from './routes/recommendations.js';
import {
  DEFAULT_SERVICE,
  type ServiceServing,
  serviceRoutes,
  servicePrefix,
  servicesListRoutes,
} from './service-routes.js';
import { SERVICE_NAME } from '../auth/principal.js';
import type { InteractionStore } from '../storage/interaction-store.js';
import type { UserStateStore } from '../storage/user-state-store.js';
import { tagRoutes } from './routes/tags.js';
import { vectorRoutes, type VectorRoutesOptions } from './routes/vectors.js';
import { workflowRoutes } from './routes/workflows.js';
import { zodSerializerCompiler } from './zod-serializer.js';
import { zodValidatorCompiler } from './zod-validator.js';

/** What the serving app reads from. */
export interface ServingAppDeps {
  serving: ServingStore;
  /** Where `/v1/models` finds the model record behind the published version; optional. */
  metadata?: MetadataStore;
  /**
   * Services besides `default` (issue 22), each served at `/v1/services/NAME/…` over its own
   * stores (see `service-routes.ts`). @defaultValue none: only the default service
   */
  services?: readonly ServiceServing[];
  /**
   * Where the app logs (unexpected errors, with their reference). @defaultValue the process
   * logger's `serve` child ({@link processLogger})
   */
  logger?: Logger;
  /**
   * Whether fastify logs each request and response through {@link ServingAppDeps.logger} (a pino
   * logger is used as it is; any other {@link Logger} is adapted). @defaultValue false
   */
  logRequests?: boolean;
  /** Adds the workflow API (`/v1/workflows…`, `/v1/runs…`) the dashboard reads; optional. */
  workflows?: WorkflowService;
  /** Directory that files named through workflow run parameters must lie in. @defaultValue the working directory */
  dataRoot?: string;
  /**
   * Directory of the built dashboard (`npm run build:web`), served at `/`; `false` serves none.
   * @defaultValue the package's `dist/web`
   */
  webRoot?: string | false;
  /** How often the published tagger is checked for a newer one (`/v1/tags/suggest`). @defaultValue 2000 */
  tagsPollMs?: number;
  /** Where taggers published by key are loaded from (`stores.artifacts`). @defaultValue none: only taggers in local files */
  artifacts?: Pick<ArtifactStore, 'get'>;
  /**
   * Adds vector search (`GET /v1/items/{id}/similar`, `POST /v1/vectors/{index}/search`, `PUT` and
   * `DELETE /v1/vectors/{index}/items/{id}`) over the indexes saved on `vectors.artifacts`, with
   * incremental changes kept in `vectors.updates` (`metadata.vectorUpdates`).
   * @defaultValue none: the routes are not mounted
   */
  vectors?: VectorRoutesOptions;
  /**
   * Adds `POST /v1/interactions`, storing user–item events in `interactions`
   * (`metadata.interactions`). @defaultValue none: the route is not mounted
   */
  interactions?: InteractionStore;
  /**
   * Re-embeds users with interactions newer than the batch in `GET /v1/users/{id}/recommendations`
   * (versions published by graphsage and gat). @defaultValue none: precomputed lists only
   */
  embedding?: FreshUserEmbedding;
  /**
   * The default service's hidden and just-seen items per user (issue 22): adds
   * `PUT`/`DELETE /v1/users/{id}/hidden/{item}` and leaves those items out of recommendations
   * (`openUserStateStore` of the serving URL). @defaultValue none: the hidden routes are not mounted
   */
  userState?: UserStateStore;
  /**
   * The default service's fallback chain and read sizes (`recommend` of the configuration).
   * @defaultValue every source in the default order
   */
  recommend?: RecommendOptions;
  /** Adds the bandit API (`/v1/bandits…`: define, decide, feedback); optional. */
  bandits?: BanditService;
  /**
   * Adds feature serving (issue 20): `POST /v1/features/online` and `POST /v1/features/push` over
   * `features.repo` and the online store `features.online` (see `routes/features.ts`).
   * @defaultValue none: the routes are not mounted
   */
  features?: FeatureRoutesOptions;
  /**
   * Who may call which route (see `auth-plugin.ts`): `mode: 'required'` checks every non-public
   * route's scopes against the principal the authenticators find; `publicMetrics` lets anyone
   * scrape `/metrics`. @defaultValue `{ mode: 'off', authenticators: [] }`: nothing is checked
   */
  auth?: AuthOptions & { publicMetrics?: boolean };
  /** Adds the A/B testing API (`/v1/experiments…`, `/v1/events`); optional. */
  experiments?: ExperimentService;
  /**
   * The dashboard's developer login (`/auth/login`, `/auth/callback`, `/auth/logout`; built by
   * `auth/oidc-auth.ts` from `auth.oidc`). `GET /v1/me` is mounted either way.
   * @defaultValue none: no login routes
   */
  login?: Required<Pick<AuthRoutesOptions, 'login' | 'sessions'>> &
    Pick<AuthRoutesOptions, 'secureCookies'>;
  /**
   * The audit log (`metadata.audit`): every write (POST, PUT, PATCH, DELETE) is recorded after it
   * is answered (see `audit-plugin.ts`), and `GET /v1/audit` (scope `audit:read`) lists it.
   * @defaultValue none: nothing is recorded and the route is not mounted
   */
  audit?: AuditStore;
  /**
   * Requests per caller (principal, or peer address when anonymous) and window, counted in Redis
   * when a client is given (see `rate-limit-plugin.ts`); over it, 429 `RATE_LIMITED`.
   * @defaultValue none: no limit
   */
  rateLimit?: RateLimitOptions;
  /**
   * Receives each unexpected error (an HTTP 500) with the reference its answer names. Whatever
   * the request-log setting, such an error is never lost: by default an `error` entry on
   * {@link ServingAppDeps.logger} with the fields `ref`, `method`, `path` and `err` (with its stack).
   */
  onInternalError?: (
    ref: string,
    error: unknown,
    request: { method: string; path: string },
  ) => void;
}

/** Logs an unexpected error, the way {@link ServingAppDeps.onInternalError} does by default. */
function logInternalError(logger: Logger): NonNullable<ServingAppDeps['onInternalError']> {
  return (ref, error, request) =>
    logger.error(
      { ref, method: request.method, path: request.path, err: error },
      `internal error ref ${ref} on ${request.method} ${request.path}`,
    );
}

/** `logger` as fastify's `loggerInstance`: a pino logger as it is, anything else given the methods fastify also calls. */
function fastifyLogger(logger: Logger): FastifyBaseLogger {
  const full = logger as Partial<FastifyBaseLogger>;
  if (
    typeof full.fatal === 'function' &&
    typeof full.trace === 'function' &&
    typeof full.silent === 'function' &&
    typeof full.level === 'string'
  )
    return full as FastifyBaseLogger;
  const call =
    (level: 'error' | 'warn' | 'info' | 'debug') =>
    (fields: unknown, message?: string): void => {
      if (typeof fields === 'string') logger[level](fields);
      else logger[level](fields as Record<string, unknown>, message);
    };
  return {
    level: 'info',
    fatal: call('error'),
    error: call('error'),
    warn: call('warn'),
    info: call('info'),
    debug: call('debug'),
    trace: call('debug'),
    silent: () => undefined,
    child: (bindings: Record<string, unknown>) => fastifyLogger(logger.child(bindings)),
  } as unknown as FastifyBaseLogger;
}

/**
 * The package's `dist/web`: two levels up from this file in both src/serving and dist/serving
 * (the same rule as the CLI's `bundledPath`, which serving may not import: cli depends on it).
 */
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

const API_VERSION = '0.1.0';

/**
 * The serving HTTP API: precomputed recommendations and related items, the published model,
 * tag suggestions from the published tagger (swapped in when a newer one is published), health
 * and readiness, Prometheus metrics and the OpenAPI document of every API route (generated by `@fastify/swagger`); with `workflows`, `bandits` or
 * `experiments`, their APIs; and the web dashboard at `/` unless `webRoot` is false. Each area is
 * a route plugin of `./routes/`, mounted only when its dependencies are given (its routes exist
 * once the app is ready: `ready()`, `listen()` or the first `inject()`). Errors are JSON
 * `{code, message}` with the status from {@link STATUS_BY_CODE}; bad parameters are 400s that
 * name the parameter; anything unexpected is a 500 naming only a reference (see
 * {@link ServingAppDeps.onInternalError}).
 *
 * @example
 * const app = createServingApp({ serving: store });
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 */
export function createServingApp(deps: ServingAppDeps): FastifyInstance {
  const { serving, metadata } = deps;
  const logger = deps.logger ?? childLogger(processLogger(), 'serve');
  const onInternalError = deps.onInternalError ?? logInternalError(logger);
  const app = Fastify({
    // fastify's own request log: through the same logger, and off unless asked for.
    ...(deps.logRequests === true ? { loggerInstance: fastifyLogger(logger) } : { logger: false }),
  });
  // Before any route: every route must declare its scopes (or public), checked as it is added;
  // and before any other hook, so that a request is authenticated first.
  installAuth(app, deps.auth ?? { mode: 'off', authenticators: [] });
  // Before any plugin: the root's hook and handlers are what every route plugin inherits.
  const registry = instrumentRequests(app);
  // Before any route: swagger documents each route from its schema as it is added.
  // Every route schema is zod: validated by zod (400s worded as before; query-string numbers are
  // read with z.coerce, JSON bodies never coerced), answers written by fast-json-stringify.
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);
  registerOpenApi(app, API_VERSION);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const v = error.validation[0];
      const where =
        error.validationContext === 'querystring'
          ? 'query'
          : (error.validationContext ?? 'request');
      const extra = v?.params as
        | { additionalProperty?: string; missingProperty?: string }
        | undefined;
      const field = v?.instancePath
        ? v.instancePath.replace(/^\//, '')
        : String(extra?.additionalProperty ?? extra?.missingProperty ?? '');
      return reply
        .status(400)
        .send(
          body(
            'INVALID_ARGUMENT',
            `${where} parameter ${field || '(unknown)'}: ${v?.message ?? error.message}`,
          ),
        );
    }
    if (error instanceof KibanError && error.code !== 'INTERNAL')
      return reply.status(STATUS_BY_CODE[error.code]).send(body(error.code, error.message));
    // fastify's own client errors: malformed JSON, a body over the size limit, a wrong content type.
    if (
      !(error instanceof KibanError) &&
      typeof error.statusCode === 'number' &&
      error.statusCode >= 400 &&
      error.statusCode < 500
    ) {
      return reply
        .status(error.statusCode)
        .send(body('INVALID_ARGUMENT', `request: ${error.message}`));
    }
    // The details (paths, SQL, stacks) go to the server's log under a reference, not to the client.
    const ref = randomUUID().slice(0, 8);
    onInternalError(ref, error, { method: request.method, path: request.url.split('?')[0] });
    return reply
      .status(500)
      .send(body('INTERNAL', `internal error (ref ${ref}: details in the server's log)`));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(body('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  // Security headers (issue 17.5) on every answer, the dashboard's CSP included.
  installSecurityHeaders(app);
  // Rate limits (issue 17.5): registered before every route plugin so that each route gets its hook.
  if (deps.rateLimit !== undefined) installRateLimit(app, deps.rateLimit);
  // Audit log (issue 17.5): a root onResponse hook, so every route plugin below inherits it.
  if (deps.audit !== undefined) {
    installAudit(app, { store: deps.audit, logger });
    void app.register(auditRoutes, { store: deps.audit });
  }

  // Every app serves the published lists, models and tags: their one dependency, the serving
  // store, is required. The default service's routes are at /v1/…, every other service's
  // (issue 22) at /v1/services/NAME/…, each over its own stores; interaction events (issue 19)
  // are what fresh users are re-embedded from, kept for the next batch.
  const defaultService: ServiceServing = {
    name: DEFAULT_SERVICE,
    serving,
    ...(metadata === undefined ? {} : { metadata }),
    ...(deps.interactions === undefined ? {} : { interactions: deps.interactions }),
    ...(deps.embedding === undefined ? {} : { embedding: deps.embedding }),
    ...(deps.userState === undefined ? {} : { userState: deps.userState }),
    ...(deps.recommend === undefined ? {} : { recommend: deps.recommend }),
  };
  const services = [defaultService, ...(deps.services ?? [])];
  const names = new Set<string>();
  for (const service of services) {
    if (names.has(service.name)) throw new Error(`service "${service.name}" is given twice`);
    if (service.name !== DEFAULT_SERVICE && !SERVICE_NAME.test(service.name))
      throw new Error(
        `service name "${service.name}" must be lower-case letters, digits and -, starting with a letter (at most 32)`,
      );
    names.add(service.name);
    void app.register(serviceRoutes, { prefix: servicePrefix(service.name), service });
  }
  void app.register(servicesListRoutes, { services });
  void app.register(healthRoutes, { serving });
  void app.register(metricsRoutes, { registry, public: deps.auth?.publicMetrics === true });
  void app.register(openApiRoutes);
  void app.register(authRoutes, {
    authenticators: deps.auth?.authenticators ?? [],
    ...(deps.login === undefined ? {} : deps.login),
  });
  void app.register(tagRoutes, {
    serving,
    ...(deps.tagsPollMs === undefined ? {} : { pollMs: deps.tagsPollMs }),
    ...(deps.artifacts === undefined ? {} : { artifacts: deps.artifacts }),
  });
  if (deps.workflows !== undefined)
    void app.register(
      workflowRoutes,
      deps.dataRoot === undefined
        ? { service: deps.workflows }
        : { service: deps.workflows, dataRoot: deps.dataRoot },
    );
  // Vector search (issue 18): indexes on the artifact store, changes in the metadata store.
  if (deps.vectors !== undefined) void app.register(vectorRoutes, deps.vectors);
  // Bandits (issue 8): online decide/feedback over the shared bandit store.
  if (deps.bandits !== undefined) void app.register(banditRoutes, { service: deps.bandits });
  // Feature store (issue 20): online values and pushed rows over the configured repository.
  if (deps.features !== undefined) void app.register(featureRoutes, deps.features);
  // …and the catalogue the dashboard reads (views, services, freshness, a sample of values).
  if (deps.features !== undefined)
    void app.register(featureCatalogRoutes, {
      ...deps.features,
      registry: metadata?.featureRegistry,
    });
  // …and kiban_feature_view_freshness_seconds{view} from the store's materialisation marks.
  const online = deps.features?.online as Partial<OnlineFeatureStore> | undefined;
  if (typeof online?.listMaterialized === 'function')
    registerFeatureFreshness(registry, online as Pick<OnlineFeatureStore, 'listMaterialized'>);
  // A/B testing (issue 9): experiments, assignment, events and analysis over the metadata store.
  if (deps.experiments !== undefined)
    void app.register(experimentRoutes, { service: deps.experiments });
  if (deps.webRoot !== false)
    void app.register(dashboardRoutes, { webRoot: deps.webRoot ?? DEFAULT_WEB_ROOT });
  return app;
}

function body(code: string, message: string): ErrorBody {
  return { code, message };
}
