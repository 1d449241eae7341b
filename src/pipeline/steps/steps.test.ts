import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from '../../storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { taskLogLogger } from '../../workflow/task-log-logger.js';
import { parsePipelineConfig, type PipelineConfig } from '../pipeline-config.js';
import { readCandidates } from './candidate-lists.js';
import {
  EvaluationGateError,
  PIPELINE_STEP_KINDS,
  runPipelineStep,
  stepConfig,
  type PipelineStepKind,
  type StepContext,
} from './index.js';

describe('pipeline steps, each run on its own over a work directory', () => {
  let dir: string;
  const serving = new MemoryServingStore();
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  const lines: string[] = [];
  const config = (overrides: Record<string, unknown> = {}): PipelineConfig =>
    parsePipelineConfig({
      model: { kind: 'popularity' },
      candidates: { users: 5, related: 3, popular: 7 },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
      ...overrides,
    });
  const context = (workDir: string, cfg = config()): StepContext => ({
    config: cfg,
    runId: 'steps-test',
    workDir,
    serving: async () => serving,
    metadata,
    logger: taskLogLogger((line) => lines.push(line)),
  });
  const run = (kind: PipelineStepKind, ctx: StepContext) => runPipelineStep(kind, ctx);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-steps-'));
    await metadata.migrate();
  });
  afterAll(async () => {
    await serving.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hands files from step to step and publishes lists a real user is served; retries are idempotent', async () => {
    const workDir = join(dir, 'run-1');
    const ctx = context(workDir);
    const exists = async (name: string) =>
      (await stat(join(workDir, name)).catch(() => null)) !== null;

    const aggregated = await run('aggregate', ctx);
    expect(aggregated).toMatchObject({ rowsIn: 150_461, pairs: 100_836, users: 610 });
    expect(await exists('interactions.parquet')).toBe(true);

    const evaluated = await run('evaluate', ctx);
    expect(evaluated['ndcg@10']).toBeGreaterThan(0);
    const evaluation = JSON.parse(await readFile(join(workDir, 'evaluation.json'), 'utf8'));
    expect(evaluation).toMatchObject({ kind: 'popularity', k: 10, failed: [] });

    const trained = await run('train', ctx);
    const ref = JSON.parse(await readFile(join(workDir, 'model.json'), 'utf8'));
    expect(ref).toEqual({
      modelId: trained.modelId,
      artifactPath: join(dir, 'models', String(trained.modelId)),
      kind: 'popularity',
      // No interaction was written through the API before this batch.
      interactionsThrough: 0,
    });
    expect((await metadata.getModel(ref.modelId))?.metrics).toEqual(evaluation.metrics);

    expect(await run('candidates', ctx)).toMatchObject({
      modelId: ref.modelId,
      userLists: 610,
      relatedLists: aggregated.items,
      popular: 7,
    });
    expect((await readdir(join(workDir, 'candidates'))).sort()).toContain('user.ids.bin');
    const packed = await readCandidates(join(workDir, 'candidates'));
    expect(packed.lists.user.ids).toBeInstanceOf(Int32Array);
    expect(packed.lists.user.offsets[1]).toBe(5);

    const published = await run('publish', ctx);
    expect((await serving.currentVersion())?.version).toBe(published.version);
    const user1 = await serving.getList('user', '1');
    expect(user1).toHaveLength(5);
    expect(await serving.getList('related', '1')).toHaveLength(3);
    expect(await serving.getList('popular', 'all')).toHaveLength(7);
    expect((await serving.currentVersion())?.meta).toMatchObject({
      modelId: ref.modelId,
      runId: 'steps-test',
    });

    // Retries: aggregate replaces its file; publish makes a new version serving the same lists.
    expect(await run('aggregate', ctx)).toEqual(aggregated);
    const again = await run('publish', ctx);
    expect(again.version).not.toBe(published.version);
    expect((await serving.currentVersion())?.version).toBe(again.version);
    expect(await serving.getList('user', '1')).toEqual(user1);

    // A retried train makes a new model; publishing the old model's candidates is refused until
    // candidates runs again.
    const retrained = await run('train', ctx);
    expect(retrained.modelId).not.toBe(trained.modelId);
    await expect(run('publish', ctx)).rejects.toThrow(/run the candidates step again/);
    expect((await serving.currentVersion())?.version).toBe(again.version);
    await run('candidates', ctx);
    await run('candidates', ctx);
    expect((await readdir(workDir)).filter((f) => f.startsWith('.'))).toEqual([]);
    const third = await run('publish', ctx);
    expect((await serving.currentVersion())?.meta).toMatchObject({ modelId: retrained.modelId });
    expect(third.modelId).toBe(retrained.modelId);
    expect(await serving.getList('user', '1')).toEqual(user1);
    expect(lines.some((l) => l.startsWith('publish: version'))).toBe(true);
  }, 60_000);

  it('fails a step whose input is missing with an error naming the file', async () => {
    const ctx = context(join(dir, 'empty'));
    await expect(run('evaluate', ctx)).rejects.toThrow(
      /interactions\.parquet \(written by the aggregate step/,
    );
    await expect(run('train', ctx)).rejects.toThrow(/interactions\.parquet/);
    await expect(run('candidates', ctx)).rejects.toThrow(/model\.json \(written by the train step/);
    await expect(run('publish', ctx)).rejects.toThrow(/model\.json/);
    await expect(runPipelineStep('bogus' as PipelineStepKind, ctx)).rejects.toThrow(
      /^kind: "bogus" is not a pipeline step/,
    );
    expect(PIPELINE_STEP_KINDS).toEqual([
      'aggregate',
      'train',
      'evaluate',
      'candidates',
      'publish',
    ]);
  });

  it('stops at evaluate when a metric is below its minimum, still recording the metrics', async () => {
    const workDir = join(dir, 'run-1');
    const gated = context(workDir, config({ evaluate: { minimum: { 'ndcg@10': 0.99 } } }));
    const error = await run('evaluate', gated).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvaluationGateError);
    expect((error as Error).message).toMatch(/ndcg@10 0\.\d+ < 0\.99/);
    expect(JSON.parse(await readFile(join(workDir, 'evaluation.json'), 'utf8'))).toMatchObject({
      failed: ['ndcg@10'],
    });
    await expect(
      run('evaluate', context(workDir, config({ evaluate: { minimum: { 'ndcg@5': 0.1 } } }))),
    ).rejects.toThrow(/^config\.evaluate\.minimum\.ndcg@5: no such metric/);
    expect(
      await run(
        'evaluate',
        context(workDir, config({ evaluate: { minimum: { 'ndcg@10': 0.01 } } })),
      ),
    ).toHaveProperty('ndcg@10');
  }, 30_000);

  describe('stepConfig', () => {
    it('overrides the base file with the task parameters of the step', async () => {
      const base = join(dir, 'conf');
      await mkdir(base, { recursive: true });
      await writeFile(
        join(base, 'kiban.yaml'),
        [
          'name: nightly',
          'model: { kind: als, params: { factors: 8 } }',
          'aggregate: { minUserItems: 3 }',
          'stores: { work: /tmp/w, artifacts: /tmp/a }',
          '',
        ].join('\n'),
      );
      const agg = await stepConfig(
        'aggregate',
        { config: 'kiban.yaml', window: { days: '90', end: '2018-09-01' }, minItemUsers: '4' },
        base,
      );
      expect(agg).toMatchObject({
        name: 'nightly',
        aggregate: { minUserItems: 3, minItemUsers: 4, window: { days: 90, end: '2018-09-01' } },
      });
      expect(agg.model).toMatchObject({ kind: 'als', params: { factors: 8 } });
      expect(resolve(agg.data.events)).toBe(resolve('datasets/ml-events/events.csv.gz'));

      const train = await stepConfig(
        'train',
        { config: 'kiban.yaml', kind: 'itemknn', stores: { serving: 'memory:' } },
        base,
      );
      expect(train.model).toEqual({ kind: 'itemknn', params: {}, values: 'binary' });
      expect(train.stores).toEqual({
        serving: 'memory:',
        metadata: 'sqlite:.kiban/meta.db',
        work: '/tmp/w',
        artifacts: '/tmp/a',
      });
      expect(
        (await stepConfig('train', { config: 'kiban.yaml', params: { factors: '16' } }, base)).model
          .params,
      ).toEqual({ factors: 16 });

      const evaluate = await stepConfig(
        'evaluate',
        { kind: 'popularity', holdout: 0.2, minimum: { 'ndcg@10': '0.1' }, events: 'x.csv' },
        base,
      );
      expect(evaluate).toMatchObject({
        model: { kind: 'popularity' },
        evaluate: { holdout: 0.2, k: 10, minimum: { 'ndcg@10': 0.1 } },
        data: { events: 'x.csv' },
      });
      expect((await stepConfig('candidates', { users: '20' }, base)).candidates).toEqual({
        users: 20,
        related: 50,
        popular: 100,
      });
      expect((await stepConfig('publish', {}, base)).name).toBe('demo');
    });

    it('refuses unknown and bad parameters, naming them', async () => {
      await expect(stepConfig('aggregate', { windw: { days: 3 } }, dir)).rejects.toThrow(
        /^params\.windw: not a parameter of aggregate tasks; known: config, events, stores, eventWeights/,
      );
      await expect(stepConfig('publish', { kind: 'als' }, dir)).rejects.toThrow(
        /^params\.kind: not a parameter of publish tasks/,
      );
      await expect(stepConfig('train', { holdout: 0.1 }, dir)).rejects.toThrow(
        /^params\.holdout: /,
      );
      await expect(stepConfig('aggregate', { window: { days: -1 } }, dir)).rejects.toThrow(
        /^params\.window\.days: /,
      );
      await expect(
        stepConfig('train', { kind: 'als', params: { factors: -1 } }, dir),
      ).rejects.toThrow(/^params\.params: als\.factors: /);
      await expect(stepConfig('train', { kind: 'nope' }, dir)).rejects.toThrow(/^params\.kind: /);
      await expect(stepConfig('candidates', { stores: 'x' }, dir)).rejects.toThrow(
        /^params\.stores: must be a mapping/,
      );
      await expect(stepConfig('train', { config: 'missing.yaml' }, dir)).rejects.toThrow(
        /missing\.yaml: cannot read the configuration file/,
      );
    });
  });
});
