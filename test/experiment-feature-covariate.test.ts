/**
 * The experiment analysis over HTTP with a CUPED covariate from the feature store (issue 20,
 * "Used by the rest of kiban"): `GET /v1/experiments/{name}/results?covariateFeature=VIEW:FEATURE`
 * adjusts with each unit's feature value just before its first exposure. On a seeded experiment
 * whose pre-exposure spend is both sent as events and kept in a feature view (with a later value
 * equal to the metric as a trap), the feature covariate gives the event covariate's θ and
 * variance reduction.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/bandits/bandit-policy.js';
import { ExperimentService } from '../src/experiments/experiment-service.js';
import { loadFeatureRepository } from '../src/features/feature-definitions.js';
import { DuckDBOfflineFeatureStore } from '../src/features/offline-store.js';
import { createServingApp } from '../src/serving/create-app.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';
import { dropSchemas, IN_CI, probePostgres, TEST_POSTGRES_URL } from './fixtures/postgres.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);
const UNITS = 400;

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);
const STORES: [string, () => { store: KyselyMetadataStore; schema?: string }][] = [
  ['SQLite', () => ({ store: KyselyMetadataStore.sqlite(':memory:') })],
];
if (postgresProblem === null || IN_CI)
  STORES.push([
    'PostgreSQL',
    () => {
      const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
      return { store: KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }), schema };
    },
  ]);

describe.each(STORES)('experiment results with covariateFeature (%s)', (_, open) => {
  let dir: string;
  const { store: metadata, schema } = open();
  const offline = new DuckDBOfflineFeatureStore({ threads: 1 });
  let app: FastifyInstance;
  let bare: FastifyInstance;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-experiment-feature-'));
    await mkdir(join(dir, 'data'));
    await metadata.migrate();
    const random = seededRandom(23);
    const gauss = () =>
      Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
    const events: object[] = [];
    const feature = ['user_id,event_time,spend_28d'];
    for (let i = 0; i < UNITS; i += 1) {
      const unit = `u${i}`;
      const variant = i % 2 === 0 ? 'control' : 'treatment';
      const exposure = T0 + (i % 5) * DAY + Math.floor(random() * DAY);
      const x = Math.round((20 + 6 * gauss()) * 100) / 100;
      const y =
        Math.round((5 + 0.9 * x + 2 * gauss() + (variant === 'treatment' ? 1 : 0)) * 100) / 100;
      events.push(
        {
          eventId: `p${i}`,
          type: 'value',
          experiment: 'checkout',
          unit,
          metric: 'spend',
          value: x,
          time: exposure - 3 * DAY,
        },
        {
          eventId: `e${i}`,
          type: 'exposure',
          experiment: 'checkout',
          unit,
          variant,
          time: exposure,
        },
        {
          eventId: `v${i}`,
          type: 'value',
          experiment: 'checkout',
          unit,
          metric: 'spend',
          value: y,
          time: exposure + DAY,
        },
      );
      feature.push(`${unit},${new Date(exposure - 3 * DAY).toISOString()},${x}`);
      // A trap: the value after exposure is the metric itself.
      feature.push(`${unit},${new Date(exposure + 2 * DAY).toISOString()},${y}`);
    }
    await writeFile(join(dir, 'data', 'spend.csv'), `${feature.join('\n')}\n`);
    await writeFile(
      join(dir, 'features.yaml'),
      [
        'entities:',
        '  user: { joinKey: user_id, type: string }',
        'sources:',
        '  spend: { path: data/spend.csv, timestamp: event_time }',
        'featureViews:',
        '  spend:',
        '    entities: [user]',
        '    source: spend',
        '    ttl: 30d',
        '    features: { spend_28d: float64 }',
        '',
      ].join('\n'),
    );
    const repo = await loadFeatureRepository(dir);
    const experiments = new ExperimentService(metadata.experiments, {
      features: { repo, offline },
    });
    await experiments.define('checkout', {
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1 },
      ],
    });
    for (let at = 0; at < events.length; at += 900)
      await experiments.ingest(events.slice(at, at + 900));
    app = createServingApp({ serving: new MemoryServingStore(), webRoot: false, experiments });
    bare = createServingApp({
      serving: new MemoryServingStore(),
      webRoot: false,
      experiments: new ExperimentService(metadata.experiments),
    });
    await Promise.all([app.ready(), bare.ready()]);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await offline.close();
    await metadata.close();
    if (schema !== undefined) await dropSchemas([schema]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const results = async (server: FastifyInstance, query: string) => {
    const response = await server.inject({
      method: 'GET',
      url: `/v1/experiments/checkout/results?metric=spend${query}`,
    });
    return { status: response.statusCode, body: response.json() as any };
  };

  it('adjusts with the feature at first exposure exactly as with the pre-exposure events', async () => {
    const fromEvents = await results(app, '');
    const fromFeature = await results(app, '&covariateFeature=spend:spend_28d');
    expect(fromEvents.status).toBe(200);
    expect(fromFeature.status).toBe(200);
    const a = fromEvents.body.comparisons[0].cuped;
    const b = fromFeature.body.comparisons[0].cuped;
    expect(a.varianceReduction).toBeGreaterThan(0.8);
    expect(Math.abs(b.theta - a.theta)).toBeLessThan(1e-9);
    expect(Math.abs(b.varianceReduction - a.varianceReduction)).toBeLessThan(1e-9);
    expect(Math.abs(b.difference.estimate - a.difference.estimate)).toBeLessThan(1e-9);
    // The same units and outcomes (summed in SQL for one, in TypeScript for the other).
    for (const [j, v] of fromEvents.body.variants.entries()) {
      const w = fromFeature.body.variants[j];
      expect(w.units).toBe(v.units);
      expect(Math.abs(w.mean - v.mean)).toBeLessThan(1e-9);
      expect(Math.abs(w.variance - v.variance)).toBeLessThan(1e-9);
    }
    expect(fromFeature.body.warnings).toContain(
      `CUPED covariate spend:spend_28d from the feature store: ${UNITS} of ${UNITS} units had a value before their first exposure (the others take the mean)`,
    );
  });

  it('names covariateFeature when it cannot be used', async () => {
    const unknown = await results(app, '&covariateFeature=spend:nope');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/^covariateFeature: view "spend" has no feature "nope"/);
    const malformed = await results(app, '&covariateFeature=spend');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/^covariateFeature: "spend" is not view:feature/);
    const none = await results(bare, '&covariateFeature=spend:spend_28d');
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/^covariateFeature: this server has no feature repository/);
  });
});
