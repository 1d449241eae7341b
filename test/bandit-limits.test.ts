import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANDIT_LIMIT_DEFAULTS, type BanditLimits } from '../src/bandits/bandit-limits.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { call } from './fixtures/http-json.js';

async function serve(
  limits?: Partial<BanditLimits>,
): Promise<{ app: FastifyInstance; base: string }> {
  const app = createServingApp({
    serving: new MemoryServingStore(),
    webRoot: false,
    bandits: new BanditService(new MemoryBanditStore(), { limits }),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

const ids = (count: number, prefix = 'c') =>
  Array.from({ length: count }, (_, k) => `${prefix}${k}`);

describe('bandit request limits over HTTP (defaults)', () => {
  let server: { app: FastifyInstance; base: string };
  beforeAll(async () => {
    server = await serve();
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it('refuses more slots than maxSlots with a 400 naming the limit', async () => {
    const { base } = server;
    expect((await call(base, 'PUT', '/v1/bandits/wide', { policy: 'egreedy' })).status).toBe(201);
    const candidates = ids(BANDIT_LIMIT_DEFAULTS.maxSlots + 1);
    const refused = await call(base, 'POST', '/v1/bandits/wide/decide', {
      candidates,
      slots: BANDIT_LIMIT_DEFAULTS.maxSlots + 1,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^slots: .*maxSlots = 100/);
    const fine = await call(base, 'POST', '/v1/bandits/wide/decide', {
      candidates,
      slots: BANDIT_LIMIT_DEFAULTS.maxSlots,
    });
    expect(fine.status).toBe(200);
    expect(fine.body.arms).toHaveLength(BANDIT_LIMIT_DEFAULTS.maxSlots);
  });

  it('refuses more dim × candidates than maxDimCandidates with a 400 naming the limit', async () => {
    const { base } = server;
    expect(
      (await call(base, 'PUT', '/v1/bandits/deep', { policy: 'linucb', dim: 256 })).status,
    ).toBe(201);
    const context = Array.from({ length: 256 }, (_, j) => (j % 7) / 7);
    const over = Math.floor(BANDIT_LIMIT_DEFAULTS.maxDimCandidates / 256) + 1;
    const refused = await call(base, 'POST', '/v1/bandits/deep/decide', {
      context,
      candidates: ids(over),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^candidates: .*256 × 391.*maxDimCandidates = 100000/);
    expect(
      (await call(base, 'POST', '/v1/bandits/deep/decide', { context, candidates: ids(over - 1) }))
        .status,
    ).toBe(200);
  });
});

describe('bandit request limits over HTTP (configured by the server)', () => {
  let server: { app: FastifyInstance; base: string };
  beforeAll(async () => {
    server = await serve({ maxArms: 3, maxSlots: 2, maxDimCandidates: 8 });
  });
  afterAll(async () => {
    await server?.app.close();
  });

  it('refuses feedback that would add arms beyond maxArms, and takes feedback on known arms', async () => {
    const { base } = server;
    expect((await call(base, 'PUT', '/v1/bandits/few', { policy: 'linucb', dim: 2 })).status).toBe(
      201,
    );
    const decide = async (candidates: string[], slots = 1) =>
      (await call(base, 'POST', '/v1/bandits/few/decide', { context: [1, 0.5], candidates, slots }))
        .body;
    const first = await decide(['a', 'b'], 2);
    expect(
      (
        await call(base, 'POST', '/v1/bandits/few/feedback', {
          decisionId: first.decisionId,
          rewards: [1, 0],
        })
      ).status,
    ).toBe(200);
    const third = await decide(['c']);
    expect(
      (
        await call(base, 'POST', '/v1/bandits/few/feedback', {
          decisionId: third.decisionId,
          rewards: [1],
        })
      ).status,
    ).toBe(200);
    const fourth = await decide(['d']);
    const refused = await call(base, 'POST', '/v1/bandits/few/feedback', {
      decisionId: fourth.decisionId,
      rewards: [1],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^rewards: bandit "few" holds 3 arms; the new arm\(s\) "d" is over the limit maxArms = 3/,
    );
    const known = await decide(['a', 'b', 'c']);
    expect(
      (
        await call(base, 'POST', '/v1/bandits/few/feedback', {
          decisionId: known.decisionId,
          rewards: [1],
        })
      ).status,
    ).toBe(200);
    expect(
      (await call(base, 'GET', '/v1/bandits/few')).body.arms.map((a: { arm: string }) => a.arm),
    ).toEqual(['a', 'b', 'c']);
    const slots = await call(base, 'POST', '/v1/bandits/few/decide', {
      context: [1, 0.5],
      candidates: ['a', 'b', 'c'],
      slots: 3,
    });
    expect(slots.status).toBe(400);
    expect(slots.body.message).toMatch(/maxSlots = 2/);
    const cells = await call(base, 'POST', '/v1/bandits/few/decide', {
      context: [1, 0.5],
      candidates: ids(5),
    });
    expect(cells.status).toBe(400);
    expect(cells.body.message).toMatch(/maxDimCandidates = 8/);
  });

  it('refuses a malformed limit', () => {
    expect(() => new BanditService(new MemoryBanditStore(), { limits: { maxSlots: 0 } })).toThrow(
      /limits\.maxSlots/,
    );
  });
});
