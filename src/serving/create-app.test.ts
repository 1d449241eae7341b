import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/log.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { createServingApp } from './create-app.js';

describe('serving API', () => {
  const store = new MemoryServingStore();
  let app: FastifyInstance;
  let base: string;
  const get = async (path: string): Promise<{ status: number; body: any; type: string | null }> => {
    const res = await fetch(`${base}${path}`);
    const type = res.headers.get('content-type');
    return {
      status: res.status,
      body: type?.includes('json') ? await res.json() : await res.text(),
      type,
    };
  };

  beforeAll(async () => {
    app = createServingApp({ serving: store });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  it('is alive but not ready before anything is published', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, store: true, version: null });
    const recs = await get('/v1/users/1/recommendations');
    expect(recs.status).toBe(503);
    expect(recs.body.code).toBe('NOT_READY');
    expect((await get('/v1/models')).status).toBe(503);
  });

  it('serves published lists, falls back to popular items for unknown users and 404s unknown items', async () => {
    const writer = await store.beginVersion('v1', { modelId: 'm1', kind: 'als' });
    await writer.putLists('user', [
      [
        '1',
        [
          { id: 10, score: 0.9 },
          { id: 20, score: 0.5 },
          { id: 30, score: 0.1 },
        ],
      ],
    ]);
    await writer.putLists('related', [['10', [{ id: 20, score: 0.8 }]]]);
    await writer.putLists('popular', [
      [
        'all',
        [
          { id: 30, score: 300 },
          { id: 10, score: 100 },
        ],
      ],
    ]);
    await writer.commit();

    expect((await get('/readyz')).body).toMatchObject({ ready: true, version: 'v1' });
    const recs = await get('/v1/users/1/recommendations?k=2');
    expect(recs.status).toBe(200);
    // Ids are answered as strings, even from a list stored with numeric ids.
    expect(recs.body).toEqual({
      user: '1',
      items: [
        { id: '10', score: 0.9, source: 'personal' },
        { id: '20', score: 0.5, source: 'personal' },
      ],
      fallback: false,
    });
    const cold = await get('/v1/users/nobody/recommendations?k=1');
    expect(cold.body).toEqual({
      user: 'nobody',
      items: [{ id: '30', score: 300, source: 'popular' }],
      fallback: true,
    });
    expect((await get('/v1/items/10/related')).body).toEqual({
      item: '10',
      items: [{ id: '20', score: 0.8 }],
    });
    const missing = await get('/v1/items/999/related');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      code: 'NOT_FOUND',
      message: 'item "999" is unknown to the published model',
    });
    const models = await get('/v1/models');
    expect(models.body).toMatchObject({
      version: 'v1',
      meta: { modelId: 'm1', kind: 'als' },
      model: null,
    });
  });

  it('answers bad parameters with a 400 naming the parameter', async () => {
    for (const [query, pattern] of [
      ['k=0', /query parameter k: must be >= 1/],
      ['k=5000', /query parameter k: must be <= 1000/],
      ['k=ten', /query parameter k: must be integer/],
      ['colour=red', /query parameter colour: must NOT have additional properties/],
    ] as const) {
      const res = await get(`/v1/users/1/recommendations?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGUMENT');
      expect(res.body.message).toMatch(pattern);
    }
    const unknown = await get('/v2/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });

  it('exposes Prometheus metrics with request latency histograms, and its OpenAPI document', async () => {
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(
      /kiban_http_request_duration_seconds_bucket\{.*route="\/v1\/users\/:userId\/recommendations".*status="200"/,
    );
    const openapi = await get('/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toEqual([
      '/v1/users/{userId}/recommendations',
      '/v1/recommendations',
      '/v1/items/{itemId}/related',
      '/v1/users/{userId}/creators',
      '/v1/creators/{creatorId}/related',
      '/v1/models',
      '/v1/models/versions',
      '/v1/models/rollback',
      '/v1/services',
      '/v1/me',
      '/v1/tags/suggest',
    ]);
    expect(
      Object.keys(
        openapi.body.paths['/v1/tags/suggest'].post.requestBody.content['application/json'].schema
          .properties,
      ),
    ).toEqual(['text', 'k', 'threshold']);
    expect(
      openapi.body.paths['/v1/users/{userId}/recommendations'].get.parameters.map(
        (p: { name: string }) => p.name,
      ),
    ).toEqual(['userId', 'k', 'offset', 'category', 'exclude', 'explain']);
  });
});

describe('serving API: unexpected errors', () => {
  it('answers a 500 with a reference and no details, and hands the details with that reference to the server log', async () => {
    const store = new MemoryServingStore();
    store.getList = () =>
      Promise.reject(new Error('SQLITE_CORRUPT: /srv/secret/serving.db is malformed'));
    const logged: { ref: string; error: unknown; request: { method: string; path: string } }[] = [];
    const app = createServingApp({
      serving: store,
      onInternalError: (ref, error, request) => logged.push({ ref, error, request }),
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/users/7/recommendations?k=2' });
      expect(res.statusCode).toBe(500);
      const answer = res.json() as { code: string; message: string };
      expect(answer.code).toBe('INTERNAL');
      expect(answer.message).not.toMatch(/secret|SQLITE/);
      const ref = /ref ([0-9a-f]{8})/.exec(answer.message)?.[1];
      expect(ref).toBeDefined();
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        ref,
        request: { method: 'GET', path: '/v1/users/7/recommendations' },
      });
      expect(String((logged[0].error as Error).message)).toContain('/srv/secret/serving.db');
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('by default logs the error through the logger, with the reference, method and path as fields', async () => {
    const store = new MemoryServingStore();
    store.getList = () =>
      Promise.reject(new Error('SQLITE_CORRUPT: /srv/secret/serving.db is malformed'));
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => lines.push(line) },
    });
    const app = createServingApp({ serving: store, logger, logRequests: true });
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/users/7/recommendations?k=2' });
      const ref = /ref ([0-9a-f]{8})/.exec((res.json() as { message: string }).message)?.[1];
      const entries = lines.map((line) => JSON.parse(line) as Record<string, any>);
      const error = entries.filter((e) => e.ref !== undefined);
      expect(error).toHaveLength(1);
      expect(error[0]).toMatchObject({
        level: 50,
        ref,
        method: 'GET',
        path: '/v1/users/7/recommendations',
      });
      expect(error[0].err.message).toContain('/srv/secret/serving.db');
      // fastify's request log goes through the same logger when asked for.
      expect(entries.some((e) => e.res?.statusCode === 500)).toBe(true);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
