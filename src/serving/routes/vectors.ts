import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidArgumentError, NotFoundError, NotReadyError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import { type LiveVectorSnapshot, LiveVectorIndex } from '../../vectors/live-vector-index.js';
import {
  type AttributeFilter,
  MAX_ATTRIBUTE_VALUE,
  MAX_ATTRIBUTES,
} from '../../vectors/vector-attributes.js';
import type { VectorUpdateStore } from '../../vectors/vector-update-store.js';
import { errorSchema } from '../schemas.js';

/** Options of {@link vectorRoutes}. */
export interface VectorRoutesOptions {
  /** Where indexes are saved (`vectors/<name>/…`: `kiban vectors build`, the publish step). */
  artifacts: ArtifactStore;
  /**
   * Where `PUT`/`DELETE /v1/vectors/{index}/items/{id}` keep their changes (`metadata.vectorUpdates`).
   * @defaultValue none: those routes answer 400 naming `updates`
   */
  updates?: VectorUpdateStore;
  /** How often each index's `current` pointer is read. @defaultValue 2000 */
  pollMs?: number;
  /** Indexes loaded and polled from the start (others are loaded on first use). @defaultValue ['items'] */
  preload?: readonly string[];
  /**
   * Live indexes the caller made (over the same artifact store) and shares with other routes,
   * e.g. `items` with the recommendations route's fresh users: used instead of making one of
   * that name, started and closed with these routes. @defaultValue none
   */
  shared?: readonly LiveVectorIndex[];
}

/** Most queries in one search request. */
export const MAX_VECTOR_QUERIES = 1000;
/** Most numbers in one vector (the dimension of any index served). */
export const MAX_VECTOR_DIM = 4096;
/** Most ids in an exclusion list. */
export const MAX_EXCLUDED = 10_000;
/** Most values one filter accepts for one attribute. */
export const MAX_FILTER_VALUES = 100;

/**
 * Reads the similar route's `filter` query parameter: `attr:value` pairs separated by commas
 * (`category:stickers,lang:ja`), every attribute must hold; an attribute named twice accepts
 * either value. Values may hold `:` (only the first one splits), not `,`.
 *
 * @throws InvalidArgumentError naming `field` for an empty pair or one without `:`.
 * @example
 * parseAttributeFilter('category:stickers,lang:ja'); // { category: ['stickers'], lang: ['ja'] }
 */
export function parseAttributeFilter(text: string, field = 'filter'): AttributeFilter {
  const filter: Record<string, string[]> = {};
  for (const pair of text.split(',')) {
    const colon = pair.indexOf(':');
    const name = colon < 0 ? '' : pair.slice(0, colon);
    const value = colon < 0 ? '' : pair.slice(colon + 1);
    if (name === '' || value === '')
      throw new InvalidArgumentError(
        field,
        `${JSON.stringify(pair)} is not attribute:value (write e.g. category:stickers,lang:ja)`,
      );
    (filter[name] ??= []).push(value);
  }
  return filter;
}

const attributeValue = z.string().min(1).max(MAX_ATTRIBUTE_VALUE);

const indexName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1 to 128 letters, digits, "-" and "_"')
  .describe('vector index name');
const itemId = z.string().min(1).max(256).describe('the external item id');
const kNumber = z.number().int().min(1).max(1000);
const vector = z.array(z.number()).min(1).max(MAX_VECTOR_DIM);
const hit = z.object({ id: z.string(), score: z.number() });

const similarRoute = {
  summary: 'Items nearest to an item by vector',
  description:
    "The k items whose vectors are nearest to the item's own stored vector in a vector index, the item itself and `exclude` left out, closest first; with `filter`, only items whose attributes match (an attribute the index does not have is a 400). Scores are similarities (cosine, inner product: higher is closer) or squared distances (l2: lower is closer). An item without a vector is a 404; an index not built yet, a 503.",
  params: z.object({ id: itemId }),
  querystring: z.strictObject({
    k: z.coerce.number().int().min(1).max(1000).default(10).describe('neighbours'),
    index: indexName.default('items'),
    exclude: z.string().max(100_000).optional().describe('comma-separated item ids to leave out'),
    filter: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .describe(
        'attribute equality: comma-separated attr:value pairs, all must hold (an attribute named twice accepts either value), e.g. category:stickers,lang:ja',
      ),
  }),
  response: {
    200: z.object({
      item: z.string(),
      index: z.string(),
      version: z.string(),
      items: z.array(hit),
    }),
    400: errorSchema,
    404: errorSchema,
    503: errorSchema,
  },
};

const searchRoute = {
  summary: 'Nearest items to vectors',
  description:
    "Searches a vector index with one `vector` or a batch of `vectors` (each of the index's dimension) and answers, per query, the k nearest items closest first, `exclude` left out and, with `filter`, only items whose attributes match. Scores as for /v1/items/{id}/similar.",
  params: z.object({ index: indexName }),
  body: z.strictObject({
    vector: vector.optional(),
    vectors: z.array(vector).min(1).max(MAX_VECTOR_QUERIES).optional(),
    k: kNumber.default(10),
    exclude: z.array(itemId).max(MAX_EXCLUDED).optional(),
    filter: z
      .record(
        z.string(),
        z.union([attributeValue, z.array(attributeValue).min(1).max(MAX_FILTER_VALUES)]),
      )
      .optional()
      .describe(
        'attribute equality: each attribute must hold, a value or any of an array of values, e.g. {"category": ["stickers", "fonts"]}',
      ),
  }),
  response: {
    200: z.object({ index: z.string(), version: z.string(), results: z.array(z.array(hit)) }),
    400: errorSchema,
    503: errorSchema,
  },
};

const itemParams = z.object({ index: indexName, id: itemId });

const putRoute = {
  summary: "Set an item's vector",
  description:
    "Stores the item's vector (of the index's dimension) and, optionally, its attributes as an incremental change, kept across restarts, applied on top of the versions loaded later and folded into the next build, and makes it searchable at once.",
  params: itemParams,
  body: z.strictObject({
    vector,
    attributes: z
      .record(z.string(), attributeValue)
      .optional()
      .describe(
        `the item's filterable attributes from now on (the whole set, at most ${MAX_ATTRIBUTES}); omitted: keep those it has`,
      ),
  }),
  response: {
    200: z.object({ index: z.string(), id: z.string(), version: z.string() }),
    400: errorSchema,
    503: errorSchema,
  },
};

const deleteRoute = {
  summary: "Delete an item's vector",
  description:
    'Removes the item from the index at once and records the deletion, kept across restarts and applied to every version loaded later. `deleted` says whether the item was there.',
  params: itemParams,
  response: {
    200: z.object({
      index: z.string(),
      id: z.string(),
      version: z.string(),
      deleted: z.boolean(),
    }),
    400: errorSchema,
    503: errorSchema,
  },
};

/**
 * Vector search (a fastify plugin):
 * - `GET /v1/items/{id}/similar?k&index&exclude&filter` (scope `recs:read`): nearest items to
 *   the item's own stored vector; `filter=category:stickers,lang:ja` (see {@link parseAttributeFilter});
 * - `POST /v1/vectors/{index}/search` `{vector | vectors, k, exclude?, filter?}` →
 *   `{results: [[{id, score}]]}` (scope `vectors:read`; a read, not audited); `filter` is
 *   `{attr: value | [values]}`;
 * - `PUT` and `DELETE /v1/vectors/{index}/items/{id}` (scope `vectors:write`): incremental
 *   changes (`{vector, attributes?}`), persisted and applied at once.
 *
 * Filters are equality on the attributes stored with the index (`kiban vectors build
 * --attributes`, PUT's `attributes`); a filter naming an attribute the index does not have, or a
 * malformed one, is a 400 naming `filter` (`body.filter`).
 *
 * Each index is a {@link LiveVectorIndex} over the artifact store, polled from when the app is
 * ready until it closes. Before an index is saved its routes answer 503 naming it; a vector of
 * another dimension is a 400 naming `body.vector`.
 *
 * @example
 * ```ts
 * app.register(vectorRoutes, { artifacts, updates: metadata.vectorUpdates });
 * ```
 */
export async function vectorRoutes(
  app: FastifyInstance,
  options: VectorRoutesOptions,
): Promise<void> {
  const logger = app.log.child({ component: 'vectors' }) as Logger;
  const make = (name: string) =>
    new LiveVectorIndex(options.artifacts, name, {
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.updates === undefined ? {} : { updates: options.updates }),
      logger,
    });
  /** Indexes polled: the preloaded ones, and others once they have loaded. */
  const live = new Map<string, LiveVectorIndex>();
  for (const index of options.shared ?? []) live.set(index.name, index);
  for (const name of options.preload ?? ['items']) if (!live.has(name)) live.set(name, make(name));
  let ready = false;
  let closed = false;
  app.addHook('onReady', async () => {
    ready = true;
    for (const index of live.values()) index.start();
  });
  app.addHook('onClose', async () => {
    closed = true;
    for (const index of live.values()) index.close();
  });

  /** The index `name` and the version answering now; NotReadyError naming it before one is saved. */
  async function loaded(name: string): Promise<[LiveVectorIndex, LiveVectorSnapshot]> {
    let index = live.get(name);
    let snapshot = index?.current ?? null;
    if (index === undefined) {
      // Not kept until it loads, so that unknown names do not pile up.
      const candidate = make(name);
      snapshot = await candidate.refresh();
      index = live.get(name);
      if (index === undefined && snapshot !== null && !closed) {
        index = candidate;
        live.set(name, index);
        if (ready) index.start();
      } else {
        candidate.close();
        snapshot = index?.current ?? null;
      }
    } else if (snapshot === null) snapshot = await index.refresh();
    if (index === undefined || snapshot === null)
      throw new NotReadyError(
        `vector index "${name}" is not built yet: build it with \`kiban vectors build --output ${name}\` or publish a model with item vectors`,
      );
    return [index, snapshot];
  }

  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/items/:id/similar',
    { schema: similarRoute, config: { scopes: ['recs:read'] } },
    async (request) => {
      const { id } = request.params;
      const { k, index: name, exclude, filter } = request.query;
      const attributeFilter = filter === undefined ? undefined : parseAttributeFilter(filter);
      const [index, snapshot] = await loaded(name);
      const key = snapshot.keys.get(id);
      const query = key === undefined ? null : snapshot.index.get(key);
      if (query === null) throw new NotFoundError(`item "${id}" in the vector index "${name}"`);
      const excluded = [id, ...(exclude === undefined ? [] : exclude.split(','))];
      const [items] = await index.search(snapshot, query, {
        k,
        exclude: excluded,
        ...(attributeFilter === undefined
          ? {}
          : { filter: attributeFilter, filterField: 'filter' }),
      });
      return { item: id, index: name, version: snapshot.version, items: items ?? [] };
    },
  );

  api.post(
    '/v1/vectors/:index/search',
    // A read sent as POST (the vectors are the body): not in the audit log (see audit-plugin.ts).
    { schema: searchRoute, config: { scopes: ['vectors:read'], audit: false } },
    async (request) => {
      const { index: name } = request.params;
      const { vector: one, vectors, k, exclude, filter } = request.body;
      if ((one === undefined) === (vectors === undefined))
        throw new InvalidArgumentError('body.vector', 'give either vector or vectors (not both)');
      const [index, snapshot] = await loaded(name);
      const rows = one === undefined ? vectors! : [one];
      const field = one === undefined ? 'body.vectors' : 'body.vector';
      const queries = new Float32Array(rows.length * snapshot.dim);
      for (const [i, row] of rows.entries()) {
        if (row.length !== snapshot.dim)
          throw new InvalidArgumentError(
            one === undefined ? `${field}[${i}]` : field,
            `has ${row.length} numbers, but the index "${name}" has dimension ${snapshot.dim}`,
          );
        queries.set(row, i * snapshot.dim);
      }
      const results = await index.search(snapshot, queries, {
        k,
        ...(exclude === undefined ? {} : { exclude }),
        ...(filter === undefined
          ? {}
          : {
              filter: Object.fromEntries(
                Object.entries(filter).map(([a, v]) => [a, typeof v === 'string' ? [v] : v]),
              ),
              filterField: 'body.filter',
            }),
      });
      return { index: name, version: snapshot.version, results };
    },
  );

  api.put(
    '/v1/vectors/:index/items/:id',
    { schema: putRoute, config: { scopes: ['vectors:write'] } },
    async (request) => {
      const { index: name, id } = request.params;
      const [index, snapshot] = await loaded(name);
      const { vector: values, attributes } = request.body;
      await index.upsert(
        id,
        Float32Array.from(values),
        'body.vector',
        attributes ?? null,
        'body.attributes',
      );
      return { index: name, id, version: snapshot.version };
    },
  );

  api.delete(
    '/v1/vectors/:index/items/:id',
    { schema: deleteRoute, config: { scopes: ['vectors:write'] } },
    async (request) => {
      const { index: name, id } = request.params;
      const [index, snapshot] = await loaded(name);
      const deleted = await index.delete(id);
      return { index: name, id, version: snapshot.version, deleted };
    },
  );
}
