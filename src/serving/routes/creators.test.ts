import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenAuthenticator } from '../../../test/fixtures/token-authenticator.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { createServingApp } from '../create-app.js';
import {
  POPULAR_CREATORS_LIST,
  RELATED_CREATORS_LIST,
  USER_CREATORS_LIST,
} from '../../storage/serving-lists.js';

/** The serving app (auth required): its default service has the creator routes at /v1. */
function appWith(serving: MemoryServingStore): FastifyInstance {
  const app = createServingApp({
    serving,
    webRoot: false,
    auth: {
      mode: 'required',
      authenticators: [new TokenAuthenticator({ reader: ['recs:read'], other: ['models:read'] })],
    },
  });
  return app;
}

async function publish(serving: MemoryServingStore, withCreators: boolean): Promise<void> {
  const writer = await serving.beginVersion('v1', { modelId: 'm1', kind: 'itemknn' });
  await writer.putLists('user', [['u1', [{ id: 'i1', score: 1 }]]]);
  if (withCreators) {
    await writer.putLists(USER_CREATORS_LIST, [
      [
        'u1',
        [
          { id: 'B', score: 0.9 },
          { id: 'C', score: 0.4 },
          { id: 'D', score: 0.1 },
        ],
      ],
    ]);
    await writer.putLists(RELATED_CREATORS_LIST, [
      [
        'A',
        [
          { id: 'B', score: 0.7 },
          { id: 'C', score: 0.2 },
        ],
      ],
    ]);
    await writer.putLists(POPULAR_CREATORS_LIST, [
      [
        'all',
        [
          { id: 'A', score: 4 },
          { id: 'B', score: 3 },
        ],
      ],
    ]);
  }
  await writer.commit();
}

const reader = { authorization: 'Bearer reader' };

describe('creator routes (issue 22)', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 503 before anything is published', async () => {
    const serving = new MemoryServingStore();
    app = appWith(serving);
    for (const url of ['/v1/users/u1/creators', '/v1/creators/A/related']) {
      const res = await app.inject({ url, headers: reader });
      expect(res.statusCode).toBe(503);
      expect(res.json().code).toBe('NOT_READY');
    }
  });

  it("serves a user's creators, best first, at most k, and popular ones to a user without a list", async () => {
    const serving = new MemoryServingStore();
    await publish(serving, true);
    app = appWith(serving);
    const res = await app.inject({ url: '/v1/users/u1/creators?k=2', headers: reader });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      user: 'u1',
      creators: [
        { id: 'B', score: 0.9 },
        { id: 'C', score: 0.4 },
      ],
      fallback: false,
    });
    const unknown = await app.inject({ url: '/v1/users/nobody/creators', headers: reader });
    expect(unknown.json()).toEqual({
      user: 'nobody',
      creators: [
        { id: 'A', score: 4 },
        { id: 'B', score: 3 },
      ],
      fallback: true,
    });
  });

  it('serves related creators, and a 404 naming an unknown creator', async () => {
    const serving = new MemoryServingStore();
    await publish(serving, true);
    app = appWith(serving);
    const res = await app.inject({ url: '/v1/creators/A/related?k=1', headers: reader });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ creator: 'A', creators: [{ id: 'B', score: 0.7 }] });
    const unknown = await app.inject({ url: '/v1/creators/Z/related', headers: reader });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({
      code: 'NOT_FOUND',
      message: 'creator "Z" is unknown to the published version',
    });
  });

  it('answers 404 when the published version has no creator lists', async () => {
    const serving = new MemoryServingStore();
    await publish(serving, false);
    app = appWith(serving);
    const res = await app.inject({ url: '/v1/users/u1/creators', headers: reader });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toMatch(/no creator lists/);
  });

  it('documents both routes in the OpenAPI document', async () => {
    const serving = new MemoryServingStore();
    app = appWith(serving);
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = res.json().paths as Record<string, Record<string, { summary?: string }>>;
    expect(paths['/v1/users/{userId}/creators']?.get?.summary).toBe(
      'Recommended creators for a user',
    );
    expect(paths['/v1/creators/{creatorId}/related']?.get?.summary).toBe(
      'Creators related to a creator',
    );
  });

  it('checks k and the recs:read scope', async () => {
    const serving = new MemoryServingStore();
    await publish(serving, true);
    app = appWith(serving);
    const bad = await app.inject({ url: '/v1/users/u1/creators?k=0', headers: reader });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^query parameter k/);
    const extra = await app.inject({ url: '/v1/creators/A/related?n=3', headers: reader });
    expect(extra.statusCode).toBe(400);
    const anonymous = await app.inject({ url: '/v1/users/u1/creators' });
    expect(anonymous.statusCode).toBe(401);
    const other = await app.inject({
      url: '/v1/users/u1/creators',
      headers: { authorization: 'Bearer other' },
    });
    expect(other.statusCode).toBe(403);
  });
});
