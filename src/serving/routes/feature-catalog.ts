import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { relative, sep } from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError, NotFoundError } from '../../core/errors.js';
import {
  type FeatureRegistry,
  type RegisteredFeatureObject,
  registryEntries,
} from '../../features/feature-registry.js';
import type {
  FeatureRepository,
  FeatureServiceDefinition,
  FeatureViewDefinition,
} from '../../features/feature-types.js';
import { type EntityKeys, getOnlineFeatures, joinKeys } from '../../features/online-features.js';
import type { MaterializedMark, OnlineFeatureStore } from '../../features/online-store.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link featureCatalogRoutes}. */
export interface FeatureCatalogRoutesOptions {
  /** The feature repository served (`features.repo`). */
  repo: FeatureRepository;
  /**
   * The online store (`features.online`): `read` for the sample of values; its materialisation
   * marks (`getMaterialized`, `listMaterialized`) for freshness and `sampleKeys` for which
   * entities to show, each used when the store has it.
   */
  online: Pick<OnlineFeatureStore, 'read'> & Partial<OnlineFeatureStore>;
  /** The registry (`metadata.featureRegistry`): each view's recorded version. @defaultValue none */
  registry?: Pick<FeatureRegistry, 'list'>;
  /** The clock, epoch ms (freshness ages, TTLs of the sample). @defaultValue `Date.now` */
  now?: () => number;
}

/** Most entities in a view's sample (`?limit`). */
export const MAX_SAMPLE_ENTITIES = 100;

const iso = z.string().describe('ISO-8601 time');
const viewName = z.string().min(1).max(256);

const entitySchema = z.object({
  name: z.string(),
  joinKey: z.string(),
  type: z.enum(['string', 'int64']),
  description: z.string().nullable(),
});

const freshnessSchema = z
  .object({
    newestEventTime: iso
      .nullable()
      .describe('the newest event time materialised to the online store; null when no row was'),
    ageSeconds: z
      .number()
      .nullable()
      .describe('now − newestEventTime in seconds; null when no row was materialised'),
    stale: z
      .boolean()
      .describe(
        'whether the newest value is older than the TTL (now − newest ≥ ttl; never with ttl 0)',
      ),
    materializedFrom: iso.describe('the first materialised window start'),
    materializedUntil: iso.describe('every window before this instant has been materialised'),
    markedAt: iso.describe('when the materialisation mark was last set'),
  })
  .nullable()
  .describe("from the online store's materialisation mark; null when never materialised");

const viewSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  owner: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  entities: z.array(entitySchema).describe("the view's entities, in key order"),
  features: z.array(
    z.object({ name: z.string(), type: z.string(), description: z.string().nullable() }),
  ),
  ttlSeconds: z
    .number()
    .describe('how long a value stays valid after its event time; 0 = for ever'),
  source: z.object({
    name: z.string(),
    kind: z.enum(['file', 'query']),
    path: z
      .string()
      .nullable()
      .describe("a file source's path relative to the repository; null for a query"),
    timestamp: z.string().describe('the event-time column'),
    createdTimestamp: z.string().nullable(),
  }),
  services: z.array(z.string()).describe('the feature services that read the view'),
  registry: z
    .object({
      version: z.int(),
      appliedAt: iso,
      current: z
        .boolean()
        .describe('whether the recorded version is the definition served (false: apply pending)'),
    })
    .nullable()
    .describe('the registry version; null when never applied or the registry is not connected'),
  freshness: freshnessSchema,
});

const serviceSchema = z.object({
  name: z.string(),
  owner: z.string().nullable(),
  description: z.string().nullable(),
  features: z.array(z.string()).describe('view:feature, in the service order'),
  views: z.array(z.string()).describe('the views read, in first-use order'),
});

const listViewsRoute = {
  summary: 'Feature views of the served repository',
  description:
    "Every feature view with its entities and join keys, features, TTL, owner, description, tags, source, the feature services that read it, its registry version (when the server has the metadata store's registry) and its freshness from the online store's materialisation mark.",
  response: {
    200: z.object({
      now: iso.describe('the time ages are measured from'),
      registry: z.boolean().describe('whether registry versions were looked up'),
      entities: z.array(entitySchema),
      views: z.array(viewSchema),
    }),
  },
};

const getViewRoute = {
  summary: 'One feature view and a sample of its online values',
  description: `The view as \`GET /v1/features/views\` lists it, the feature services that read it, and the online values of up to \`limit\` entities with a status per value as \`POST /v1/features/online\` gives them (present / missing / expired). The entities are those named by \`keys\` (comma-separated; the values of a view with several entities joined by \`|\` in its entity order), else the first the online store finds holding a row of the view (\`keysFrom\`). An unknown view is a 404.`,
  params: z.strictObject({ view: viewName }),
  querystring: z.strictObject({
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_SAMPLE_ENTITIES)
      .default(10)
      .describe('most entities in the sample'),
    keys: z
      .string()
      .max(10_000)
      .optional()
      .describe('entity keys to show, comma-separated (composite keys joined by |)'),
  }),
  response: {
    200: z.object({
      now: iso,
      view: viewSchema,
      services: z.array(serviceSchema),
      sample: z.object({
        keysFrom: z
          .enum(['request', 'store', 'none'])
          .describe('where the entities came from; none: the store cannot list keys'),
        features: z.array(z.string()).describe("the view's features, in the order of values"),
        rows: z.array(
          z.object({
            entity: z.record(z.string(), z.string()).describe('join key column → key'),
            values: z.array(z.union([z.number(), z.string(), z.boolean(), z.null()])),
            statuses: z.array(z.enum(['present', 'missing', 'expired'])),
            eventTimes: z.array(iso.nullable()),
          }),
        ),
      }),
    }),
    400: errorSchema,
    404: errorSchema,
  },
};

const listServicesRoute = {
  summary: 'Feature services of the served repository',
  description:
    'Every feature service: its features (view:feature), the views it reads, owner and description.',
  response: { 200: z.object({ services: z.array(serviceSchema) }) },
};

type ViewAnswer = z.output<typeof viewSchema>;

/**
 * The feature catalogue the dashboard reads (a fastify plugin, issue 20; scope `features:read`,
 * reads, not audited):
 * - `GET /v1/features/views` → `{now, registry, entities, views}`: each view's definition, the
 *   services using it, registry version and freshness (newest materialised event time, its age,
 *   and whether that is older than the TTL);
 * - `GET /v1/features/views/{view}?limit&keys` → the view, its services and a sample of online
 *   values (`sample.rows[i].values/statuses/eventTimes`, as `getOnlineFeatures` answers them);
 * - `GET /v1/features/services` → `{services}`.
 *
 * Source paths are answered relative to the repository, never absolute.
 *
 * @example
 * ```sh
 * curl localhost:8080/v1/features/views
 * curl 'localhost:8080/v1/features/views/user_stats?limit=5'
 * curl 'localhost:8080/v1/features/views/user_stats?keys=1,2,3'
 * ```
 */
export async function featureCatalogRoutes(
  app: FastifyInstance,
  { repo, online, registry, now = Date.now }: FeatureCatalogRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { scopes: ['features:read'] as const };
  const hashes = new Map(
    registryEntries(repo)
      .filter((e) => e.kind === 'featureView')
      .map((e) => [e.name, e.contentHash]),
  );

  /** The registry's current featureView objects by name, or null without a registry. */
  const registered = async (): Promise<Map<string, RegisteredFeatureObject> | null> => {
    if (registry === undefined) return null;
    const objects = await registry.list();
    return new Map(objects.filter((o) => o.kind === 'featureView').map((o) => [o.name, o]));
  };

  api.get('/v1/features/views', { schema: listViewsRoute, config }, async () => {
    const at = now();
    const [marks, recorded] = await Promise.all([
      typeof online.listMaterialized === 'function'
        ? online.listMaterialized()
        : Promise.resolve(new Map<string, MaterializedMark>()),
      registered(),
    ]);
    return {
      now: new Date(at).toISOString(),
      registry: recorded !== null,
      entities: [...repo.entities.values()].map((e) => ({
        name: e.name,
        joinKey: e.joinKey,
        type: e.type,
        description: e.description ?? null,
      })),
      views: [...repo.featureViews.values()].map((view) =>
        viewAnswer(repo, view, marks.get(view.name) ?? null, recorded, hashes, at),
      ),
    };
  });

  api.get('/v1/features/views/:view', { schema: getViewRoute, config }, async (request) => {
    const { view: name } = request.params;
    const view = repo.featureViews.get(name);
    if (view === undefined) throw new NotFoundError(`feature view "${name}"`);
    const at = now();
    const { limit, keys: keysText } = request.query;
    const [mark, recorded] = await Promise.all([
      typeof online.getMaterialized === 'function'
        ? online.getMaterialized(name)
        : Promise.resolve(null),
      registered(),
    ]);
    const columns = joinKeys(repo, view).map((k) => k.column);
    let keysFrom: 'request' | 'store' | 'none';
    let keys: string[];
    if (keysText !== undefined && keysText.trim() !== '') {
      keysFrom = 'request';
      keys = keysText
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== '');
      if (keys.length > limit)
        throw new InvalidArgumentError(
          'querystring.keys',
          `names ${keys.length} entities, more than limit (${limit})`,
        );
    } else if (typeof online.sampleKeys === 'function') {
      keysFrom = 'store';
      // A stored key joins a composite key's values with U+001F (see entityKey).
      keys = (await online.sampleKeys(name, limit)).map((k) => k.split('\u001f').join('|'));
    } else {
      keysFrom = 'none';
      keys = [];
    }
    const entities: Record<string, string>[] = keys.map((key, i) => {
      const parts = key.split('|');
      if (parts.length !== columns.length)
        throw new InvalidArgumentError(
          `querystring.keys[${i}]`,
          `"${key}" has ${parts.length} value(s); view "${name}" is keyed by ${columns.join(' | ')}`,
        );
      return Object.fromEntries(columns.map((c, j) => [c, parts[j]!]));
    });
    const features = view.features.map((f) => ({ view: name, feature: f.name }));
    const result =
      entities.length === 0
        ? { features: [], results: [] }
        : await getOnlineFeatures({
            repo,
            online,
            features,
            entities: entities as EntityKeys[],
            now: at,
            fields: { entities: 'querystring.keys' },
          });
    const services = [...repo.featureServices.values()].filter((s) =>
      s.features.some((f) => f.view === name),
    );
    return {
      now: new Date(at).toISOString(),
      view: viewAnswer(repo, view, mark, recorded, hashes, at),
      services: services.map(serviceAnswer),
      sample: {
        keysFrom,
        features: view.features.map((f) => f.name),
        rows: result.results.map((r, i) => ({
          entity: entities[i]!,
          values: r.values,
          statuses: r.statuses,
          eventTimes: valueTimes(name, r.statuses, r.eventTimes),
        })),
      },
    };
  });

  api.get('/v1/features/services', { schema: listServicesRoute, config }, async () => ({
    services: [...repo.featureServices.values()].map(serviceAnswer),
  }));
}

function viewAnswer(
  repo: FeatureRepository,
  view: FeatureViewDefinition,
  mark: MaterializedMark | null,
  recorded: Map<string, RegisteredFeatureObject> | null,
  hashes: Map<string, string>,
  at: number,
): ViewAnswer {
  const source = repo.sources.get(view.source);
  const entry = recorded?.get(view.name);
  const newest = mark?.newestEventTime ?? null;
  const ageSeconds = newest === null ? null : Math.max(0, (at - newest) / 1000);
  return {
    name: view.name,
    description: view.description ?? null,
    owner: view.owner ?? null,
    tags: view.tags,
    entities: view.entities.map((e) => {
      const entity = repo.entities.get(e);
      return {
        name: e,
        joinKey: entity?.joinKey ?? e,
        type: entity?.type ?? 'string',
        description: entity?.description ?? null,
      };
    }),
    features: view.features.map((f) => ({
      name: f.name,
      type: f.type,
      description: f.description ?? null,
    })),
    ttlSeconds: view.ttlSeconds,
    source: {
      name: view.source,
      kind: source?.path === undefined ? 'query' : 'file',
      path:
        source?.path === undefined ? null : relative(repo.root, source.path).split(sep).join('/'),
      timestamp: source?.timestamp ?? '',
      createdTimestamp: source?.createdTimestamp ?? null,
    },
    services: [...repo.featureServices.values()]
      .filter((s) => s.features.some((f) => f.view === view.name))
      .map((s) => s.name),
    registry:
      entry === undefined
        ? null
        : {
            version: entry.version,
            appliedAt: entry.appliedAt.toISOString(),
            current: entry.contentHash === hashes.get(view.name),
          },
    freshness:
      mark === null
        ? null
        : {
            newestEventTime: newest === null ? null : new Date(newest).toISOString(),
            ageSeconds,
            stale: ageSeconds !== null && view.ttlSeconds > 0 && ageSeconds >= view.ttlSeconds,
            materializedFrom: new Date(mark.start).toISOString(),
            materializedUntil: new Date(mark.end).toISOString(),
            markedAt: new Date(mark.updatedAt).toISOString(),
          },
  };
}

/**
 * The event time of each value (ISO-8601; null when `missing`) from an SDK answer's times, given
 * per value (an array) or per view read (a record by view name): both shapes are accepted.
 */
function valueTimes(view: string, statuses: readonly string[], times: unknown): (string | null)[] {
  return statuses.map((status, i) => {
    if (status === 'missing') return null;
    const t = Array.isArray(times)
      ? (times[i] as number | null | undefined)
      : (times as Record<string, number | null | undefined>)[view];
    return t === null || t === undefined ? null : new Date(t).toISOString();
  });
}

function serviceAnswer(service: FeatureServiceDefinition): z.output<typeof serviceSchema> {
  return {
    name: service.name,
    owner: service.owner ?? null,
    description: service.description ?? null,
    features: service.features.map((f) => `${f.view}:${f.feature}`),
    views: [...new Set(service.features.map((f) => f.view))],
  };
}
