/**
 * Schemas of the serving API (JSON Schema, and zod for the tags route), used both to validate and
 * serialise requests in fastify and, through `@fastify/swagger`, to build the OpenAPI document, so
 * the two cannot drift apart.
 */
import { z } from 'zod';

/**
 * An entry of a ranked list. Ids are always strings in answers, as they are in request paths:
 * a list stored with numeric ids (published before ids became strings, or by a stage) is
 * answered with the ids' decimal strings, so clients never see the type change with the data.
 */
const scoredItem = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'the external item id' },
    score: { type: 'number' },
  },
  required: ['id', 'score'],
} as const;

export const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  required: ['code', 'message'],
} as const;

const kQuery = {
  type: 'object',
  properties: {
    k: { type: 'integer', minimum: 1, maximum: 1000, default: 10, description: 'list length' },
  },
  additionalProperties: false,
} as const;

export const recommendationsRoute = {
  summary: 'Recommended items for a user',
  description:
    'Precomputed top-k items for the user, best first. Users the model does not know get the popular items with "fallback": true.',
  params: {
    type: 'object',
    properties: { userId: { type: 'string', minLength: 1, maxLength: 256 } },
    required: ['userId'],
  },
  querystring: kQuery,
  response: {
    200: {
      type: 'object',
      properties: {
        user: { type: 'string' },
        items: { type: 'array', items: scoredItem },
        fallback: { type: 'boolean' },
      },
      required: ['user', 'items', 'fallback'],
    },
    400: errorSchema,
    503: errorSchema,
  },
} as const;

export const relatedRoute = {
  summary: 'Items related to an item',
  description:
    'Precomputed top-k most similar items, best first. An item the model does not know is a 404.',
  params: {
    type: 'object',
    properties: { itemId: { type: 'string', minLength: 1, maxLength: 256 } },
    required: ['itemId'],
  },
  querystring: kQuery,
  response: {
    200: {
      type: 'object',
      properties: { item: { type: 'string' }, items: { type: 'array', items: scoredItem } },
      required: ['item', 'items'],
    },
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
  },
} as const;

export const modelsRoute = {
  summary: 'The published model',
  description:
    'The serving version readers see now, with the model record (kind, parameters, offline metrics) behind it.',
  response: {
    200: {
      type: 'object',
      properties: {
        version: { type: 'string' },
        publishedAt: { type: 'string' },
        meta: { type: 'object', additionalProperties: true },
        model: { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: true }] },
      },
      required: ['version', 'publishedAt', 'meta', 'model'],
    },
    503: errorSchema,
  },
} as const;

/** Longest text `/v1/tags/suggest` takes, in UTF-16 code units (a post, not a book). */
export const MAX_TAG_TEXT = 10_000;

/** Error answers (`{code, message}`) in zod, for routes whose schemas are zod. */
const errorZod = z.object({ code: z.string(), message: z.string() });

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
    400: errorZod,
    503: errorZod,
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

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return json;
}
