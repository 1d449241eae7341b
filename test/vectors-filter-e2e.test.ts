import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.js';
import { createServingApp } from '../src/serving/create-app.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { foldVectorUpdates } from '../src/vectors/fold-vector-updates.js';
import { vectorIndexKind } from '../src/vectors/index-kinds.js';
import { saveVectorIndex } from '../src/vectors/stored-index.js';
import { VectorAttributes } from '../src/vectors/vector-attributes.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from './fixtures/postgres.js';
import { useTempDir } from './fixtures/temp-dir.js';

const DIM = 6;
const N = 90;
const CATEGORIES = ['stickers', 'fonts', 'emoji'];
const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

interface Running {
  app: FastifyInstance;
  metadata: KyselyMetadataStore;
  close(): Promise<void>;
}

/** The serving app over the artifact store in `dir`, changes kept in PostgreSQL schema `schema`. */
async function serve(dir: string, schema: string): Promise<Running> {
  const metadata = KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema });
  await metadata.migrate();
  const serving = new MemoryServingStore();
  const app = createServingApp({
    serving,
    webRoot: false,
    vectors: {
      artifacts: new FileArtifactStore(join(dir, 'artifacts')),
      updates: metadata.vectorUpdates,
      pollMs: 60_000,
    },
  });
  await app.ready();
  return {
    app,
    metadata,
    async close() {
      await app.close();
      await serving.close();
      await metadata.close();
    },
  };
}

const matrix = new Random(3).fillGaussian(new Float32Array(N * DIM), 1);
const row = (i: number) => Array.from(matrix.subarray(i * DIM, (i + 1) * DIM));
const category = (i: number) => CATEGORIES[i % 3]!;
const lang = (i: number) => (i % 2 === 0 ? 'ja' : 'en');

/** Cosine of rows `i` and `query`. */
function cosine(i: number, query: number[]): number {
  let dot = 0;
  let a = 0;
  let b = 0;
  for (let j = 0; j < DIM; j++) {
    dot += matrix[i * DIM + j]! * query[j]!;
    a += matrix[i * DIM + j]! ** 2;
    b += query[j]! ** 2;
  }
  return dot / Math.sqrt(a * b);
}

/** The k best `item-i` ids by cosine among rows passing `keep`. */
function expected(query: number[], k: number, keep: (i: number) => boolean): string[] {
  return Array.from({ length: N }, (_, i) => i)
    .filter(keep)
    .sort((x, y) => cosine(y, query) - cosine(x, query))
    .slice(0, k)
    .map((i) => `item-${i}`);
}

/** Saves an exact cosine index of the rows with attributes category and lang (and folds `changes`). */
async function build(dir: string, metadata?: KyselyMetadataStore): Promise<string> {
  const attributes = new VectorAttributes();
  for (let i = 0; i < N; i++) attributes.set(i, { category: category(i), lang: lang(i) });
  const rows = foldVectorUpdates(
    {
      ids: Array.from({ length: N }, (_, i) => `item-${i}`),
      dim: DIM,
      vectors: matrix,
      attributes,
    },
    metadata === undefined ? [] : await metadata.vectorUpdates.list('items'),
  );
  const index = await vectorIndexKind('exact').create(DIM, 'cosine');
  const n = rows.vectors.length / DIM;
  await index.add(
    Uint32Array.from({ length: n }, (_, i) => i),
    rows.vectors,
  );
  try {
    return await saveVectorIndex(
      new FileArtifactStore(join(dir, 'artifacts')),
      'items',
      index,
      rows.ids,
      {
        attributes: rows.attributes,
        foldedThrough: rows.foldedThrough,
      },
    );
  } finally {
    index.close();
  }
}

const ids = (hits: { id: string }[]) => hits.map((h) => h.id);

describe(`vector search filtered by attributes (changes in PostgreSQL at ${TEST_POSTGRES_URL})`, () => {
  const tmp = useTempDir('kiban-vectors-filter-');
  const schemas: string[] = [];
  let running: Running | null = null;
  afterEach(async () => {
    await running?.close();
    running = null;
  });
  afterAll(async () => {
    if (postgresProblem === null) await dropSchemas(schemas);
  });

  it('filters similar items and searches by attribute equality, keeps PUT attributes across a restart and a folding build, and names bad filters', async () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    const dir = tmp.path;
    await build(dir);
    running = await serve(dir, schema);
    const app = running.app;
    const get = (url: string) => app.inject({ url });
    const search = (payload: object) =>
      app.inject({ method: 'POST', url: '/v1/vectors/items/search', payload });

    // GET: one attribute, two attributes (all must hold), one attribute named twice (either).
    const one = await get('/v1/items/item-0/similar?k=5&filter=category:stickers');
    expect(one.statusCode).toBe(200);
    expect(ids(one.json().items)).toEqual(
      expected(row(0), 5, (i) => i !== 0 && category(i) === 'stickers'),
    );
    const both = await get('/v1/items/item-0/similar?k=4&filter=category:fonts,lang:ja');
    expect(ids(both.json().items)).toEqual(
      expected(row(0), 4, (i) => i !== 0 && category(i) === 'fonts' && lang(i) === 'ja'),
    );
    const either = await get(
      '/v1/items/item-0/similar?k=6&filter=category:fonts,category:emoji&exclude=item-1,item-2',
    );
    expect(ids(either.json().items)).toEqual(
      expected(row(0), 6, (i) => i > 2 && category(i) !== 'stickers'),
    );
    const none = await get('/v1/items/item-0/similar?k=3&filter=category:nothing-has-this');
    expect(none.json().items).toEqual([]);

    // POST: a value or any of an array of values, with exclude, per query.
    const query = row(5);
    const posted = await search({
      vectors: [query, row(6)],
      k: 5,
      exclude: ['item-5'],
      filter: { category: ['stickers', 'emoji'], lang: 'en' },
    });
    expect(posted.statusCode).toBe(200);
    const keep = (i: number) => category(i) !== 'fonts' && lang(i) === 'en';
    expect(ids(posted.json().results[0])).toEqual(expected(query, 5, (i) => i !== 5 && keep(i)));
    expect(ids(posted.json().results[1])).toEqual(expected(row(6), 5, (i) => i !== 5 && keep(i)));

    // 400s naming the field.
    const bad = async (response: { statusCode: number; json(): any }, ...parts: string[]) => {
      expect(response.statusCode, parts.join(' ')).toBe(400);
      expect(response.json().code).toBe('INVALID_ARGUMENT');
      for (const part of parts) expect(response.json().message).toContain(part);
    };
    await bad(await get('/v1/items/item-0/similar?filter=colour:red'), 'filter', '"colour"');
    await bad(await get('/v1/items/item-0/similar?filter=category'), 'filter', 'attribute:value');
    await bad(await get('/v1/items/item-0/similar?filter=category:a,,lang:ja'), 'filter');
    await bad(await get('/v1/items/item-0/similar?filter=:x'), 'filter');
    await bad(
      await search({ vector: query, filter: { colour: 'red' } }),
      'body.filter',
      '"colour"',
    );
    await bad(await search({ vector: query, filter: { category: [] } }), 'filter');
    await bad(await search({ vector: query, filter: { category: 3 } }), 'filter');
    await bad(await search({ vector: query, filter: ['category:stickers'] }), 'filter');

    // PUT with attributes: searchable under them at once; a new attribute name becomes filterable.
    const put = (id: string, body: object) =>
      app.inject({ method: 'PUT', url: `/v1/vectors/items/items/${id}`, payload: body });
    expect(
      (await put('new-1', { vector: query, attributes: { category: 'fonts', tier: 'gold' } }))
        .statusCode,
    ).toBe(200);
    const gold = await search({ vector: query, k: 3, filter: { tier: 'gold' } });
    expect(ids(gold.json().results[0])).toEqual(['new-1']);
    const fonts = await search({ vector: query, k: 1, filter: { category: 'fonts' } });
    expect(ids(fonts.json().results[0])).toEqual(['new-1']);
    // A vector without attributes keeps the item's; new attributes replace the whole set.
    expect((await put('item-5', { vector: query })).statusCode).toBe(200);
    const stillEmoji = await search({ vector: query, k: 1, filter: { category: 'emoji' } });
    expect(ids(stillEmoji.json().results[0])).toEqual(['item-5']);
    expect((await put('item-5', { vector: query, attributes: { tier: 'gold' } })).statusCode).toBe(
      200,
    );
    const goldNow = await search({ vector: query, k: 5, filter: { tier: 'gold' } });
    expect(ids(goldNow.json().results[0]).sort()).toEqual(['item-5', 'new-1']);
    const emojiNow = await search({ vector: query, k: 60, filter: { category: 'emoji' } });
    expect(ids(emojiNow.json().results[0])).not.toContain('item-5');
    await bad(
      await put('x', { vector: query, attributes: { 'bad name': 'v' } }),
      'body.attributes',
    );
    await bad(await put('x', { vector: query, attributes: { category: '' } }), 'attributes');

    // A restart applies the kept changes, attributes included.
    await running.close();
    running = await serve(dir, schema);
    const restarted = await running.app.inject({
      method: 'POST',
      url: '/v1/vectors/items/search',
      payload: { vector: query, k: 5, filter: { tier: 'gold' } },
    });
    expect(ids(restarted.json().results[0]).sort()).toEqual(['item-5', 'new-1']);

    // A build folds them in (its version carries the attributes), and a server on it agrees.
    const v2 = await build(dir, running.metadata);
    await running.close();
    running = await serve(dir, schema);
    const folded = await running.app.inject({
      method: 'POST',
      url: '/v1/vectors/items/search',
      payload: { vector: query, k: 5, filter: { tier: 'gold' } },
    });
    expect(folded.json().version).toBe(v2);
    expect(ids(folded.json().results[0]).sort()).toEqual(['item-5', 'new-1']);
  });
});
