import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.js';
import { createServingApp } from '../src/serving/create-app.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { vectorIndexKind } from '../src/vectors/index-kinds.js';
import { saveVectorIndex } from '../src/vectors/stored-index.js';
import { useTempDir } from './fixtures/temp-dir.js';

const DIM = 8;
const N = 200;

interface Running {
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The real serving app over the artifact store in `dir` and the SQLite metadata store there. */
async function serve(dir: string, pollMs = 60_000): Promise<Running> {
  const metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
  await metadata.migrate();
  const serving = new MemoryServingStore();
  const artifacts = new FileArtifactStore(join(dir, 'artifacts'));
  const app = createServingApp({
    serving,
    webRoot: false,
    vectors: { artifacts, updates: metadata.vectorUpdates, pollMs },
  });
  await app.ready();
  return {
    app,
    async close() {
      await app.close();
      await serving.close();
      await metadata.close();
    },
  };
}

/** `n × DIM` Gaussian rows, normalised (what a cosine index keeps). */
function rows(seed: number, n: number): Float32Array {
  const m = new Random(seed).fillGaussian(new Float32Array(n * DIM), 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < DIM; j++) s += m[i * DIM + j]! ** 2;
    const norm = Math.sqrt(s);
    for (let j = 0; j < DIM; j++) m[i * DIM + j]! /= norm;
  }
  return m;
}

/** Saves a cosine exact index of `matrix` with ids `item-0…`. */
async function build(dir: string, matrix: Float32Array): Promise<string> {
  const n = matrix.length / DIM;
  const index = await vectorIndexKind('exact').create(DIM, 'cosine');
  await index.add(
    Uint32Array.from({ length: n }, (_, i) => i),
    matrix,
  );
  const ids = Array.from({ length: n }, (_, i) => `item-${i}`);
  return saveVectorIndex(new FileArtifactStore(join(dir, 'artifacts')), 'items', index, ids);
}

/** The `k` best ids by cosine to `query` (normalised rows), brute force, leaving out `skip`. */
function bruteForce(
  matrix: Float32Array,
  query: ArrayLike<number>,
  k: number,
  skip: ReadonlySet<number> = new Set(),
): { id: string; score: number }[] {
  let qn = 0;
  for (let j = 0; j < DIM; j++) qn += query[j]! ** 2;
  qn = Math.sqrt(qn);
  const scored: { id: string; score: number }[] = [];
  for (let i = 0; i < matrix.length / DIM; i++) {
    if (skip.has(i)) continue;
    let dot = 0;
    for (let j = 0; j < DIM; j++) dot += matrix[i * DIM + j]! * query[j]!;
    scored.push({ id: `item-${i}`, score: dot / qn });
  }
  return scored.sort((a, b) => b.score - a.score).slice(0, k);
}

function expectHits(
  actual: { id: string; score: number }[],
  expected: { id: string; score: number }[],
): void {
  expect(actual.map((h) => h.id)).toEqual(expected.map((h) => h.id));
  for (const [i, h] of actual.entries()) expect(h.score).toBeCloseTo(expected[i]!.score, 4);
}

async function search(app: FastifyInstance, body: unknown) {
  return app.inject({ method: 'POST', url: '/v1/vectors/items/search', payload: body as object });
}

describe('vector search served through the app', () => {
  const tmp = useTempDir('kiban-vectors-serving-');
  let running: Running | null = null;
  afterEach(async () => {
    await running?.close();
    running = null;
  });

  it('answers similar items and searches exactly, keeps PUT and DELETE across restarts and new versions, and names bad fields', async () => {
    const dir = tmp.path;
    running = await serve(dir);

    // Before the index is saved: 503 naming it.
    const early = await running.app.inject({ url: '/v1/items/item-1/similar' });
    expect(early.statusCode).toBe(503);
    expect(early.json()).toMatchObject({ code: 'NOT_READY' });
    expect(early.json().message).toContain('"items"');
    const earlySearch = await search(running.app, { vector: new Array(DIM).fill(1) });
    expect(earlySearch.statusCode).toBe(503);
    const otherIndex = await running.app.inject({
      method: 'PUT',
      url: '/v1/vectors/other/items/x',
      payload: { vector: [1] },
    });
    expect(otherIndex.statusCode).toBe(503);
    expect(otherIndex.json().message).toContain('"other"');

    const matrix = rows(11, N);
    const v1 = await build(dir, matrix);

    // Similar: the item's own vector as the query, the item itself (and `exclude`) left out.
    const similar = await running.app.inject({ url: '/v1/items/item-3/similar?k=5' });
    expect(similar.statusCode).toBe(200);
    const expected = bruteForce(matrix, matrix.subarray(3 * DIM, 4 * DIM), 5, new Set([3]));
    expect(similar.json()).toMatchObject({ item: 'item-3', index: 'items', version: v1 });
    expectHits(similar.json().items, expected);
    const top = Number(expected[0]!.id.slice(5));
    const excluded = await running.app.inject({
      url: `/v1/items/item-3/similar?k=5&index=items&exclude=${expected[0]!.id},nobody`,
    });
    expectHits(
      excluded.json().items,
      bruteForce(matrix, matrix.subarray(3 * DIM, 4 * DIM), 5, new Set([3, top])),
    );

    // Search: one vector or a batch, per query the brute-force answer.
    const queries = rows(99, 3);
    const q = (i: number) => Array.from(queries.subarray(i * DIM, (i + 1) * DIM));
    const batch = await search(running.app, { vectors: [q(0), q(1), q(2)], k: 7 });
    expect(batch.statusCode).toBe(200);
    expect(batch.json().results).toHaveLength(3);
    for (let i = 0; i < 3; i++) expectHits(batch.json().results[i], bruteForce(matrix, q(i), 7));
    const single = await search(running.app, { vector: q(0), k: 3, exclude: ['nobody'] });
    expectHits(single.json().results[0], bruteForce(matrix, q(0), 3));

    // 400s name the field.
    const bad = async (response: Promise<{ statusCode: number; json(): any }>, field: string) => {
      const r = await response;
      expect(r.statusCode, field).toBe(400);
      expect(r.json().code).toBe('INVALID_ARGUMENT');
      expect(r.json().message).toContain(field);
    };
    await bad(running.app.inject({ url: '/v1/items/item-3/similar?k=0' }), 'k');
    await bad(running.app.inject({ url: '/v1/items/item-3/similar?k=1001' }), 'k');
    await bad(running.app.inject({ url: '/v1/items/item-3/similar?index=a%2Fb' }), 'index');
    await bad(search(running.app, { vector: q(0), k: 1001 }), 'k');
    await bad(search(running.app, { vector: [1, 2, 3] }), 'body.vector');
    await bad(search(running.app, { vectors: [q(0), [1, 2]] }), 'body.vectors[1]');
    await bad(search(running.app, { vector: q(0), vectors: [q(1)] }), 'body.vector');
    await bad(search(running.app, {}), 'body.vector');
    await bad(search(running.app, { vector: [...q(0).slice(1), null] }), 'vector');
    const put = (id: string, vector: unknown) =>
      running!.app.inject({
        method: 'PUT',
        url: `/v1/vectors/items/items/${encodeURIComponent(id)}`,
        payload: { vector } as object,
      });
    await bad(put('new', [1, 2]), 'body.vector');
    // Beyond float32's range: Infinity once stored, refused.
    await bad(put('new', [1e39, ...q(0).slice(1)]), 'body.vector');
    const nan = await running.app.inject({
      method: 'PUT',
      url: '/v1/vectors/items/items/new',
      headers: { 'content-type': 'application/json' },
      payload: `{"vector": [NaN, ${q(0).slice(1).join(',')}]}`,
    });
    expect(nan.statusCode).toBe(400);

    // 404 naming an item without a vector.
    const missing = await running.app.inject({ url: '/v1/items/nobody/similar' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('"nobody"');

    // PUT: a new item is returned by the next search, and has similar items itself.
    const putNew = await put('new item ✓', q(0));
    expect(putNew.statusCode).toBe(200);
    expect(putNew.json()).toEqual({ index: 'items', id: 'new item ✓', version: v1 });
    const afterPut = await search(running.app, { vector: q(0), k: 3 });
    expect(afterPut.json().results[0][0].id).toBe('new item ✓');
    expect(afterPut.json().results[0][0].score).toBeCloseTo(1, 5);
    expect(
      afterPut
        .json()
        .results[0].slice(1)
        .map((h: { id: string }) => h.id),
    ).toEqual(bruteForce(matrix, q(0), 2).map((h) => h.id));
    const ofNew = await running.app.inject({
      url: `/v1/items/${encodeURIComponent('new item ✓')}/similar?k=4`,
    });
    expectHits(ofNew.json().items, bruteForce(matrix, q(0), 4));
    // PUT over a built item moves it.
    expect((await put('item-7', q(1))).statusCode).toBe(200);
    const moved = await search(running.app, { vector: q(1), k: 1 });
    expect(moved.json().results[0][0].id).toBe('item-7');

    // A restart (new app and stores over the same files) keeps both changes.
    await running.close();
    running = await serve(dir);
    const restarted = await search(running.app, { vectors: [q(0), q(1)], k: 1 });
    expect(restarted.json().results.map((r: { id: string }[]) => r[0]!.id)).toEqual([
      'new item ✓',
      'item-7',
    ]);

    // DELETE removes it at once and for good.
    const del = await running.app.inject({
      method: 'DELETE',
      url: `/v1/vectors/items/items/${encodeURIComponent('new item ✓')}`,
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ id: 'new item ✓', deleted: true });
    const afterDelete = await search(running.app, { vector: q(0), k: 3 });
    expectHits(afterDelete.json().results[0], bruteForce(matrix, q(0), 3));
    const gone = await running.app.inject({
      url: `/v1/items/${encodeURIComponent('new item ✓')}/similar`,
    });
    expect(gone.statusCode).toBe(404);
    const again = await running.app.inject({
      method: 'DELETE',
      url: '/v1/vectors/items/items/never-there',
    });
    expect(again.json()).toMatchObject({ deleted: false });

    // A new version (a rebuild) is swapped in by the poll, with the kept changes applied on top.
    await running.close();
    running = await serve(dir, 20);
    const matrix2 = rows(12, N);
    const v2 = await build(dir, matrix2);
    expect(v2).not.toBe(v1);
    let answer = await search(running.app, { vector: q(1), k: 1 });
    while (answer.json().version !== v2) {
      await new Promise((resolve) => setImmediate(resolve));
      answer = await search(running.app, { vector: q(1), k: 1 });
    }
    expect(answer.json().results[0][0].id).toBe('item-7');
    const deletedStill = await search(running.app, { vector: q(0), k: 3 });
    expect(deletedStill.json().results[0].map((h: { id: string }) => h.id)).not.toContain(
      'new item ✓',
    );
  });
});
