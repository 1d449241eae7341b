import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthRequest, Authenticator, Principal, Scope } from '../auth/principal.js';
import type { BanditService } from '../bandits/bandit-service.js';
import { UnauthenticatedError } from '../core/errors.js';
import type { ExperimentService } from '../experiments/experiment-service.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import type { WorkflowService } from '../workflow/workflow-service.js';
import { NO_CREDENTIALS_MESSAGE, installAuth, routeAuthDeclarations } from './auth-plugin.js';
import { createServingApp } from './create-app.js';
import { DASHBOARD_CLIENT_ROUTES } from './routes/dashboard.js';

/** The only routes a fully configured app may leave public: probes, the document, the dashboard's files. */
const ALLOWED_PUBLIC = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /openapi.json',
  ...DASHBOARD_CLIENT_ROUTES.map((url) => `GET ${url}`),
  'GET /assets/*',
]);

/** Accepts `Authorization: Bearer test-<scope>+<scope>`; rejects `Bearer bad`. */
class TestAuthenticator implements Authenticator {
  readonly name = 'test';
  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
    const token = header.slice('Bearer '.length);
    if (token === 'bad') throw new UnauthenticatedError('test token: not valid');
    if (!token.startsWith('test-')) return null;
    const scopes = token.slice('test-'.length).split('+').filter(Boolean) as Scope[];
    return { kind: 'service', id: token, name: 'tester', scopes: new Set(scopes), method: 'dev' };
  }
}

function fullApp(auth?: Parameters<typeof createServingApp>[0]['auth']): {
  app: FastifyInstance;
  serving: MemoryServingStore;
} {
  const idle = { start: async () => {}, startRefresh: () => {}, close: async () => {} };
  const serving = new MemoryServingStore();
  const app = createServingApp({
    serving,
    webRoot: '/nonexistent-kiban-web',
    workflows: { store: {} } as unknown as WorkflowService,
    bandits: idle as unknown as BanditService,
    experiments: idle as unknown as ExperimentService,
    ...(auth === undefined ? {} : { auth }),
  });
  return { app, serving };
}

describe('route scope declarations', () => {
  it('every route of a fully configured app declares scopes, except the allowed public ones', async () => {
    const { app, serving } = fullApp();
    await app.ready();
    const routes = routeAuthDeclarations(app).filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(30);
    const publicOnes = routes.filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
    for (const name of publicOnes) expect(ALLOWED_PUBLIC, name).toContain(name);
    for (const route of routes.filter((r) => !r.public))
      expect(route.scopes.length, `${route.method} ${route.url}`).toBeGreaterThan(0);
    const scopesOf = (method: string, url: string) =>
      routes.find((r) => r.method === method && r.url === url)?.scopes;
    expect(scopesOf('GET', '/metrics')).toEqual(['metrics:read']);
    expect(scopesOf('GET', '/v1/users/:userId/recommendations')).toEqual(['recs:read']);
    expect(scopesOf('POST', '/v1/bandits/:name/decide')).toEqual(['bandits:decide']);
    expect(scopesOf('PUT', '/v1/experiments/:name')).toEqual(['experiments:write']);
    expect(scopesOf('POST', '/v1/workflows/:name/runs')).toEqual(['workflows:run']);
    await app.close();
    await serving.close();
  });

  it('makes /metrics public with publicMetrics', async () => {
    const { app, serving } = fullApp({ mode: 'required', authenticators: [], publicMetrics: true });
    const answer = await app.inject({ url: '/metrics' });
    expect(answer.statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/models' })).statusCode).toBe(401);
    await app.close();
    await serving.close();
  });

  it('refuses a route that declares no scopes, an unknown scope, or both', async () => {
    for (const config of [
      undefined,
      { scopes: [] },
      { scopes: ['nope'] },
      { public: true, scopes: ['admin'] },
    ]) {
      const app = Fastify();
      installAuth(app, { mode: 'off', authenticators: [] });
      // In a route plugin (as every kiban route is) the refusal fails the app's start…
      void app.register(async (child) => {
        child.get('/x', config === undefined ? {} : { config: config as never }, async () => 'x');
      });
      await expect(app.ready()).rejects.toThrow(/route GET \/x: /);
      await app.close().catch(() => {});
    }
    // …and on the root it throws where the route is added.
    const app = Fastify();
    installAuth(app, { mode: 'off', authenticators: [] });
    expect(() => app.get('/y', async () => 'y')).toThrow(/route GET \/y: declares no scopes/);
    await app.close().catch(() => {});
  });
});

describe('auth required', () => {
  let app: FastifyInstance;
  let serving: MemoryServingStore;
  beforeAll(async () => {
    ({ app, serving } = fullApp({ mode: 'required', authenticators: [new TestAuthenticator()] }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await serving.close();
  });

  it('answers 401 without credentials, naming how to send them', async () => {
    const answer = await app.inject({ url: '/v1/models' });
    expect(answer.statusCode).toBe(401);
    expect(answer.json()).toEqual({ code: 'UNAUTHENTICATED', message: NO_CREDENTIALS_MESSAGE });
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
    // fastify's automatic HEAD routes carry their GET's declaration.
    expect((await app.inject({ method: 'HEAD', url: '/v1/models' })).statusCode).toBe(401);
  });

  it("passes an authenticator's rejection on as a 401", async () => {
    const answer = await app.inject({
      url: '/v1/models',
      headers: { authorization: 'Bearer bad' },
    });
    expect(answer.statusCode).toBe(401);
    expect(answer.json().message).toBe('test token: not valid');
  });

  it('answers 403 naming the accepted scopes when the principal lacks them', async () => {
    const answer = await app.inject({
      url: '/v1/models',
      headers: { authorization: 'Bearer test-recs:read' },
    });
    expect(answer.statusCode).toBe(403);
    expect(answer.json().code).toBe('FORBIDDEN');
    expect(answer.json().message).toContain('models:read');
  });

  it('lets the right scope, and admin, through as with auth off', async () => {
    for (const token of ['test-models:read', 'test-admin']) {
      const answer = await app.inject({
        url: '/v1/models',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer.statusCode).toBe(503);
      expect(answer.json().code).toBe('NOT_READY');
    }
  });

  it('lets public routes and unknown paths through without credentials', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/no-such-route' })).statusCode).toBe(404);
  });
});

describe('auth off', () => {
  it('checks nothing and leaves request.principal null', async () => {
    const app = Fastify();
    installAuth(app, { mode: 'off', authenticators: [new TestAuthenticator()] });
    app.get('/who', { config: { scopes: ['admin'] } }, async (request) => ({
      principal: request.principal,
    }));
    expect((await app.inject({ url: '/who' })).json()).toEqual({ principal: null });
    await app.close();
  });

  it('sets request.principal for handlers when required', async () => {
    const app = Fastify();
    installAuth(app, { mode: 'required', authenticators: [new TestAuthenticator()] });
    app.get('/who', { config: { scopes: ['recs:read'] } }, async (request) => ({
      name: request.principal?.name,
    }));
    const answer = await app.inject({
      url: '/who',
      headers: { authorization: 'Bearer test-recs:read' },
    });
    expect(answer.json()).toEqual({ name: 'tester' });
    await app.close();
  });
});
