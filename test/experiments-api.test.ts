import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeMetric } from '../src/experiments/analyze-metric.js';
import { assignUnit } from '../src/experiments/assign.js';
import { seededRandom } from '../src/bandits/bandit-policy.js';
import { createServingApp } from '../src/serving/create-app.js';
import { ExperimentService } from '../src/experiments/experiment-service.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { call } from './fixtures/http-json.js';

const twoArms = {
  variants: [
    { name: 'control', weight: 1 },
    { name: 'treatment', weight: 1 },
  ],
};

describe('A/B testing over HTTP (SQLite metadata store)', () => {
  let dir: string;
  let metadata: KyselyMetadataStore;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-ab-api-'));
    metadata = KyselyMetadataStore.sqlite(join(dir, 'meta.db'));
    await metadata.migrate();
    app = createServingApp({
      serving: new MemoryServingStore(),
      metadata,
      webRoot: false,
      experiments: new ExperimentService(metadata.experiments, { pollMs: 50 }),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('defines, starts and stops experiments, refusing a resplit of a running one unless forced', async () => {
    const created = await call(base, 'PUT', '/v1/experiments/hero', {
      ...twoArms,
      description: 'home hero image',
    });
    expect(created.status).toBe(201);
    expect(created.body.experiment).toMatchObject({
      name: 'hero',
      status: 'draft',
      control: 'control',
      salt: 'hero',
      layer: 'hero',
      traffic: 1,
      layerRange: [0, 10000],
      version: 1,
    });
    // A draft may change freely.
    expect(
      (
        await call(base, 'PUT', '/v1/experiments/hero', {
          variants: [
            { name: 'control', weight: 1 },
            { name: 'treatment', weight: 3 },
          ],
        })
      ).status,
    ).toBe(200);
    const started = await call(base, 'POST', '/v1/experiments/hero/start');
    expect(started.body).toMatchObject({ status: 'running', stopAt: null });
    expect(Date.parse(started.body.startAt)).toBeGreaterThan(Date.now() - 60_000);
    const resplit = await call(base, 'PUT', '/v1/experiments/hero', twoArms);
    expect(resplit.status).toBe(409);
    expect(resplit.body.message).toMatch(/is running: changing its variants, weights/);
    // A new description or targeting keeps every unit where it is: allowed.
    expect(
      (
        await call(base, 'PUT', '/v1/experiments/hero', {
          variants: [
            { name: 'control', weight: 1 },
            { name: 'treatment', weight: 3 },
          ],
          description: 'v2',
        })
      ).status,
    ).toBe(200);
    const forced = await call(base, 'PUT', '/v1/experiments/hero?force=true', twoArms);
    expect(forced.status).toBe(200);
    expect(forced.body.experiment.variants).toEqual(twoArms.variants);
    expect((await call(base, 'POST', '/v1/experiments/hero/stop')).body.status).toBe('stopped');
    expect((await call(base, 'GET', '/v1/experiments/hero')).body.version).toBe(6);
  });

  it('answers 4xx naming the field for bad definitions, unknown experiments and bad queries', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      [
        'PUT',
        '/v1/experiments/bad',
        { variants: [{ name: 'a', weight: 1 }] },
        400,
        /variants: must list at least two/,
      ],
      ['PUT', '/v1/experiments/bad', { ...twoArms, traffic: 0 }, 400, /traffic: must be a share/],
      ['PUT', '/v1/experiments/bad', { ...twoArms, colour: 1 }, 400, /colour: is not a field/],
      ['PUT', '/v1/experiments/assignments', twoArms, 400, /reserved/],
      ['GET', '/v1/experiments/nope', undefined, 404, /experiment "nope"/],
      ['POST', '/v1/experiments/nope/start', undefined, 404, /experiment "nope"/],
      ['GET', '/v1/experiments/assignments', undefined, 400, /unit/],
      [
        'GET',
        '/v1/experiments?status=paused',
        undefined,
        400,
        /status: must be draft, running or stopped/,
      ],
      [
        'GET',
        '/v1/experiments/hero/results?alpha=1',
        undefined,
        400,
        /alpha: is not a parameter of results/,
      ],
    ];
    for (const [method, path, body, status, message] of cases) {
      const answer = await call(base, method, path, body);
      expect([path, answer.status]).toEqual([path, status]);
      expect(answer.body.message).toMatch(message);
    }
  });

  it('keeps the experiments of one layer apart, and the server assigns as the in-process function does', async () => {
    expect(
      (await call(base, 'PUT', '/v1/experiments/left', { ...twoArms, layer: 'home', traffic: 0.6 }))
        .status,
    ).toBe(201);
    const full = await call(base, 'PUT', '/v1/experiments/right', {
      ...twoArms,
      layer: 'home',
      traffic: 0.6,
    });
    expect(full.status).toBe(409);
    expect(full.body.message).toMatch(/layer "home" has no free range/);
    expect(
      (
        await call(base, 'PUT', '/v1/experiments/right', {
          variants: [
            { name: 'x', weight: 1 },
            { name: 'y', weight: 1 },
          ],
          layer: 'home',
          traffic: 0.4,
        })
      ).body.experiment.layerRange,
    ).toEqual([6000, 10000]);
    const targeted = { ...twoArms, targeting: [{ attribute: 'country', op: 'eq', value: 'JP' }] };
    expect((await call(base, 'PUT', '/v1/experiments/jp-only', targeted)).status).toBe(201);
    for (const name of ['left', 'right', 'jp-only'])
      expect((await call(base, 'POST', `/v1/experiments/${name}/start`)).status).toBe(200);
    const definitions = (await call(base, 'GET', '/v1/experiments?status=running')).body
      .experiments;
    expect(definitions.map((e: { name: string }) => e.name)).toEqual(['jp-only', 'left', 'right']);
    let inLeft = 0;
    for (let k = 0; k < 300; k++) {
      const country = k % 2 === 0 ? 'JP' : 'US';
      const answer = await call(
        base,
        'GET',
        `/v1/experiments/assignments?unit=user-${k}&country=${country}`,
      );
      expect(answer.status).toBe(200);
      expect(answer.body.assignments).toEqual(assignUnit(definitions, `user-${k}`, { country }));
      const names = answer.body.assignments.map((a: { experiment: string }) => a.experiment);
      expect(names.includes('left') && names.includes('right')).toBe(false);
      expect(names.includes('left') || names.includes('right')).toBe(true); // the layer is full
      expect(names.includes('jp-only')).toBe(country === 'JP');
      if (names.includes('left')) inLeft++;
    }
    expect(inLeft).toBeGreaterThan(150);
    expect(inLeft).toBeLessThan(210);
  });

  it('ingests batches exactly once, refuses a bad batch whole, and analyses the events', async () => {
    expect((await call(base, 'PUT', '/v1/experiments/checkout', twoArms)).status).toBe(201);
    await call(base, 'POST', '/v1/experiments/checkout/start');
    const random = seededRandom(7);
    const rates: Record<string, number> = { control: 0.1, treatment: 0.16 };
    const events: object[] = [];
    const sums = { control: { units: 0, converted: 0 }, treatment: { units: 0, converted: 0 } };
    const start = Date.parse('2026-12-01T00:00:00Z');
    const definition = (await call(base, 'GET', '/v1/experiments/checkout')).body;
    for (let k = 0; k < 3000; k++) {
      const unit = `u${k}`;
      const variant = assignUnit([definition], unit)[0].variant as 'control' | 'treatment';
      const time = start + Math.floor(k / 1000) * 86_400_000 + k;
      events.push({
        eventId: `x-${k}`,
        type: 'exposure',
        experiment: 'checkout',
        unit,
        variant,
        time,
      });
      sums[variant].units++;
      if (random() < rates[variant]) {
        events.push({
          eventId: `c-${k}`,
          type: 'conversion',
          experiment: 'checkout',
          unit,
          metric: 'purchase',
          time: time + 1000,
        });
        sums[variant].converted++;
      }
    }
    // A unit seen in both variants is flagged and left out.
    events.push({
      eventId: 'both-1',
      type: 'exposure',
      experiment: 'checkout',
      unit: 'both',
      variant: 'control',
      time: start,
    });
    events.push({
      eventId: 'both-2',
      type: 'exposure',
      experiment: 'checkout',
      unit: 'both',
      variant: 'treatment',
      time: start + 1,
    });
    events.push({
      eventId: 'both-3',
      type: 'conversion',
      experiment: 'checkout',
      unit: 'both',
      metric: 'purchase',
      time: start + 2,
    });
    let accepted = 0;
    for (let k = 0; k < events.length; k += 1000) {
      const answer = await call(base, 'POST', '/v1/events', { events: events.slice(k, k + 1000) });
      expect(answer.status).toBe(200);
      accepted += answer.body.accepted;
    }
    expect(accepted).toBe(events.length);
    // A retried batch is counted once.
    expect(
      (await call(base, 'POST', '/v1/events', { events: events.slice(0, 1000) })).body,
    ).toEqual({ accepted: 0, duplicates: 1000 });
    // A batch with one bad event is refused whole, naming it; its good events are not stored.
    const bad = await call(base, 'POST', '/v1/events', {
      events: [
        {
          eventId: 'new-1',
          type: 'exposure',
          experiment: 'checkout',
          unit: 'late',
          variant: 'control',
        },
        {
          eventId: 'new-2',
          type: 'conversion',
          experiment: 'checkout',
          unit: '',
          metric: 'purchase',
        },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/events\[1\]\.unit/);
    // An experiment that is not defined is a 404, a variant it does not have a 400, each naming
    // the event; the whole batch is refused.
    const good = {
      eventId: 'kept-1',
      type: 'exposure',
      experiment: 'checkout',
      unit: 'fresh',
      variant: 'control',
    };
    const ghost = await call(base, 'POST', '/v1/events', {
      events: [
        good,
        { eventId: 'z', type: 'value', experiment: 'ghost', unit: 'u', metric: 'm', value: 1 },
      ],
    });
    expect([ghost.status, ghost.body.code]).toEqual([404, 'NOT_FOUND']);
    expect(ghost.body.message).toMatch(/events\[1\]\.experiment: experiment "ghost" not found/);
    const blue = await call(base, 'POST', '/v1/events', {
      events: [
        good,
        { eventId: 'b', type: 'exposure', experiment: 'checkout', unit: 'u', variant: 'blue' },
      ],
    });
    expect([blue.status, blue.body.code]).toEqual([400, 'INVALID_ARGUMENT']);
    expect(blue.body.message).toMatch(
      /events\[1\]\.variant: "blue" is not a variant of experiment "checkout" \(control, treatment\)/,
    );

    const results = await call(
      base,
      'GET',
      '/v1/experiments/checkout/results?metric=purchase&alternative=greater',
    );
    expect(results.status).toBe(200);
    const r = results.body;
    expect(r).toMatchObject({
      experiment: 'checkout',
      metric: 'purchase',
      kind: 'conversion',
      control: 'control',
      alternative: 'greater',
      quality: { multiVariantUnits: 1 },
    });
    expect(
      r.variants.map((v: { units: number; conversions: number }) => [v.units, v.conversions]),
    ).toEqual([
      [sums.control.units, sums.control.converted],
      [sums.treatment.units, sums.treatment.converted],
    ]);
    // The server's figures are those of the analysis library on the hand-counted sums.
    const expected = analyzeMetric(
      {
        metric: 'purchase',
        kind: 'conversion',
        control: 'control',
        variants: twoArms.variants,
        sums: new Map(
          Object.entries(sums).map(([v, s]) => [
            v,
            { units: s.units, converted: s.converted, sum: s.converted, sumSquares: s.converted },
          ]),
        ),
      },
      { alternative: 'greater' },
    );
    expect(r.comparisons[0].pValue).toBeCloseTo(expected.comparisons[0].pValue, 12);
    expect(r.comparisons[0].difference.ci[0]).toBeCloseTo(
      expected.comparisons[0].difference.ci[0],
      12,
    );
    expect(r.comparisons[0].significant).toBe(true); // 10% against 16% on 1,500 units each
    expect(r.srm.mismatch).toBe(false);
    expect(r.timeline).toHaveLength(3);
    expect(r.timeline.at(-1).units).toEqual({
      control: sums.control.units,
      treatment: sums.treatment.units,
    });
    expect(r.warnings.join(' ')).toMatch(/1 unit\(s\) were exposed to more than one variant/);
    expect((await call(base, 'GET', '/v1/experiments/checkout/results?metric=nope')).status).toBe(
      404,
    );
  });

  it('lists assignment and events in the OpenAPI document', async () => {
    const doc = (await call(base, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/experiments/assignments', '/v1/events']),
    );
  });
});
