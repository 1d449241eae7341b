import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KibanError, NotReadyError } from '../core/errors.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import type { WorkflowService } from '../workflow/workflow-service.js';
import { registerBanditRoutes } from './bandit-routes.js';
import { banditOpenApiRoutes } from './bandit-schemas.js';
import type { BanditService } from '../bandits/bandit-service.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { STATUS_BY_CODE, type ErrorBody } from './error-status.js';
import { LiveTagger } from '../models/tags/live-tagger.js';
import { modelsRoute, openApiDocument, recommendationsRoute, relatedRoute, tagSuggestRoute } from './schemas.js';
import { registerTagsRoute } from './tags-route.js';
import { textOnlyCoercion } from './validator-compiler.js';
import { registerWorkflowRoutes } from './workflow-routes.js';
import { experimentOpenApiRoutes } from './experiment-schemas.js';
import { registerExperimentRoutes } from './experiment-routes.js';
import type { ExperimentService } from '../experiments/experiment-service.js';

/** What the serving app reads from. */
export interface ServingAppDeps {
  serving: ServingStore;
  /** Where `/v1/models` finds the model record behind the published version; optional. */
  metadata?: MetadataStore;
  /** fastify's logger (pino); off by default. */
  logger?: boolean;
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
  /** Adds the bandit API (`/v1/bandits…`: define, decide, feedback); optional. */
  bandits?: BanditService;
  /** Adds the A/B testing API (`/v1/experiments…`, `/v1/events`); optional. */
  experiments?: ExperimentService;
  /**
   * Receives each unexpected error (an HTTP 500) with the reference its answer names. Whatever
   * the logger setting, such an error is never lost: by default a line on stderr with the
   * reference, the request's method and path, and the error's stack.
   */
  onInternalError?: (ref: string, error: unknown, request: { method: string; path: string }) => void;
}

/** Writes an unexpected error on stderr, the way {@link ServingAppDeps.onInternalError} does by default. */
function writeInternalError(ref: string, error: unknown, request: { method: string; path: string }): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`kiban serve: internal error ref ${ref} on ${request.method} ${request.path}: ${detail}\n`);
}

/**
 * The package's `dist/web`: two levels up from this file in both src/serving and dist/serving
 * (the same rule as the CLI's `bundledPath`, which serving may not import: cli depends on it).
 */
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

const API_VERSION = '0.1.0';

/**
 * The serving HTTP API: precomputed recommendations and related items, the published model,
 * tag suggestions from the published tagger (swapped in when a newer one is published), health and readiness, Prometheus metrics and the OpenAPI document; with `workflows`, the
 * workflow API, and the web dashboard at `/`. Errors are JSON
 * `{code, message}` with the status from {@link STATUS_BY_CODE}; bad parameters are 400s that
 * name the parameter.
 *
 * @example
 * const app = createServingApp({ serving: store });
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 */
export function createServingApp(deps: ServingAppDeps): FastifyInstance {
  const { serving, metadata } = deps;
  const app = Fastify({
    logger: deps.logger ?? false,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allowUnionTypes: true } },
    // Query strings are text and give numbers; JSON bodies must already have the right types.
    schemaController: { compilersFactory: { buildValidator: textOnlyCoercion } },
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latency = new Histogram({
    name: 'kiban_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // Label lookups cost more than the observation itself; keep one child per label set.
  const children = new Map<string, { observe(seconds: number): void }>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = latency.labels({ method: request.method, route, status: String(reply.statusCode) })));
    child.observe(reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const v = error.validation[0];
      const where = error.validationContext === 'querystring' ? 'query' : (error.validationContext ?? 'request');
      const extra = v?.params as { additionalProperty?: string; missingProperty?: string } | undefined;
      const field = v?.instancePath ? v.instancePath.replace(/^\//, '') : String(extra?.additionalProperty ?? extra?.missingProperty ?? '');
      return reply.status(400).send(body('INVALID_ARGUMENT', `${where} parameter ${field || '(unknown)'}: ${v?.message ?? error.message}`));
    }
    if (error instanceof KibanError && error.code !== 'INTERNAL') return reply.status(STATUS_BY_CODE[error.code]).send(body(error.code, error.message));
    // fastify's own client errors: malformed JSON, a body over the size limit, a wrong content type.
    if (!(error instanceof KibanError) && typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.status(error.statusCode).send(body('INVALID_ARGUMENT', `request: ${error.message}`));
    }
    // The details (paths, SQL, stacks) go to the server's log under a reference, not to the client.
    const ref = randomUUID().slice(0, 8);
    app.log.error({ err: error, ref }, 'internal error');
    (deps.onInternalError ?? writeInternalError)(ref, error, { method: request.method, path: request.url.split('?')[0] });
    return reply.status(500).send(body('INTERNAL', `internal error (ref ${ref}: details in the server's log)`));
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send(body('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));

  app.get<{ Params: { userId: string }; Querystring: { k: number } }>('/v1/users/:userId/recommendations', { schema: recommendationsRoute }, async (request) => {
    const { userId } = request.params;
    const { k } = request.query;
    const items = await serving.getList('user', userId, { limit: k });
    if (items !== null) return { user: userId, items, fallback: false };
    const popular = await serving.getList('popular', 'all', { limit: k });
    if (popular === null) throw new NotReadyError('no recommendations are published yet');
    return { user: userId, items: popular, fallback: true };
  });

  app.get<{ Params: { itemId: string }; Querystring: { k: number } }>('/v1/items/:itemId/related', { schema: relatedRoute }, async (request, reply) => {
    const { itemId } = request.params;
    const items = await serving.getList('related', itemId, { limit: request.query.k });
    if (items !== null) return { item: itemId, items };
    if ((await serving.currentVersion()) === null) throw new NotReadyError('no recommendations are published yet');
    return reply.status(404).send(body('NOT_FOUND', `item "${itemId}" is unknown to the published model`));
  });

  app.get('/v1/models', { schema: modelsRoute }, async () => {
    const current = await serving.currentVersion();
    if (current === null) throw new NotReadyError('no model is published yet');
    const modelId = typeof current.meta.modelId === 'string' ? current.meta.modelId : null;
    const model = modelId !== null && metadata !== undefined ? await metadata.getModel(modelId) : null;
    return { version: current.version, publishedAt: current.publishedAt, meta: current.meta, model };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reachable = await serving.ping().catch(() => false);
    const current = reachable ? await serving.currentVersion().catch(() => null) : null;
    const ready = reachable && current !== null;
    return reply.status(ready ? 200 : 503).send({ ready, store: reachable, version: current?.version ?? null });
  });
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  const openapi = openApiDocument(
    { '/v1/users/{userId}/recommendations': recommendationsRoute, '/v1/items/{itemId}/related': relatedRoute, '/v1/models': modelsRoute, '/v1/tags/suggest': tagSuggestRoute, ...(deps.bandits === undefined ? {} : banditOpenApiRoutes), ...(deps.experiments === undefined ? {} : experimentOpenApiRoutes) },
    API_VERSION,
  );
  app.get('/openapi.json', async () => openapi);
  const tagger = new LiveTagger(serving, { ...(deps.tagsPollMs === undefined ? {} : { pollMs: deps.tagsPollMs }), log: (line) => app.log.info(line) });
  app.addHook('onReady', async () => tagger.start());
  app.addHook('onClose', async () => tagger.close());
  registerTagsRoute(app, tagger);
  if (deps.workflows !== undefined) registerWorkflowRoutes(app, deps.workflows, deps.dataRoot === undefined ? {} : { dataRoot: deps.dataRoot });
  // Bandits (issue 8): online decide/feedback over the shared bandit store.
  if (deps.bandits !== undefined) registerBanditRoutes(app, deps.bandits);
  // A/B testing (issue 9): experiments, assignment, events and analysis over the metadata store.
  if (deps.experiments !== undefined) registerExperimentRoutes(app, deps.experiments);
  if (deps.webRoot !== false) registerDashboardRoutes(app, deps.webRoot ?? DEFAULT_WEB_ROOT);
  return app;
}

function body(code: string, message: string): ErrorBody {
  return { code, message };
}
