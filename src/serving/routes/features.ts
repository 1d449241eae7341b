import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { InvalidArgumentError } from '../../core/errors.js';
import type {
  FeatureRepository,
  FeatureValueType,
  FeatureViewDefinition,
} from '../../features/feature-types.js';
import type { FeatureReference } from '../../features/feature-types.js';
import {
  getOnlineFeatures,
  joinKeys,
  keyValue,
  type OnlineFeaturesResult,
  parseFeatureReference,
} from '../../features/online-features.js';
import {
  entityKey,
  type FeatureValue,
  type OnlineFeatureStore,
  type OnlineWrite,
} from '../../features/online-store.js';
import { appendPushLog, type PushLogRow } from '../../features/push-log.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link featureRoutes}. */
export interface FeatureRoutesOptions {
  /** The feature repository served (`features.repo`), read once at start. */
  repo: FeatureRepository;
  /** Where online values are read and pushed rows written (`features.online`). */
  online: Pick<OnlineFeatureStore, 'read' | 'write'>;
}

/** Most entities in one online request. */
export const MAX_ONLINE_ENTITIES = 1000;
/** Most features named in one online request. */
export const MAX_ONLINE_FEATURES = 1000;
/** Most values (entities × features) in one online answer. */
export const MAX_ONLINE_VALUES = 250_000;
/** Most rows in one push. */
export const MAX_PUSH_ROWS = 10_000;

/** Most distinct feature lists whose parse is kept (beyond it the cache starts again). */
const MAX_CACHED_LISTS = 256;

/** The media type of the compact binary answer. */
export const MSGPACK_TYPE = 'application/x-msgpack';

// Plain msgpack (no records extension), so any msgpack library decodes the answer.
const packr = new Packr({ useRecords: false });

const name = z.string().min(1).max(256);
const keyCell = z.union([z.string().max(1024), z.number()]);
const value = z.union([z.number(), z.string(), z.boolean(), z.null()]);

/** The schema of `POST /v1/features/online` (also what bench/features-online.ts's bare route validates). */
export const onlineFeaturesRoute = {
  summary: 'Online feature values for entities',
  description: `The latest values of \`features\` (\`view:feature\`, in answer order) or of a \`featureService\`'s features for each of \`entities\` (up to ${MAX_ONLINE_ENTITIES}, each holding the join keys of every view read, e.g. \`{"user_id": "1"}\`; at most ${MAX_ONLINE_VALUES} values in all), in request order. Columnar: \`features\` once, then per entity \`values\` and \`statuses\` in the order of \`features\`, and \`eventTimes\`: by view, the event time (epoch ms) of the entity's row of that view, null when it has none. A status is \`present\`, \`missing\` (no row, or a row written before the view had the feature; value null) or \`expired\` (older than the view's TTL: \`now − eventTime ≥ ttl\`; value null). With \`Accept: ${MSGPACK_TYPE}\` the same object is answered as msgpack. An unknown view, feature or service, or an entity without a join key or with a key of the wrong type, is a 400 naming it.`,
  body: z.strictObject({
    features: z
      .array(z.string().min(3).max(513))
      .min(1)
      .max(MAX_ONLINE_FEATURES)
      .optional()
      .describe('view:feature references; exactly one of features and featureService'),
    featureService: name.optional().describe('a feature service of the repository'),
    entities: z
      .array(z.record(z.string(), keyCell))
      .min(1)
      .max(MAX_ONLINE_ENTITIES)
      .describe('join key column → key value, e.g. {"user_id": "1"}'),
  }),
  response: {
    200: z.object({
      features: z.array(z.string()),
      results: z.array(
        z.object({
          values: z.array(value),
          statuses: z.array(z.enum(['present', 'missing', 'expired'])),
          eventTimes: z.record(z.string(), z.number().nullable()),
        }),
      ),
    }),
    400: errorSchema,
  },
};

const pushRoute = {
  summary: 'Push feature rows',
  description: `Rows of one feature view (up to ${MAX_PUSH_ROWS}), each with the view's join keys, its source's event-time column (ISO-8601, or epoch seconds as a number), optionally its created-time column, and every feature of the view (null allowed; a row replaces the entity's whole row). Types are checked against the view (int64: an integer or its decimal digits; float: a number; bool; string; timestamp: ISO-8601 or epoch seconds). The rows are appended to the repository's push log (read by later point-in-time joins) and written to the online store, where a row replaces the stored one only if newer (event time, then created time: the created time is the column's when given, else when the push was received). \`stored\` counts rows that did.`,
  body: z.strictObject({
    view: name.describe('the feature view'),
    rows: z.array(z.record(z.string(), value)).min(1).max(MAX_PUSH_ROWS),
  }),
  response: {
    200: z.object({ view: z.string(), rows: z.int(), stored: z.int() }),
    400: errorSchema,
  },
};

/**
 * Feature serving (a fastify plugin, issue 20):
 * - `POST /v1/features/online` `{features: ["view:feature", …] | featureService, entities: [{…}]}`
 *   (scope `features:read`; a read, not audited) → `{features, results: [{values, statuses,
 *   eventTimes}]}` in request order (see `features/online-features.ts`), JSON, or msgpack with
 *   `Accept: application/x-msgpack`;
 * - `POST /v1/features/push` `{view, rows: [{<join keys>, <event time>, <features>…}]}` (scope
 *   `features:write`; data-plane ingestion, not audited, like `/v1/interactions`) →
 *   `{view, rows, stored}`: validated against the view (a bad cell is a 400 naming
 *   `body.rows[i].column`, and nothing is written), appended to the push log
 *   (`features/push-log.ts`), then written to the online store newest-wins.
 *
 * @example
 * ```sh
 * curl -X POST localhost:8080/v1/features/online -H 'content-type: application/json' \
 *   -d '{"featureService":"user_activity","entities":[{"user_id":1},{"user_id":2}]}'
 * curl -X POST localhost:8080/v1/features/push -H 'content-type: application/json' \
 *   -d '{"view":"user_stats","rows":[{"user_id":1,"event_time":"2026-12-07T00:00:00Z","ratings_1d":3,"mean_rating_1d":4.5,"ratings_total":120}]}'
 * ```
 */
export async function featureRoutes(
  app: FastifyInstance,
  { repo, online }: FeatureRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Parsed feature lists by their text: a client sends the same list again and again, and the
  // same array object lets getOnlineFeatures reuse its plan without rebuilding a key.
  const parsed = new Map<string, readonly FeatureReference[]>();
  const references = (features: readonly string[]): readonly FeatureReference[] => {
    const text = features.join('\u001f');
    let refs = parsed.get(text);
    if (refs === undefined) {
      refs = features.map((f, i) => parseFeatureReference(f, `body.features[${i}]`));
      if (parsed.size >= MAX_CACHED_LISTS) parsed.clear();
      parsed.set(text, refs);
    }
    return refs;
  };
  api.post(
    '/v1/features/online',
    { schema: onlineFeaturesRoute, config: { scopes: ['features:read'], audit: false } },
    async (request, reply) => {
      const { body } = request;
      const width =
        body.features?.length ??
        repo.featureServices.get(body.featureService ?? '')?.features.length;
      if (width !== undefined && width * body.entities.length > MAX_ONLINE_VALUES)
        throw new InvalidArgumentError(
          'body.entities',
          `${body.entities.length} entities × ${width} features is over ${MAX_ONLINE_VALUES} values in one answer; split the request`,
        );
      const result = await getOnlineFeatures({
        repo,
        online,
        ...(body.features === undefined ? {} : { features: references(body.features) }),
        ...(body.featureService === undefined ? {} : { featureService: body.featureService }),
        entities: body.entities,
        fields: {
          features: 'body.features',
          featureService: 'body.featureService',
          entities: 'body.entities',
        },
      });
      const accept = request.headers.accept;
      // Answered already serialised (the schema documents it): JSON.stringify writes these plain
      // arrays faster than a schema serializer choosing among value types per cell.
      const raw = reply as FastifyReply;
      if (accept?.includes(MSGPACK_TYPE)) return raw.type(MSGPACK_TYPE).send(packr.pack(result));
      return raw.type('application/json; charset=utf-8').send(onlineFeaturesJson(result));
    },
  );
  api.post(
    '/v1/features/push',
    { schema: pushRoute, config: { scopes: ['features:write'], audit: false } },
    async (request) => {
      const { body } = request;
      const view = repo.featureViews.get(body.view);
      if (view === undefined)
        throw new InvalidArgumentError(
          'body.view',
          `no feature view "${body.view}"; the repository has ${[...repo.featureViews.keys()].map((v) => `"${v}"`).join(', ') || 'none'}`,
        );
      const receivedAt = Date.now();
      const rows = pushRows(repo, view, body.rows, receivedAt);
      await appendPushLog(repo, view, rows, receivedAt);
      const writes: OnlineWrite[] = rows.map((row) => ({
        key: entityKey(row.keys),
        eventTime: row.eventTime,
        createdTime: row.createdTime,
        values: row.values as FeatureValue[],
      }));
      const stored = await online.write(
        view.name,
        view.features.map((f) => f.name),
        writes,
      );
      return { view: view.name, rows: rows.length, stored };
    },
  );
}

/** JSON texts of feature name lists (the frozen list an answer shares with its plan). */
const namesJson = new WeakMap<readonly string[], string>();
/** `["present",…]` by length: the usual statuses of an entity. */
const allPresent = new Map<number, string>();

/**
 * `JSON.stringify(result)`, the same text, with the parts answers repeat made once: the feature
 * names (per list) and an all-`present` status array (per width).
 */
export function onlineFeaturesJson(result: OnlineFeaturesResult): string {
  let names = namesJson.get(result.features);
  if (names === undefined) {
    names = JSON.stringify(result.features);
    if (Object.isFrozen(result.features)) namesJson.set(result.features, names);
  }
  const parts: string[] = [`{"features":${names},"results":[`];
  for (let e = 0; e < result.results.length; e += 1) {
    const { values, statuses, eventTimes } = result.results[e];
    parts.push(
      `${e === 0 ? '' : ','}{"values":${JSON.stringify(values)},"statuses":${statusesJson(statuses)},"eventTimes":${JSON.stringify(eventTimes)}}`,
    );
  }
  parts.push(']}');
  return parts.join('');
}

function statusesJson(statuses: readonly string[]): string {
  for (const s of statuses) if (s !== 'present') return JSON.stringify(statuses);
  let text = allPresent.get(statuses.length);
  if (text === undefined) {
    text = JSON.stringify(statuses);
    if (allPresent.size < 1024) allPresent.set(statuses.length, text);
  }
  return text;
}

/**
 * The pushed rows checked against `view` and put in its order.
 * @throws InvalidArgumentError naming `body.rows[i].column`.
 */
function pushRows(
  repo: FeatureRepository,
  view: FeatureViewDefinition,
  input: readonly Record<string, FeatureValue>[],
  receivedAt: number,
): PushLogRow[] {
  const source = repo.sources.get(view.source);
  if (source === undefined)
    throw new InvalidArgumentError(
      'body.view',
      `view "${view.name}" has no source "${view.source}"`,
    );
  const keys = joinKeys(repo, view);
  const known = new Set<string>([
    ...keys.map((k) => k.column),
    source.timestamp,
    ...(source.createdTimestamp === undefined ? [] : [source.createdTimestamp]),
    ...view.features.map((f) => f.name),
  ]);
  return input.map((row, i) => {
    const at = `body.rows[${i}]`;
    for (const column of Object.keys(row))
      if (!known.has(column))
        throw new InvalidArgumentError(
          `${at}.${column}`,
          `view "${view.name}" has no such column; a row holds ${[...known].map((c) => `"${c}"`).join(', ')}`,
        );
    const eventTime = timeMs(row[source.timestamp], `${at}.${source.timestamp}`);
    const created =
      source.createdTimestamp === undefined ? undefined : row[source.createdTimestamp];
    return {
      keys: keys.map((k) => keyValue(row[k.column], k.type, `${at}.${k.column}`)),
      eventTime,
      createdTime:
        created === undefined || created === null
          ? receivedAt
          : timeMs(created, `${at}.${source.createdTimestamp}`),
      values: view.features.map((f) => featureValue(row[f.name], f.type, `${at}.${f.name}`)),
    };
  });
}

/** ISO-8601 text or epoch seconds as epoch milliseconds. */
function timeMs(value: FeatureValue | undefined, field: string): number {
  if (value === undefined) throw new InvalidArgumentError(field, 'is missing');
  const ms =
    typeof value === 'number' ? value * 1000 : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15)
    throw new InvalidArgumentError(
      field,
      `must be an ISO-8601 time or epoch seconds, got ${JSON.stringify(value)}`,
    );
  return ms;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A pushed cell checked against its feature type, as the online store keeps it. */
function featureValue(
  value: FeatureValue | undefined,
  type: FeatureValueType,
  field: string,
): FeatureValue {
  if (value === undefined)
    throw new InvalidArgumentError(field, 'is missing (give null for no value)');
  if (value === null) return null;
  const wrong = (what: string): never => {
    throw new InvalidArgumentError(
      field,
      `must be ${what} (${type}), got ${JSON.stringify(value)}`,
    );
  };
  switch (type) {
    case 'int64': {
      if (typeof value === 'number')
        return Number.isSafeInteger(value) ? value : wrong('an integer');
      if (typeof value !== 'string') return wrong('an integer');
      // Decimal digits: a number when safe, else its canonical text (as the stores keep a bigint).
      const text = keyValue(value, 'int64', field);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'int32':
      return typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= INT32_MIN &&
        value <= INT32_MAX
        ? value
        : wrong('a 32-bit integer');
    case 'float64':
    case 'float32':
      return typeof value === 'number' && Number.isFinite(value) ? value : wrong('a finite number');
    case 'bool':
      return typeof value === 'boolean' ? value : wrong('true or false');
    case 'string':
      return typeof value === 'string' ? value : wrong('a string');
    case 'timestamp':
      return typeof value === 'boolean'
        ? wrong('ISO-8601 or epoch seconds')
        : new Date(timeMs(value, field)).toISOString();
  }
}
