/**
 * JSON schemas of the serving API, used both to validate and serialise requests in fastify and to
 * build the OpenAPI document, so the two cannot drift apart.
 */

/**
 * An entry of a ranked list. Ids are always strings in answers, as they are in request paths:
 * a list stored with numeric ids (published before ids became strings, or by a stage) is
 * answered with the ids' decimal strings, so clients never see the type change with the data.
 */
const scoredItem = {
  type: 'object',
  properties: { id: { type: 'string', description: 'the external item id' }, score: { type: 'number' } },
  required: ['id', 'score'],
} as const;

export const errorSchema = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  required: ['code', 'message'],
} as const;

const kQuery = {
  type: 'object',
  properties: { k: { type: 'integer', minimum: 1, maximum: 1000, default: 10, description: 'list length' } },
  additionalProperties: false,
} as const;

export const recommendationsRoute = {
  summary: 'Recommended items for a user',
  description: 'Precomputed top-k items for the user, best first. Users the model does not know get the popular items with "fallback": true.',
  params: { type: 'object', properties: { userId: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['userId'] },
  querystring: kQuery,
  response: {
    200: {
      type: 'object',
      properties: { user: { type: 'string' }, items: { type: 'array', items: scoredItem }, fallback: { type: 'boolean' } },
      required: ['user', 'items', 'fallback'],
    },
    400: errorSchema,
    503: errorSchema,
  },
} as const;

export const relatedRoute = {
  summary: 'Items related to an item',
  description: 'Precomputed top-k most similar items, best first. An item the model does not know is a 404.',
  params: { type: 'object', properties: { itemId: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['itemId'] },
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
  description: 'The serving version readers see now, with the model record (kind, parameters, offline metrics) behind it.',
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

export const tagSuggestRoute = {
  summary: 'Suggested tags for a text',
  description:
    'The published tagger\'s best tags for the text, best first: at most k, none scoring under threshold. ' +
    'Scores are softmax probabilities (or per-tag sigmoids for a one-vs-all model). The answering model id is in the x-kiban-model header.',
  body: {
    type: 'object',
    properties: {
      text: { type: 'string', minLength: 1, maxLength: MAX_TAG_TEXT, description: 'the text to tag' },
      k: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: 'most tags to return' },
      threshold: { type: 'number', minimum: 0, maximum: 1, default: 0, description: 'least score of a returned tag' },
    },
    required: ['text'],
    additionalProperties: false,
  },
  response: {
    200: {
      type: 'array',
      items: { type: 'object', properties: { tag: { type: 'string' }, score: { type: 'number' } }, required: ['tag', 'score'] },
    },
    400: errorSchema,
    503: errorSchema,
  },
} as const;

/** A fastify route schema as used above. */
export interface RouteSchema {
  summary: string;
  description: string;
  params?: { properties: Record<string, unknown>; required?: readonly string[] };
  querystring?: { properties: Record<string, unknown> };
  /** A JSON request body (the route is a POST). */
  body?: unknown;
  response: Record<number, unknown>;
}

/** Builds the OpenAPI 3.1 document of the routes, keyed by their OpenAPI paths. */
export function openApiDocument(routes: Record<string, RouteSchema>, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, schema] of Object.entries(routes)) {
    const parameters = [
      ...Object.entries(schema.params?.properties ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
      ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: false, schema: s })),
    ];
    const responses = Object.fromEntries(
      Object.entries(schema.response).map(([status, s]) => [status, { description: status === '200' ? 'OK' : 'Error', content: { 'application/json': { schema: s } } }]),
    );
    const operation = { summary: schema.summary, description: schema.description, parameters, responses };
    paths[path] =
      schema.body === undefined
        ? { get: operation }
        : { post: { ...operation, requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } } };
  }
  return { openapi: '3.1.0', info: { title: 'kiban serving API', version }, paths };
}
