import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BanditService } from '../bandits/bandit-service.js';
import type { ExperimentService } from '../experiments/experiment-service.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import type { WorkflowService } from '../workflow/workflow-service.js';
import { createServingApp } from './create-app.js';
import { DASHBOARD_CLIENT_ROUTES } from './routes/dashboard.js';

/**
 * Routes that are not API and may be left out of `/openapi.json` (each hides itself with
 * `schema.hide`). Everything else a fully configured app registers must be documented.
 */
const UNDOCUMENTED = new Set([
  // The document itself.
  'GET /openapi.json',
  // Probes for the orchestrator and the Prometheus scrape: operational, not the API clients call.
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  // The dashboard's static files and its client-side routes (all answered with index.html).
  ...DASHBOARD_CLIENT_ROUTES.map((url) => `GET ${url}`),
  'GET /assets/*',
]);

/** `/v1/runs/:id/tasks/:task/logs` → `/v1/runs/{id}/tasks/{task}/logs`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

describe('OpenAPI document', () => {
  const serving = new MemoryServingStore();
  const registered: string[] = [];
  let app: FastifyInstance;
  let document: {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, unknown>>;
  };

  beforeAll(async () => {
    // Every area mounted. The routes are all that is looked at, so the services are stand-ins
    // that only start and stop (what the plugins call when the app becomes ready and closes).
    const idle = { start: async () => {}, startRefresh: () => {}, close: async () => {} };
    app = createServingApp({
      serving,
      webRoot: '/nonexistent-kiban-web',
      workflows: { store: {} } as unknown as WorkflowService,
      bandits: idle as unknown as BanditService,
      experiments: idle as unknown as ExperimentService,
      vectors: { artifacts: { stat: async () => null } as unknown as ArtifactStore },
    });
    // Plugins are registered lazily, so a hook added now still sees every route.
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        // fastify adds a HEAD route for every GET by itself; the GET is what is documented.
        if (method === 'HEAD') continue;
        registered.push(`${method} ${route.url}`);
      }
    });
    await app.ready();
    document = (await app.inject({ url: '/openapi.json' })).json();
  });
  afterAll(async () => {
    await app.close();
    await serving.close();
  });

  it('is OpenAPI 3.1 with the API title and version', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toEqual({ title: 'kiban serving API', version: '0.1.0' });
  });

  it('lists every registered route with its method, except the allow-listed ones', () => {
    expect(registered.length).toBeGreaterThan(UNDOCUMENTED.size + 20);
    const missing = registered
      .filter((route) => !UNDOCUMENTED.has(route))
      .filter((route) => {
        const [method, url] = route.split(' ') as [string, string];
        return document.paths[openApiPath(url)]?.[method.toLowerCase()] === undefined;
      });
    expect(missing).toEqual([]);
    // And the allow-list names only routes that exist and are left out.
    for (const route of UNDOCUMENTED) {
      expect(registered, route).toContain(route);
      const [method, url] = route.split(' ') as [string, string];
      expect(document.paths[openApiPath(url)]?.[method.toLowerCase()], route).toBeUndefined();
    }
  });

  it('documents bandit define, list, summary, report and delete, experiments and workflows', () => {
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/bandits',
        '/v1/bandits/{name}',
        '/v1/bandits/{name}/report',
        '/v1/experiments',
        '/v1/experiments/{name}/results',
        '/v1/workflows',
        '/v1/runs/{id}/tasks/{task}/logs',
      ]),
    );
    expect(Object.keys(document.paths['/v1/bandits/{name}']!).sort()).toEqual([
      'delete',
      'get',
      'put',
    ]);
  });

  it('documents zod route schemas as JSON Schema, path parameters before query ones', () => {
    const tags = document.paths['/v1/tags/suggest']!.post as {
      requestBody: { content: Record<string, { schema: Record<string, unknown> }> };
    };
    expect(tags.requestBody.content['application/json']!.schema).toMatchObject({
      type: 'object',
      properties: {
        text: { type: 'string', minLength: 1, maxLength: 10_000 },
        k: { type: 'integer', default: 5 },
      },
      required: ['text'],
      additionalProperties: false,
    });
    const logs = document.paths['/v1/runs/{id}/tasks/{task}/logs']!.get as {
      parameters: { name: string; in: string }[];
    };
    expect(logs.parameters.map((p) => `${p.in} ${p.name}`)).toEqual([
      'path id',
      'path task',
      'query attempt',
      'query afterSeq',
      'query limit',
    ]);
  });
});
