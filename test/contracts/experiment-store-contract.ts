import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, InvalidArgumentError } from '../../src/core/errors.js';
import { normaliseDefinition, type Experiment } from '../../src/experiments/experiment.js';
import type { ExperimentEvent } from '../../src/experiments/experiment-store.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

/** An experiment record as the service would store it. */
export function sampleExperiment(name: string, overrides: Partial<Experiment> = {}): Experiment {
  const at = new Date('2026-12-01T00:00:00.000Z');
  return {
    ...normaliseDefinition(name, {
      variants: [
        { name: 'control', weight: 1 },
        { name: 'treatment', weight: 1 },
      ],
      description: 'ünïcödé ✓',
      targeting: [{ attribute: 'country', op: 'in', value: ['JP', 'KR'] }],
    }),
    status: 'draft',
    startAt: null,
    stopAt: null,
    layerRange: [0, 10_000],
    version: 1,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T00:00:00.000Z');

function event(
  id: string,
  type: ExperimentEvent['type'],
  unit: string,
  extra: { variant?: string; metric?: string; value?: number; at?: number } = {},
): ExperimentEvent {
  return {
    eventId: id,
    type,
    experiment: 'exp',
    unit,
    variant: extra.variant ?? null,
    metric: extra.metric ?? null,
    value: extra.value ?? (type === 'conversion' ? 1 : null),
    time: new Date(extra.at ?? T0),
  };
}

/**
 * The conformance suite of the {@link ExperimentStore} every metadata store backend carries:
 * experiments round-trip, compare-and-set replacement, idempotent atomic event batches, and the
 * analysis sums computed in the database against sums worked out by hand. `create` returns a
 * new, migrated, empty store.
 */
export function describeExperimentStore(name: string, create: () => Promise<MetadataStore>): void {
  describe(`ExperimentStore contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async () => {
      store = await create();
      return store.experiments;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('stores experiments, refuses a taken name and replaces by compare-and-set', async () => {
      const s = await open();
      const e = sampleExperiment('home-hero');
      await s.createExperiment(e);
      await expect(s.createExperiment(e)).rejects.toBeInstanceOf(ConflictError);
      expect(await s.getExperiment('home-hero')).toEqual(e);
      expect(await s.getExperiment('nope')).toBeNull();
      const started = {
        ...e,
        status: 'running' as const,
        startAt: new Date(T0 + 1),
        version: 2,
        updatedAt: new Date(T0 + 5),
      };
      expect(await s.replaceExperiment(started, 1)).toBe(true);
      expect(await s.replaceExperiment({ ...started, status: 'stopped' }, 1)).toBe(false); // someone else changed it
      expect(await s.getExperiment('home-hero')).toEqual(started);
      await s.createExperiment(sampleExperiment('about', { layer: 'home', layerRange: [0, 5000] }));
      expect((await s.listExperiments()).map((x) => x.name)).toEqual(['about', 'home-hero']);
      expect((await s.listExperiments({ status: 'running' })).map((x) => x.name)).toEqual([
        'home-hero',
      ]);
      expect((await s.listExperiments({ layer: 'home' })).map((x) => x.name)).toEqual(['about']);
      await expect(s.getExperiment('bad name!')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('stores a batch of events once, however often it is sent, and refuses a bad batch whole', async () => {
      const s = await open();
      const batch = [
        event('e1', 'exposure', 'u1', { variant: 'control' }),
        event('e2', 'conversion', 'u1', { metric: 'buy' }),
      ];
      expect(await s.insertEvents(batch)).toEqual({ inserted: 2, duplicates: 0 });
      expect(
        await s.insertEvents([
          ...batch,
          event('e3', 'value', 'u1', { metric: 'revenue', value: 9.5 }),
        ]),
      ).toEqual({ inserted: 1, duplicates: 2 });
      await expect(
        s.insertEvents([
          event('e4', 'exposure', 'u2', { variant: 'control' }),
          event('e5', 'exposure', 'u3'),
        ]),
      ).rejects.toThrow(/events\[1\]\.variant/);
      expect(await s.listMetrics('exp')).toEqual([
        { metric: 'buy', kind: 'conversion', events: 1 },
        { metric: 'revenue', kind: 'value', events: 1 },
      ]);
      // e4 was not stored: the batch failed as a whole.
      expect(
        (
          await s.metricAggregates('exp', 'buy', {
            bucketMs: DAY,
            variants: ['control', 'treatment'],
          })
        ).exposedUnits.get('control'),
      ).toBe(1);
    });

    it('sums each metric per variant and day in the database, excluding units in two variants', async () => {
      const s = await open();
      const events: ExperimentEvent[] = [];
      let id = 0;
      const add = (
        type: ExperimentEvent['type'],
        unit: string,
        extra: Parameters<typeof event>[3],
      ) => events.push(event(`ev-${id++}`, type, unit, extra));
      // Day 0: c1, c2 in control, t1 in treatment; day 1: t2 in treatment; "both" sees both variants.
      add('exposure', 'c1', { variant: 'control', at: T0 + 1000 });
      add('exposure', 'c1', { variant: 'control', at: T0 + 5000 }); // a second exposure to the same variant is fine
      add('exposure', 'c2', { variant: 'control', at: T0 + 2000 });
      add('exposure', 't1', { variant: 'treatment', at: T0 + 3000 });
      add('exposure', 't2', { variant: 'treatment', at: T0 + DAY + 10 });
      add('exposure', 'both', { variant: 'control', at: T0 });
      add('exposure', 'both', { variant: 'treatment', at: T0 + 1 });
      add('exposure', 'odd', { variant: 'nosuch', at: T0 });
      // Revenue: c1 spent 2 before and 3 + 4 after exposure; t1 spent 10 after; "both" and a stranger spent too.
      add('value', 'c1', { metric: 'revenue', value: 2, at: T0 });
      add('value', 'c1', { metric: 'revenue', value: 3, at: T0 + 1000 });
      add('value', 'c1', { metric: 'revenue', value: 4, at: T0 + 9000 });
      add('value', 't1', { metric: 'revenue', value: 10, at: T0 + 4000 });
      add('value', 'both', { metric: 'revenue', value: 100, at: T0 + 2 });
      add('value', 'stranger', { metric: 'revenue', value: 7, at: T0 });
      // Conversions: t1 twice (counts once), t2 once, c2 before exposure only.
      add('conversion', 't1', { metric: 'buy', at: T0 + 3500 });
      add('conversion', 't1', { metric: 'buy', at: T0 + 3600 });
      add('conversion', 't2', { metric: 'buy', at: T0 + DAY + 20 });
      add('conversion', 'c2', { metric: 'buy', at: T0 + 1000 });
      await s.insertEvents(events);

      const revenue = await s.metricAggregates('exp', 'revenue', {
        bucketMs: DAY,
        variants: ['control', 'treatment'],
      });
      expect(revenue.kind).toBe('value');
      expect(revenue.multiVariantUnits).toBe(1);
      expect(revenue.unknownVariantUnits).toBe(1);
      expect(revenue.unexposedEvents).toBe(1);
      expect(revenue.exposedUnits).toEqual(
        new Map([
          ['control', 2],
          ['treatment', 2],
        ]),
      );
      expect(revenue.rows).toEqual([
        {
          variant: 'control',
          bucketStartMs: T0,
          units: 2,
          converted: 1,
          sum: 7,
          sumSquares: 49,
          preSum: 2,
          preSumSquares: 4,
          sumProducts: 14,
        },
        {
          variant: 'treatment',
          bucketStartMs: T0,
          units: 1,
          converted: 1,
          sum: 10,
          sumSquares: 100,
          preSum: 0,
          preSumSquares: 0,
          sumProducts: 0,
        },
        {
          variant: 'treatment',
          bucketStartMs: T0 + DAY,
          units: 1,
          converted: 0,
          sum: 0,
          sumSquares: 0,
          preSum: 0,
          preSumSquares: 0,
          sumProducts: 0,
        },
      ]);
      const buy = await s.metricAggregates('exp', 'buy', {
        bucketMs: DAY,
        variants: ['control', 'treatment'],
      });
      expect(buy.kind).toBe('conversion');
      expect(buy.rows).toEqual([
        {
          variant: 'control',
          bucketStartMs: T0,
          units: 2,
          converted: 0,
          sum: 0,
          sumSquares: 0,
          preSum: 1,
          preSumSquares: 1,
          sumProducts: 0,
        },
        {
          variant: 'treatment',
          bucketStartMs: T0,
          units: 1,
          converted: 1,
          sum: 1,
          sumSquares: 1,
          preSum: 0,
          preSumSquares: 0,
          sumProducts: 0,
        },
        {
          variant: 'treatment',
          bucketStartMs: T0 + DAY,
          units: 1,
          converted: 1,
          sum: 1,
          sumSquares: 1,
          preSum: 0,
          preSumSquares: 0,
          sumProducts: 0,
        },
      ]);
      const none = await s.metricAggregates('exp', 'nothing', {
        bucketMs: DAY,
        variants: ['control', 'treatment'],
      });
      expect(none.kind).toBeNull();
      expect(none.rows.map((r) => [r.variant, r.units, r.sum])).toEqual([
        ['control', 2, 0],
        ['treatment', 1, 0],
        ['treatment', 1, 0],
      ]);
    });
  });
}
