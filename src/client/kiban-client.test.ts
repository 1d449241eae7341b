import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator.js';
import { createApiKey } from '../auth/api-keys.js';
import { BanditService } from '../bandits/bandit-service.js';
import { ExperimentService } from '../experiments/experiment-service.js';
import { createServingApp } from '../serving/create-app.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import { MemoryBanditStore } from '../storage/memory-bandit-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { KibanClient, KibanHttpError } from './kiban-client.js';

describe('KibanClient against a real serving API', () => {
  const tmp = useTempDir('kiban-client-');
  const serving = new MemoryServingStore();
  const booth = new MemoryServingStore();
  let metadata: KyselyMetadataStore;
  let app: FastifyInstance;
  let client: KibanClient;
  let base: string;

  beforeAll(async () => {
    metadata = KyselyMetadataStore.sqlite(`${tmp.path}/meta.db`);
    await metadata.migrate();
    const writer = await serving.beginVersion('v1', { modelId: 'm1', kind: 'popularity' });
    await writer.putLists('user', [
      [
        'ユーザー1-é',
        [
          { id: 'a/b', score: 2 },
          { id: '7', score: 1 },
        ],
      ],
    ]);
    await writer.putLists('related', [['a/b', [{ id: '7', score: 0.5 }]]]);
    await writer.putLists('popular', [['all', [{ id: '7', score: 9 }]]]);
    await writer.commit();
    const boothWriter = await booth.beginVersion('b1', { modelId: 'm2', kind: 'popularity' });
    await boothWriter.putLists('user', [['ユーザー1-é', [{ id: 'booth-item', score: 3 }]]]);
    await boothWriter.putLists('popular', [['all', [{ id: 'booth-item', score: 3 }]]]);
    await boothWriter.commit();
    app = createServingApp({
      services: [{ name: 'booth', serving: booth }],
      serving,
      metadata,
      webRoot: false,
      bandits: new BanditService(new MemoryBanditStore()),
      experiments: new ExperimentService(metadata.experiments, { pollMs: 50 }),
      interactions: metadata.interactions,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    client = new KibanClient(`${base}/`);
  });
  afterAll(async () => {
    await app?.close();
    await metadata?.close();
    await serving.close();
  });

  it('reads recommendations and related items with ids encoded in the path, and falls back for unknown users', async () => {
    expect(await client.recommendations('ユーザー1-é', { k: 1 })).toEqual({
      user: 'ユーザー1-é',
      items: [{ id: 'a/b', score: 2, source: 'personal' }],
      fallback: false,
    });
    expect(await client.recommendations(42)).toEqual({
      user: '42',
      items: [{ id: '7', score: 9, source: 'popular' }],
      fallback: true,
    });
    expect(await client.related('a/b')).toEqual({ item: 'a/b', items: [{ id: '7', score: 0.5 }] });
  });

  it("passes the filters, and reads another service's routes with the service option", async () => {
    expect(await client.recommendations('ユーザー1-é', { exclude: ['a/b'], offset: 0 })).toEqual({
      user: 'ユーザー1-é',
      items: [{ id: '7', score: 1, source: 'personal' }],
      fallback: false,
    });
    const boothClient = new KibanClient(base, { service: 'booth' });
    expect((await boothClient.recommendations('ユーザー1-é')).items.map((i) => i.id)).toEqual([
      'booth-item',
    ]);
    expect(() => new KibanClient(base, { service: 'Booth!' })).toThrow(/^service: must be/);
  });

  it('rejects with the server’s code, status and message', async () => {
    const missing = await client.related('nope').catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(KibanHttpError);
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect((missing as Error).message).toContain('item "nope" is unknown to the published model');
    const bad = await client.recommendations('u', { k: 0 }).catch((error: unknown) => error);
    expect(bad).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    expect((bad as Error).message).toMatch(/\bk\b/);
    expect(() => new KibanClient('ftp://x')).toThrow(/baseUrl: must be http: or https:/);
  });

  it('decides with a bandit and sends its feedback once', async () => {
    await fetch(`${base}/v1/bandits/home`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ policy: 'egreedy' }),
    });
    const decision = await client.decide('home', { candidates: ['x', 'y', 'z'], slots: 2 });
    expect(decision.arms).toHaveLength(2);
    expect(new Set(decision.arms).size).toBe(2);
    expect(decision.propensities.every((p) => p > 0 && p <= 1)).toBe(true);
    await client.feedback('home', decision.decisionId, [1, 0]);
    await expect(client.feedback('home', decision.decisionId, [1, 0])).rejects.toMatchObject({
      status: 409,
      code: 'CONFLICT',
    });
  });

  it('gets a unit’s assignments and stores its events idempotently', async () => {
    const put = await fetch(`${base}/v1/experiments/hero`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        variants: [
          { name: 'control', weight: 1 },
          { name: 'treatment', weight: 1 },
        ],
      }),
    });
    expect(put.status).toBe(201);
    expect((await fetch(`${base}/v1/experiments/hero/start`, { method: 'POST' })).status).toBe(200);
    const [assignment] = await client.assignments('user-42', { country: 'JP' });
    expect(assignment).toMatchObject({ experiment: 'hero' });
    expect(['control', 'treatment']).toContain(assignment.variant);
    const events = [
      {
        eventId: 'e1',
        type: 'exposure' as const,
        experiment: 'hero',
        unit: 'user-42',
        variant: assignment.variant,
      },
      {
        eventId: 'e2',
        type: 'conversion' as const,
        experiment: 'hero',
        unit: 'user-42',
        metric: 'purchase',
      },
    ];
    expect(await client.events(events)).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(await client.events(events)).toMatchObject({ accepted: 0, duplicates: 2 });
    await expect(
      client.events([{ ...events[0], eventId: 'e3', variant: 'nope' }]),
    ).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
  });

  it('stores user–item interactions once per id, and names a bad one', async () => {
    const events = [
      { user: 'user-42', item: 'a/b', id: 'i1' },
      { user: 'user-42', item: '7', ts: '2026-12-06T12:00:00Z', weight: 2 },
    ];
    expect(await client.interactions(events)).toEqual({ accepted: 2, duplicates: 0 });
    expect(await client.interactions([events[0]])).toEqual({ accepted: 0, duplicates: 1 });
    expect((await metadata.interactions.forUser('user-42')).map((e) => e.item)).toEqual([
      '7',
      'a/b',
    ]);
    await expect(
      client.interactions([{ user: 'user-42', item: '7', ts: 'later' }]),
    ).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
  });
});

describe('KibanClient credentials', () => {
  const tmp = useTempDir('kiban-client-auth-');
  const serving = new MemoryServingStore();
  const pepper = 'p'.repeat(32);
  let metadata: KyselyMetadataStore;
  let app: FastifyInstance;
  let base: string;
  let key: string;

  beforeAll(async () => {
    metadata = KyselyMetadataStore.sqlite(`${tmp.path}/meta.db`);
    await metadata.migrate();
    const writer = await serving.beginVersion('v1', { modelId: 'm1', kind: 'popularity' });
    await writer.putLists('popular', [['all', [{ id: '7', score: 9 }]]]);
    await writer.commit();
    ({ key } = await createApiKey(metadata.apiKeys, pepper, {
      name: 'client',
      scopes: ['recs:read'],
      createdBy: 'test',
    }));
    app = createServingApp({
      serving,
      webRoot: false,
      auth: {
        mode: 'required',
        authenticators: [new ApiKeyAuthenticator({ store: metadata.apiKeys, pepper })],
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await metadata?.close();
    await serving.close();
  });

  it('sends an API key, or a token from its provider on every request; none is a 401', async () => {
    const expected = {
      user: 'u',
      items: [{ id: '7', score: 9, source: 'popular' }],
      fallback: true,
    };
    expect(await new KibanClient(base, { apiKey: key }).recommendations('u')).toEqual(expected);
    let calls = 0;
    const viaToken = new KibanClient(base, {
      token: async () => {
        calls += 1;
        return key;
      },
    });
    expect(await viaToken.recommendations('u')).toEqual(expected);
    expect(await viaToken.recommendations('u')).toEqual(expected);
    expect(calls).toBe(2);
    await expect(new KibanClient(base).recommendations('u')).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect(() => new KibanClient(base, { apiKey: key, token: () => key })).toThrow(
      /^apiKey: give apiKey or token, not both$/,
    );
  });
});
