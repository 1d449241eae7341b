/**
 * Zod schemas of the serving API's recommendation, model and tag routes, used to validate
 * requests (`zodValidatorCompiler`), to type the handlers (`fastify-type-provider-zod`), to
 * serialise answers (`zodSerializerCompiler`) and, through `@fastify/swagger`, to build the
 * OpenAPI document, so none of them can drift apart.
 */
import { z } from 'zod';

/**
 * An entry of a ranked list. Ids are always strings in answers, as they are in request paths:
 * a list stored with numeric ids (published before ids became strings, or by a stage) is
 * answered with the ids' decimal strings (the route hands them over as strings, see
 * {@link wireItems}, and the serializer writes a number where a string belongs as its text), so
 * clients never see the type change with the data.
 */
const scoredItem = z.object({
  id: z.string().describe('the external item id'),
  score: z.number(),
});

/** Error answers (`{code, message}`): every 4xx and 5xx of the API. */
export const errorSchema = z.object({ code: z.string(), message: z.string() });

/** A path segment naming a user or an item. */
const externalId = z.string().min(1).max(256);

/** `?k`: query strings are text, so the number is read from it (`?k=3`). */
const kQuery = z.strictObject({
  k: z.coerce.number().int().min(1).max(1000).default(10).describe('list length'),
});

/** A stored ranked list with its ids as strings, as {@link scoredItem} answers it. */
export function wireItems(
  items: readonly { id: string | number; score: number }[],
): z.output<typeof scoredItem>[] {
  return items.map(({ id, score }) => ({ id: typeof id === 'string' ? id : String(id), score }));
}

/** How a recommended item is answered: its id, score, source and (with `?explain=true`) reasons. */
const recommendedItem = scoredItem.extend({
  source: z
    .enum(['personal', 'related-to-recent', 'category-popular', 'popular'])
    .describe('which source of the fallback chain gave the item'),
  explain: z
    .object({
      reasons: z
        .array(z.object({ item: z.string(), score: z.number() }))
        .describe("the user's (or session's) items that contributed most, strongest first"),
    })
    .optional()
    .describe('only with explain=true'),
});

/** Most ids `exclude` takes. */
export const MAX_EXCLUDED_IDS = 1000;
/** Largest `offset` of a recommendation page. */
export const MAX_RECOMMEND_OFFSET = 10_000;

/** `?exclude=a,b` (or repeated `?exclude=a&exclude=b`): ids as text, split at commas. */
const excludeQuery = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .describe(`item ids to leave out, comma-separated or repeated (at most ${MAX_EXCLUDED_IDS})`);

/** The ids of an `exclude` query parameter: split at commas, empty ones dropped. */
export function excludedIds(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export const recommendationsRoute = {
  summary: 'Recommended items for a user',
  description:
    "The user's items, best first, through the service's fallback chain (by default personal → related-to-recent → category-popular → popular): each source fills what the ones before left of the page, and each item names its `source`. " +
    'Left out: retired items, the items the user hid or has just sent events for, `exclude`d ids, and with `category` every item outside it. ' +
    '`offset` pages through one stable sequence (page 1 + page 2 = the first 2k, no duplicates). `fallback` is true when the user has no list of their own. ' +
    "With `explain=true` each item carries the user's items that contributed most.",
  params: z.object({ userId: externalId }),
  querystring: kQuery.extend({
    offset: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_RECOMMEND_OFFSET)
      .default(0)
      .describe('items to skip (pagination)'),
    category: z.string().min(1).max(256).optional().describe('only items of this category'),
    exclude: excludeQuery,
    explain: z
      .enum(['true', 'false'])
      .optional()
      .describe('true: each item carries the reasons it is recommended'),
  }),
  response: {
    200: z.object({ user: z.string(), items: z.array(recommendedItem), fallback: z.boolean() }),
    400: errorSchema,
    503: errorSchema,
  },
};

export const relatedRoute = {
  summary: 'Items related to an item',
  description:
    'Precomputed top-k most similar items, best first, retired and `exclude`d items left out. An item the model does not know is a 404.',
  params: z.object({ itemId: externalId }),
  querystring: kQuery.extend({ exclude: excludeQuery }),
  response: {
    200: z.object({ item: z.string(), items: z.array(scoredItem) }),
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
  },
};

/** Most recent items a session recommendation takes. */
export const MAX_SESSION_ITEMS = 100;

export const sessionRecommendationsRoute = {
  summary: 'Recommended items for a session',
  description:
    "Items for an anonymous session from its recent items (no user id): the recent items' related lists merged, scores summed, the session's own items left out, then the fallback chain's category-popular and popular sources. Same filters, paging and explanations as a user's recommendations.",
  body: z.strictObject({
    items: z
      .array(externalId)
      .min(1)
      .max(MAX_SESSION_ITEMS)
      .describe("the session's recent items, newest first"),
    k: z.int().min(1).max(1000).default(10).describe('list length'),
    offset: z.int().min(0).max(MAX_RECOMMEND_OFFSET).default(0).describe('items to skip'),
    category: z.string().min(1).max(256).optional().describe('only items of this category'),
    exclude: z.array(externalId).max(MAX_EXCLUDED_IDS).optional().describe('item ids to leave out'),
    explain: z.boolean().default(false).describe('each item carries the session items behind it'),
  }),
  response: {
    200: z.object({ items: z.array(recommendedItem), fallback: z.boolean() }),
    400: errorSchema,
    503: errorSchema,
  },
};

/** The event types `POST …/users/{id}/events` takes. */
export const USER_EVENT_TYPES = ['view', 'click', 'like', 'purchase', 'follow'] as const;

export const userEventsRoute = {
  summary: "Record a user's events",
  description:
    "Events of one user (view, click, like, purchase, follow), each on an item, with a time (ISO-8601 or epoch ms; default now). They are stored with the interactions for the next batch (weight by type unless given: view 1, click 1, like 2, purchase 3, follow 1) and the items are left out of the user's recommendations at once. An event with an `id` stored before is skipped.",
  params: z.object({ userId: externalId }),
  body: z.strictObject({
    events: z
      .array(
        z.strictObject({
          item: externalId.describe('the external item id'),
          type: z.enum(USER_EVENT_TYPES),
          ts: z
            .union([z.string(), z.number()])
            .optional()
            .describe('when it happened: ISO-8601 or epoch ms; default now'),
          weight: z.number().optional().describe('default by type'),
          id: externalId.optional().describe('idempotency key: an id stored before is skipped'),
        }),
      )
      .min(1)
      .max(1000),
  }),
  response: {
    200: z.object({
      accepted: z.int().describe('events stored with the interactions (0 without a store)'),
      duplicates: z.int(),
      seen: z.int().describe('items left out of recommendations from now on'),
    }),
    400: errorSchema,
  },
};

export const hiddenItemRoute = {
  summary: 'Hide an item from a user, or show it again',
  description:
    "PUT hides the item from the user's recommendations until DELETE shows it again; both are idempotent.",
  params: z.object({ userId: externalId, itemId: externalId }),
  response: { 204: z.null(), 400: errorSchema },
};

export const hiddenItemsRoute = {
  summary: 'The items a user hid',
  params: z.object({ userId: externalId }),
  response: {
    200: z.object({ user: z.string(), items: z.array(z.string()) }),
    400: errorSchema,
  },
};

export const modelsRoute = {
  summary: 'The published model',
  description:
    'The serving version readers see now, with the model record (kind, parameters, offline metrics) behind it.',
  response: {
    200: z.object({
      version: z.string(),
      publishedAt: z.string(),
      meta: z.record(z.string(), z.unknown()),
      model: z.record(z.string(), z.unknown()).nullable(),
    }),
    503: errorSchema,
  },
};

/** Longest text `/v1/tags/suggest` takes, in UTF-16 code units (a post, not a book). */
export const MAX_TAG_TEXT = 10_000;

/**
 * `POST /v1/tags/suggest` in zod (the pattern for zod route schemas: validated by
 * `zodValidatorCompiler`, typed through `fastify-type-provider-zod`, documented through its
 * JSON-schema transform).
 */
export const tagSuggestZodRoute = {
  summary: 'Suggested tags for a text',
  description:
    "The published tagger's best tags for the text, best first: at most k, none scoring under threshold. " +
    'Scores are softmax probabilities (or per-tag sigmoids for a one-vs-all model). The answering model id is in the x-kiban-model header.',
  body: z.strictObject({
    text: z.string().min(1).max(MAX_TAG_TEXT).describe('the text to tag'),
    k: z.int().min(1).max(100).default(5).describe('most tags to return'),
    threshold: z.number().min(0).max(1).default(0).describe('least score of a returned tag'),
  }),
  response: {
    200: z.array(z.object({ tag: z.string(), score: z.number() })),
    400: errorSchema,
    503: errorSchema,
  },
};

/**
 * {@link tagSuggestZodRoute} as JSON schemas (body and responses), for tools that take JSON
 * Schema rather than zod (the bare-fastify baseline of `bench/`).
 */
export const tagSuggestRoute = {
  summary: tagSuggestZodRoute.summary,
  description: tagSuggestZodRoute.description,
  body: jsonSchemaOf(tagSuggestZodRoute.body),
  response: Object.fromEntries(
    Object.entries(tagSuggestZodRoute.response).map(([status, schema]) => [
      status,
      jsonSchemaOf(schema),
    ]),
  ) as Record<200 | 400 | 503, Record<string, unknown>>,
};

/**
 * A zod request schema as JSON Schema (what it takes), for tools that take JSON Schema rather
 * than zod, such as the bare-fastify baselines of `bench/`.
 */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return json;
}
