import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError } from '../../src/core/errors.js';
import type { MetadataStore, ModelRecord } from '../../src/storage/metadata-store.js';

/** A fixed instant with a non-zero millisecond part, so that truncation to seconds would show. */
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0, 7);
const at = (offsetMs: number): Date => new Date(T0 + offsetMs);

/** A model whose JSON fields exercise nesting, arrays, nulls, unicode, key order and number edge cases. */
export function sampleModel(id: string, overrides: Partial<ModelRecord> = {}): ModelRecord {
  return {
    id,
    kind: 'als',
    params: {
      factors: 64,
      regularization: 0.01,
      alpha: 1e-7,
      nested: { list: [1, 'two', null, true, { deep: [] }] },
      z: 1.5e300,
      big: 9007199254740991,
      a: 'ünïcödé ✓ "quoted"',
    },
    dataSnapshot: {
      source: 'datasets/movielens-100k/ratings.csv',
      rows: 100_836,
      users: 610,
      items: 9_724,
      checksum: 'sha256:ab12',
    },
    metrics: { 'ndcg@10': 0.3512345678901234, 'recall@20': 0.5, 'precision@5': 0 },
    artifactPath: `/var/kiban/models/${id}`,
    createdAt: at(0),
    ...overrides,
  };
}

/**
 * The conformance suite every {@link MetadataStore} runs. `factory` returns a new, unmigrated
 * store over an empty database each time it is called; the suite migrates and closes it.
 */
export function describeMetadataStore(
  name: string,
  factory: () => MetadataStore | Promise<MetadataStore>,
): void {
  describe(`MetadataStore contract: ${name}`, () => {
    const open: MetadataStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    const fresh = async (): Promise<MetadataStore> => {
      const store = await factory();
      open.push(store);
      await store.migrate();
      return store;
    };

    it('migrates twice in a row and twice at once, and works afterwards', async () => {
      const store = await factory();
      open.push(store);
      await store.migrate();
      await store.migrate();
      await Promise.all([store.migrate(), store.migrate()]);
      await store.insertModel(sampleModel('m1'));
      await store.migrate();
      expect((await store.getModel('m1'))?.id).toBe('m1');
    });

    it('gives null for unknown ids', async () => {
      const store = await fresh();
      expect(await store.getModel('no-such-model')).toBeNull();
      expect(await store.getRun('no-such-run')).toBeNull();
      expect(await store.listModels()).toEqual([]);
      expect(await store.listRuns()).toEqual([]);
    });

    it('round-trips every field of a model exactly', async () => {
      const store = await fresh();
      const model = sampleModel('als-20261125T120000Z-ab12');
      await store.insertModel(model);
      const back = await store.getModel(model.id);
      expect(back).toEqual(model);
      expect(back?.createdAt).toBeInstanceOf(Date);
      expect(back?.createdAt.getTime()).toBe(T0);
      // Same text means the same key order and number forms, which toEqual alone would not show.
      expect(JSON.stringify(back?.params)).toBe(JSON.stringify(model.params));
      expect(JSON.stringify(back?.metrics)).toBe(JSON.stringify(model.metrics));
      expect(JSON.stringify(back?.dataSnapshot)).toBe(JSON.stringify(model.dataSnapshot));
    });

    it('keeps timestamps to the millisecond across the whole range that matters', async () => {
      const store = await fresh();
      const instants = [
        new Date(0),
        new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
        new Date(Date.UTC(2100, 0, 1, 0, 0, 0, 1)),
        new Date(-1),
      ];
      for (const [i, createdAt] of instants.entries())
        await store.insertModel(sampleModel(`m${i}`, { createdAt }));
      for (const [i, createdAt] of instants.entries())
        expect((await store.getModel(`m${i}`))?.createdAt.getTime()).toBe(createdAt.getTime());
    });

    it('refuses a duplicate model id with a clear error and keeps the first model', async () => {
      const store = await fresh();
      await store.insertModel(sampleModel('dup'));
      const second = store.insertModel(sampleModel('dup', { kind: 'bpr' }));
      await expect(second).rejects.toThrow(InvalidArgumentError);
      await expect(store.insertModel(sampleModel('dup'))).rejects.toThrow(
        /^model\.id: a model with id "dup" is already recorded/,
      );
      expect((await store.getModel('dup'))?.kind).toBe('als');
    });

    it('lists models newest first, with a limit (50 by default) and a kind filter', async () => {
      const store = await fresh();
      // Inserted out of time order, with a tie at +2000 that the id breaks (descending).
      const spec: Array<[string, string, number]> = [
        ['b', 'als', 1000],
        ['a', 'bpr', 3000],
        ['d', 'als', 2000],
        ['c', 'als', 2000],
        ['e', 'popularity', 0],
      ];
      for (const [id, kind, t] of spec)
        await store.insertModel(sampleModel(id, { kind, createdAt: at(t) }));
      expect((await store.listModels()).map((m) => m.id)).toEqual(['a', 'd', 'c', 'b', 'e']);
      expect((await store.listModels({ limit: 2 })).map((m) => m.id)).toEqual(['a', 'd']);
      expect((await store.listModels({ kind: 'als' })).map((m) => m.id)).toEqual(['d', 'c', 'b']);
      expect((await store.listModels({ kind: 'als', limit: 1 })).map((m) => m.id)).toEqual(['d']);
      expect(await store.listModels({ kind: 'none' })).toEqual([]);
      const listed = await store.listModels({ limit: 1 });
      expect(listed[0]).toEqual(sampleModel('a', { kind: 'bpr', createdAt: at(3000) }));

      for (let i = 0; i < 50; i++)
        await store.insertModel(
          sampleModel(`bulk-${String(i).padStart(2, '0')}`, { createdAt: at(10_000 + i) }),
        );
      const page = await store.listModels();
      expect(page).toHaveLength(50);
      expect(page[0].id).toBe('bulk-49');
    });

    it('records a run from start through steps to its end and model', async () => {
      const store = await fresh();
      const config = {
        data: { path: 'ratings.csv', minCount: 2 },
        model: { kind: 'als', factors: 32 },
        tags: ['nightly'],
      };
      await store.startRun({ id: 'run-1', pipeline: 'train', config, startedAt: at(0) });
      expect(await store.getRun('run-1')).toEqual({
        id: 'run-1',
        pipeline: 'train',
        status: 'running',
        config,
        startedAt: at(0),
        finishedAt: null,
        error: null,
        modelId: null,
        steps: [],
      });

      await store.startStep('run-1', { name: 'aggregate', startedAt: at(1) });
      let run = await store.getRun('run-1');
      expect(run?.steps).toEqual([
        {
          name: 'aggregate',
          status: 'running',
          startedAt: at(1),
          finishedAt: null,
          figures: {},
          error: null,
        },
      ]);

      await store.finishStep('run-1', 'aggregate', {
        status: 'succeeded',
        finishedAt: at(500),
        figures: { rowsIn: 100_836, rowsOut: 99_000, ratio: 0.98 },
      });
      await store.startStep('run-1', { name: 'train', startedAt: at(501) });
      await store.finishStep('run-1', 'train', {
        status: 'failed',
        finishedAt: at(900),
        error: 'out of memory: factors × items too large',
      });
      await store.finishRun('run-1', {
        status: 'failed',
        finishedAt: at(901),
        error: 'step "train" failed',
        modelId: 'als-1',
      });

      run = await store.getRun('run-1');
      expect(run).toEqual({
        id: 'run-1',
        pipeline: 'train',
        status: 'failed',
        config,
        startedAt: at(0),
        finishedAt: at(901),
        error: 'step "train" failed',
        modelId: 'als-1',
        steps: [
          {
            name: 'aggregate',
            status: 'succeeded',
            startedAt: at(1),
            finishedAt: at(500),
            figures: { rowsIn: 100_836, rowsOut: 99_000, ratio: 0.98 },
            error: null,
          },
          {
            name: 'train',
            status: 'failed',
            startedAt: at(501),
            finishedAt: at(900),
            figures: {},
            error: 'out of memory: factors × items too large',
          },
        ],
      });
    });

    it('finishes a run successfully without an error or model', async () => {
      const store = await fresh();
      await store.startRun({ id: 'r', pipeline: 'publish', config: {}, startedAt: at(0) });
      await store.finishRun('r', { status: 'succeeded', finishedAt: at(10) });
      const run = await store.getRun('r');
      expect(run).toMatchObject({
        status: 'succeeded',
        finishedAt: at(10),
        error: null,
        modelId: null,
        config: {},
      });
    });

    it('returns steps in start order, ties in the order they were started', async () => {
      const store = await fresh();
      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      // Recorded out of time order (a late report), and two steps starting in the same millisecond.
      await store.startStep('r', { name: 'train', startedAt: at(20) });
      await store.startStep('r', { name: 'load', startedAt: at(10) });
      await store.startStep('r', { name: 'zeta', startedAt: at(30) });
      await store.startStep('r', { name: 'alpha', startedAt: at(30) });
      expect((await store.getRun('r'))?.steps.map((s) => s.name)).toEqual([
        'load',
        'train',
        'zeta',
        'alpha',
      ]);
      expect((await store.listRuns())[0].steps.map((s) => s.name)).toEqual([
        'load',
        'train',
        'zeta',
        'alpha',
      ]);
    });

    it('lists runs newest first, with their steps, a limit and a pipeline filter', async () => {
      const store = await fresh();
      const spec: Array<[string, string, number]> = [
        ['r1', 'train', 0],
        ['r3', 'publish', 2000],
        ['r2', 'train', 1000],
        ['r4', 'train', 3000],
      ];
      for (const [id, pipeline, t] of spec) {
        await store.startRun({ id, pipeline, config: { id }, startedAt: at(t) });
        await store.startStep(id, { name: `${id}-step`, startedAt: at(t + 1) });
      }
      const all = await store.listRuns();
      expect(all.map((r) => r.id)).toEqual(['r4', 'r3', 'r2', 'r1']);
      for (const r of all) {
        expect(r.steps.map((s) => s.name)).toEqual([`${r.id}-step`]);
        expect(r.config).toEqual({ id: r.id });
      }
      expect((await store.listRuns({ limit: 2 })).map((r) => r.id)).toEqual(['r4', 'r3']);
      expect((await store.listRuns({ pipeline: 'train' })).map((r) => r.id)).toEqual([
        'r4',
        'r2',
        'r1',
      ]);
      expect((await store.listRuns({ pipeline: 'train', limit: 1 })).map((r) => r.id)).toEqual([
        'r4',
      ]);
      expect(await store.listRuns({ pipeline: 'none' })).toEqual([]);
      expect((await store.listRuns({ limit: 1 }))[0]).toEqual(await store.getRun('r4'));
    });

    it('lists a page of more than 500 runs with every step attached', async () => {
      const store = await fresh();
      const n = 510;
      for (let i = 0; i < n; i++) {
        const id = `run-${String(i).padStart(3, '0')}`;
        await store.startRun({ id, pipeline: 'train', config: {}, startedAt: at(i) });
        await store.startStep(id, { name: `s${i}`, startedAt: at(i) });
      }
      const runs = await store.listRuns({ limit: 1000 });
      expect(runs).toHaveLength(n);
      expect(
        runs.every((r, k) => r.steps.length === 1 && r.steps[0].name === `s${n - 1 - k}`),
      ).toBe(true);
    });

    it('says clearly when finishing an unknown run or step', async () => {
      const store = await fresh();
      const end = { status: 'succeeded' as const, finishedAt: at(1) };
      await expect(store.finishRun('ghost', end)).rejects.toThrow(NotFoundError);
      await expect(store.finishRun('ghost', end)).rejects.toThrow('run "ghost" not found');
      await expect(store.finishStep('ghost', 'train', end)).rejects.toThrow(
        'run "ghost" not found',
      );
      await expect(store.startStep('ghost', { name: 'train', startedAt: at(0) })).rejects.toThrow(
        'run "ghost" not found',
      );

      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      await expect(store.finishStep('r', 'nope', end)).rejects.toThrow(NotFoundError);
      await expect(store.finishStep('r', 'nope', end)).rejects.toThrow(
        'step "nope" of run "r" not found',
      );
    });

    it('refuses to record the same thing twice', async () => {
      const store = await fresh();
      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      await expect(
        store.startRun({ id: 'r', pipeline: 'other', config: {}, startedAt: at(1) }),
      ).rejects.toThrow(/^run\.id: a run with id "r" is already recorded/);
      await store.startStep('r', { name: 's', startedAt: at(1) });
      await expect(store.startStep('r', { name: 's', startedAt: at(2) })).rejects.toThrow(
        /^step\.name: run "r" already has a step named "s"/,
      );
      await store.finishStep('r', 's', {
        status: 'succeeded',
        finishedAt: at(3),
        figures: { n: 1 },
      });
      await expect(
        store.finishStep('r', 's', { status: 'failed', finishedAt: at(4) }),
      ).rejects.toThrow(/^name: step "s" of run "r" has already finished \(succeeded\)/);
      await store.finishRun('r', { status: 'succeeded', finishedAt: at(5) });
      await expect(store.finishRun('r', { status: 'failed', finishedAt: at(6) })).rejects.toThrow(
        /^runId: run "r" has already finished \(succeeded\)/,
      );
      await expect(store.startStep('r', { name: 'late', startedAt: at(7) })).rejects.toThrow(
        /^runId: run "r" has already finished/,
      );
      const run = await store.getRun('r');
      expect(run).toMatchObject({ pipeline: 'train', status: 'succeeded', finishedAt: at(5) });
      expect(run?.steps).toEqual([
        {
          name: 's',
          status: 'succeeded',
          startedAt: at(1),
          finishedAt: at(3),
          figures: { n: 1 },
          error: null,
        },
      ]);
    });

    it('keeps a step that finishes after its run has', async () => {
      const store = await fresh();
      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      await store.startStep('r', { name: 'slow', startedAt: at(1) });
      await store.finishRun('r', { status: 'failed', finishedAt: at(2), error: 'cancelled' });
      await store.finishStep('r', 'slow', {
        status: 'failed',
        finishedAt: at(3),
        error: 'cancelled',
      });
      expect((await store.getRun('r'))?.steps[0]).toMatchObject({
        status: 'failed',
        finishedAt: at(3),
      });
    });

    it('refuses records that would not read back the same, naming the field', async () => {
      const store = await fresh();
      const bad: Array<[Partial<ModelRecord>, RegExp]> = [
        [{ createdAt: new Date(Number.NaN) }, /^model\.createdAt: /],
        [{ metrics: { 'ndcg@10': Number.NaN } }, /^model\.metrics\.ndcg@10: /],
        [{ metrics: { loss: '0.1' as unknown as number } }, /^model\.metrics\.loss: /],
        [{ params: { when: new Date(0) } }, /^model\.params\.when: /],
        [{ params: { missing: undefined } }, /^model\.params\.missing: /],
        [{ params: { deep: [1, Number.POSITIVE_INFINITY] } }, /^model\.params\.deep\[1\]: /],
        [{ params: [] as unknown as Record<string, unknown> }, /^model\.params: /],
        [{ kind: '' }, /^model\.kind: /],
      ];
      for (const [override, message] of bad) {
        await expect(store.insertModel(sampleModel('bad', override))).rejects.toThrow(message);
      }
      expect(await store.getModel('bad')).toBeNull();

      await expect(store.listModels({ limit: 0 })).rejects.toThrow(/^limit: /);
      await expect(store.listRuns({ limit: 2.5 })).rejects.toThrow(InvalidArgumentError);
      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      await expect(
        store.startStep('r', { name: 's', startedAt: new Date('not a date') }),
      ).rejects.toThrow(/^step\.startedAt: /);
      await store.startStep('r', { name: 's', startedAt: at(1) });
      const status = 'done' as unknown as 'succeeded';
      await expect(store.finishStep('r', 's', { status, finishedAt: at(2) })).rejects.toThrow(
        /^end\.status: /,
      );
      await expect(store.finishRun('r', { status, finishedAt: at(2) })).rejects.toThrow(
        /^end\.status: /,
      );
      await expect(
        store.finishStep('r', 's', {
          status: 'succeeded',
          finishedAt: at(2),
          figures: { rows: Number.NaN },
        }),
      ).rejects.toThrow(/^end\.figures\.rows: /);
      // Nothing was half-written by the refused calls.
      expect((await store.getRun('r'))?.steps[0]).toMatchObject({
        status: 'running',
        finishedAt: null,
      });
    });

    it('handles concurrent writers without losing records', async () => {
      const store = await fresh();
      await store.startRun({ id: 'r', pipeline: 'train', config: {}, startedAt: at(0) });
      const names = Array.from({ length: 20 }, (_, i) => `step-${String(i).padStart(2, '0')}`);
      await Promise.all(
        names.map((name, i) => store.startStep('r', { name, startedAt: at(100 + i) })),
      );
      await Promise.all(
        names.map((name, i) =>
          store.finishStep('r', name, {
            status: 'succeeded',
            finishedAt: at(200 + i),
            figures: { i },
          }),
        ),
      );
      await Promise.all(
        names.map((name, i) => store.insertModel(sampleModel(name, { createdAt: at(i) }))),
      );
      const run = await store.getRun('r');
      expect(run?.steps.map((s) => s.name)).toEqual(names);
      expect(run?.steps.map((s) => s.figures.i)).toEqual(names.map((_, i) => i));
      expect((await store.listModels({ limit: 100 })).map((m) => m.id)).toEqual(
        [...names].reverse(),
      );
    });
  });
}
