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

export const recommendationsRoute = {
  summary: 'Recommended items for a user',
  description:
    'Precomputed top-k items for the user, best first. Users the model does not know get the popular items with "fallback": true.',
  params: z.object({ userId: externalId }),
  querystring: kQuery,
  response: {
    200: z.object({ user: z.string(), items: z.array(scoredItem), fallback: z.boolean() }),
    400: errorSchema,
    503: errorSchema,
  },
};

export const relatedRoute = {
  summary: 'Items related to an item',
  description:
    'Precomputed top-k most similar items, best first. An item the model does not know is a 404.',
  params: z.object({ itemId: externalId }),
  querystring: kQuery,
  response: {
    200: z.object({ item: z.string(), items: z.array(scoredItem) }),
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
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
