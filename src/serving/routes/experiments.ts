import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { InvalidArgumentError } from '../../core/errors.js';
import type { AttributeValue, Experiment } from '../../experiments/experiment.js';
import type { ExperimentService } from '../../experiments/experiment-service.js';
import type { Alternative } from '../../experiments/stats/types.js';
import {
  assignmentsRoute,
  defineExperimentRoute,
  eventsRoute,
  getExperimentRoute,
  listExperimentsRoute,
  resultsRoute,
  startExperimentRoute,
  stopExperimentRoute,
} from '../experiment-schemas.js';
import { parseFeatureReference } from '../../features/online-features.js';

/** Options of {@link experimentRoutes}. */
export interface ExperimentRoutesOptions {
  /** Answers every experiment route; its refresh starts when the app is ready and stops when it closes. */
  service: ExperimentService;
}

/** Query parameters of `GET /v1/experiments/assignments` that are not unit attributes. */
const RESERVED_QUERY = new Set(['unit']);

/**
 * The A/B testing API over `service` (a fastify plugin):
 * - `PUT /v1/experiments/{name}` (definition; `?force=true` to change the split of a running one) → 201 created, 200 changed;
 * - `GET /v1/experiments[?status=running]`, `GET /v1/experiments/{name}`;
 * - `POST /v1/experiments/{name}/start` `{at?}`, `POST /v1/experiments/{name}/stop`;
 * - `GET /v1/experiments/assignments?unit=u&attr=value…` → every running experiment's variant for the unit;
 * - `POST /v1/events` `{events: [...]}` → `{accepted, duplicates}` (idempotent by event id; an undefined experiment is a 404, a variant it lacks a 400, and the batch is refused whole);
 * - `GET /v1/experiments/{name}/results?metric=&alternative=&confidence=&cuped=&bucket=&covariateFeature=` → the analysis
 *   (`covariateFeature=VIEW:FEATURE`: CUPED with that feature at each unit's first exposure, from the feature store).
 */
export async function experimentRoutes(
  app: FastifyInstance,
  { service }: ExperimentRoutesOptions,
): Promise<void> {
  app.addHook('onReady', async () => service.startRefresh());
  app.addHook('onClose', async () => service.close());
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/experiments',
    { schema: listExperimentsRoute, config: { scopes: ['experiments:read'] } },
    async (request) => {
      const status = request.query.status;
      if (status !== undefined && !['draft', 'running', 'stopped'].includes(status))
        throw new InvalidArgumentError(
          'status',
          `must be draft, running or stopped, got "${status}"`,
        );
      return {
        experiments: await service.list(
          status === undefined ? {} : { status: status as Experiment['status'] },
        ),
      };
    },
  );

  api.get(
    '/v1/experiments/assignments',
    { schema: assignmentsRoute, config: { scopes: ['experiments:read', 'events:write'] } },
    async (request) => {
      const { unit, ...rest } = request.query;
      if (typeof unit !== 'string' || unit === '')
        throw new InvalidArgumentError('unit', 'is required: the unit (user, device…) to assign');
      const attributes: Record<string, AttributeValue> = {};
      for (const [key, value] of Object.entries(rest)) {
        if (RESERVED_QUERY.has(key)) continue;
        if (Array.isArray(value))
          throw new InvalidArgumentError(key, 'is given twice; an attribute takes one value');
        attributes[key] = value;
      }
      return { unit, assignments: await service.assignments(unit, attributes) };
    },
  );

  api.put(
    '/v1/experiments/:name',
    { schema: defineExperimentRoute, config: { scopes: ['experiments:write'] } },
    async (request, reply) => {
      if (request.params.name === 'assignments')
        throw new InvalidArgumentError(
          'name',
          '"assignments" is reserved (GET /v1/experiments/assignments)',
        );
      const { created, experiment } = await service.define(request.params.name, request.body, {
        force: request.query.force === 'true',
      });
      return reply.status(created ? 201 : 200).send({ created, experiment });
    },
  );

  api.get(
    '/v1/experiments/:name',
    { schema: getExperimentRoute, config: { scopes: ['experiments:read'] } },
    async (request) => service.get(request.params.name),
  );

  api.post(
    '/v1/experiments/:name/start',
    { schema: startExperimentRoute, config: { scopes: ['experiments:write'] } },
    async (request) => {
      const at = request.body?.at;
      if (at !== undefined && (typeof at !== 'string' || !Number.isFinite(Date.parse(at))))
        throw new InvalidArgumentError('at', `must be an ISO-8601 time, got ${JSON.stringify(at)}`);
      return service.start(request.params.name, at === undefined ? {} : { at: new Date(at) });
    },
  );

  api.post(
    '/v1/experiments/:name/stop',
    { schema: stopExperimentRoute, config: { scopes: ['experiments:write'] } },
    async (request) => service.stop(request.params.name),
  );

  api.post(
    '/v1/events',
    // Event ingestion (stored by id, at volume): not in the audit log (see audit-plugin.ts).
    { schema: eventsRoute, config: { scopes: ['events:write'], audit: false } },
    async (request) => service.ingest(request.body.events),
  );

  api.get(
    '/v1/experiments/:name/results',
    { schema: resultsRoute, config: { scopes: ['experiments:read'] } },
    async (request) => {
      const q = request.query as Record<string, string | undefined>;
      const known = new Set([
        'metric',
        'alternative',
        'confidence',
        'cuped',
        'bucket',
        'tau',
        'covariateFeature',
      ]);
      for (const key of Object.keys(q))
        if (!known.has(key))
          throw new InvalidArgumentError(
            key,
            `is not a parameter of results (known: ${[...known].join(', ')})`,
          );
      const number = (key: string): number | undefined => {
        if (q[key] === undefined) return undefined;
        const v = Number(q[key]);
        if (!Number.isFinite(v))
          throw new InvalidArgumentError(key, `must be a number, got "${q[key]}"`);
        return v;
      };
      const bucket = q.bucket ?? 'day';
      if (bucket !== 'day' && bucket !== 'hour')
        throw new InvalidArgumentError('bucket', `must be day or hour, got "${bucket}"`);
      if (q.cuped !== undefined && q.cuped !== 'true' && q.cuped !== 'false')
        throw new InvalidArgumentError('cuped', `must be true or false, got "${q.cuped}"`);
      const confidence = number('confidence');
      const tau = number('tau');
      return service.results(request.params.name, {
        ...(q.metric === undefined ? {} : { metric: q.metric }),
        ...(q.alternative === undefined ? {} : { alternative: q.alternative as Alternative }),
        ...(confidence === undefined ? {} : { confidence }),
        ...(tau === undefined ? {} : { tau }),
        cuped: q.cuped !== 'false',
        bucketMs: bucket === 'hour' ? 3_600_000 : 86_400_000,
        ...(q.covariateFeature === undefined
          ? {}
          : { covariateFeature: parseFeatureReference(q.covariateFeature, 'covariateFeature') }),
      });
    },
  );
}
