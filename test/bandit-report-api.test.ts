import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionLogWriter, decisionLogFileName } from '../src/bandits/decision-log.js';
import { BanditService } from '../src/bandits/bandit-service.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryBanditStore } from '../src/storage/memory-bandit-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { call } from './fixtures/http-json.js';

describe('GET /v1/bandits/{name}/report over HTTP', () => {
  let dir: string;
  let app: FastifyInstance;
  let base: string;
  let store: MemoryBanditStore;
  let log: DecisionLogWriter;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-bandit-report-'));
    store = new MemoryBanditStore();
    log = await DecisionLogWriter.open(decisionLogFileName(dir));
    app = createServingApp({
      serving: new MemoryServingStore(),
      webRoot: false,
      bandits: new BanditService(store, { log, pollMs: 20 }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await log?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports shares and reward rates from this process and the other processes’ log files', async () => {
    expect((await call(base, 'PUT', '/v1/bandits/home', { policy: 'egreedy' })).status).toBe(201);
    expect((await call(base, 'PUT', '/v1/bandits/quiet', { policy: 'ucb1' })).status).toBe(201);
    let rewarded = 0;
    const chosen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const decided = await call(base, 'POST', '/v1/bandits/home/decide', {
        candidates: ['red', 'green', 'blue'],
      });
      expect(decided.status).toBe(200);
      const arm = decided.body.arms[0] as string;
      chosen.set(arm, (chosen.get(arm) ?? 0) + 1);
      if (i % 5 === 4) continue; // 6 decisions without feedback
      const reward = arm === 'green' ? 1 : 0;
      rewarded += reward;
      expect(
        (
          await call(base, 'POST', '/v1/bandits/home/feedback', {
            decisionId: decided.body.decisionId,
            rewards: [reward],
          })
        ).status,
      ).toBe(200);
    }
    // Another server process's file: one decision and its feedback, and a line of another bandit.
    const now = new Date().toISOString();
    const other = [
      {
        type: 'decision',
        decisionId: 'p2-1',
        bandit: 'home',
        policy: 'egreedy',
        version: 0,
        time: now,
        context: [],
        candidates: ['red', 'blue'],
        arms: ['blue'],
        positions: [0],
        propensities: [0.5],
      },
      {
        type: 'feedback',
        decisionId: 'p2-1',
        bandit: 'home',
        time: now,
        arms: ['blue'],
        rewards: [1],
      },
      {
        type: 'decision',
        decisionId: 'p2-2',
        bandit: 'elsewhere',
        policy: 'ucb1',
        version: 0,
        time: now,
        context: [],
        candidates: ['x'],
        arms: ['x'],
        positions: [0],
        propensities: [1],
      },
    ];
    await writeFile(
      join(dir, 'decisions-otherhost-1-20260101T000000Z.jsonl'),
      other.map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    chosen.set('blue', (chosen.get('blue') ?? 0) + 1);

    const { status, body } = await call(base, 'GET', '/v1/bandits/home/report');
    expect(status).toBe(200);
    expect(body.bandit).toBe('home');
    expect(body.decisions).toBe(31);
    expect(body.impressions).toBe(31);
    expect(body.buckets.length).toBeGreaterThanOrEqual(1);
    expect(body.buckets.length).toBeLessThanOrEqual(48);
    expect(body.buckets.reduce((s: number, b: any) => s + b.decisions, 0)).toBe(31);
    for (const b of body.buckets)
      if (b.impressions > 0)
        expect(b.shares.reduce((s: number, v: number) => s + v, 0)).toBeCloseTo(1, 9);
    expect(new Map(body.totals.map((t: any) => [t.arm, t.chosen]))).toEqual(chosen);
    expect(body.arms).not.toContain('x');
    expect(body.overall.n).toBe(25);
    expect(body.overall.rewardSum).toBe(rewarded + 1);
    expect(body.overall.rate).toBeCloseTo((rewarded + 1) / 25, 12);
    expect(body.overall.low).toBeLessThanOrEqual(body.overall.rate);
    expect(body.overall.high).toBeGreaterThanOrEqual(body.overall.rate);
  });

  it('answers an empty report for a bandit without decisions and 404 for an unknown one', async () => {
    const quiet = await call(base, 'GET', '/v1/bandits/quiet/report');
    expect(quiet.status).toBe(200);
    expect(quiet.body).toMatchObject({
      bandit: 'quiet',
      decisions: 0,
      buckets: [],
      totals: [],
      from: null,
      overall: { n: 0, rate: null },
    });
    const unknown = await call(base, 'GET', '/v1/bandits/nobody/report');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });

  it('honours from and to, and answers 400 naming the parameter for a malformed one', async () => {
    const all = (await call(base, 'GET', '/v1/bandits/home/report')).body;
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(
      (await call(base, 'GET', `/v1/bandits/home/report?to=${encodeURIComponent(future)}`)).body,
    ).toEqual(all);
    const none = await call(
      base,
      'GET',
      `/v1/bandits/home/report?from=${encodeURIComponent(future)}`,
    );
    expect(none.status).toBe(200);
    expect(none.body.decisions).toBe(0);
    const bad = await call(base, 'GET', '/v1/bandits/home/report?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^from: /);
    const backwards = await call(
      base,
      'GET',
      `/v1/bandits/home/report?from=${encodeURIComponent(future)}&to=2020-01-01T00:00:00Z`,
    );
    expect(backwards.status).toBe(400);
    expect(backwards.body.message).toMatch(/^to: /);
  });
});
