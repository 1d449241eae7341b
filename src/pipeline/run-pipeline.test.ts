import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../storage/memory-serving-store.js';
import { parsePipelineConfig, type PipelineConfig } from './pipeline-config.js';
import { runPipeline, type PipelineEvent } from './run-pipeline.js';

describe('runPipeline', () => {
  let dir: string;
  const serving = new MemoryServingStore();
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  const config = (overrides: Record<string, unknown> = {}): PipelineConfig =>
    parsePipelineConfig({
      model: { kind: 'popularity' },
      candidates: { users: 5, related: 3, popular: 7 },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
      ...overrides,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-pipeline-'));
    await metadata.migrate();
  });
  afterAll(async () => {
    await serving.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes lists for every user and item and records the run, its steps and the model', async () => {
    const events: PipelineEvent[] = [];
    const result = await runPipeline(config(), {
      serving,
      metadata,
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'step-end').map((e) => e.step)).toEqual([
      'aggregate',
      'train',
      'candidates',
      'publish',
    ]);
    expect((await serving.currentVersion())?.version).toBe(result.version);
    expect(await serving.getList('user', '1')).toHaveLength(5);
    expect(await serving.getList('related', '1')).toHaveLength(3);
    expect(await serving.getList('popular', 'all')).toHaveLength(7);
    // Popularity recommends the same list minus what each user has seen: user 1's first item is
    // the most popular item user 1 has not interacted with.
    const popular = (await serving.getList('popular', 'all'))!.map((i) => i.id);
    expect(popular).toContain((await serving.getList('user', '1'))![0].id);

    // The run is a run of the built-in recommend workflow, recorded like any workflow run.
    const run = await metadata.workflows.getRun(result.runId);
    expect(run).toMatchObject({ status: 'succeeded', workflow: 'recommend' });
    expect(run!.definition.params).toMatchObject({ pipeline: 'demo', model: 'popularity' });
    const tasks = await metadata.workflows.getTasks(result.runId);
    expect(tasks.map((t) => [t.task, t.status])).toEqual([
      ['aggregate', 'succeeded'],
      ['evaluate', 'succeeded'],
      ['train', 'succeeded'],
      ['candidates', 'succeeded'],
      ['publish', 'succeeded'],
    ]);
    expect(tasks.find((t) => t.task === 'train')!.output).toMatchObject({
      modelId: result.modelId,
      users: result.figures.train.users,
    });
    expect(tasks[0].output).toMatchObject({ pairs: result.figures.aggregate.pairs });
    expect(result.figures.train['ndcg@10']).toBeGreaterThan(0);
    expect(Object.values(result.figures).every((f) => f.seconds >= 0)).toBe(true);
    // The steps' lines are in the tasks' logs.
    const logs = await metadata.workflows.readLogs(result.runId, 'publish');
    expect(logs.some((l) => l.line.startsWith('publish: version'))).toBe(true);
    const model = await metadata.getModel(result.modelId);
    expect(model).toMatchObject({
      kind: 'popularity',
      dataSnapshot: { users: result.figures.train.users },
    });
    expect(model!.metrics['ndcg@10']).toBeGreaterThan(0);
  });

  it('marks a failing step and run failed and leaves the published version serving', async () => {
    const before = await serving.currentVersion();
    // Every event type is unweighted, so nothing is left to train on after aggregation.
    const failing = config({ aggregate: { eventWeights: { purchase: 1 } } });
    await expect(runPipeline(failing, { serving, metadata })).rejects.toThrow(
      /no interactions are left/,
    );
    expect((await serving.currentVersion())?.version).toBe(before?.version);
    const [latest] = await metadata.workflows.listRuns({ workflow: 'recommend', limit: 1 });
    expect(latest.status).toBe('failed');
    expect(latest.error).toMatch(/task aggregate failed: .*no interactions are left/);
    const tasks = await metadata.workflows.getTasks(latest.id);
    expect(tasks.map((t) => [t.task, t.status])).toEqual([
      ['aggregate', 'failed'],
      ['evaluate', 'upstream_failed'],
      ['train', 'upstream_failed'],
      ['candidates', 'upstream_failed'],
      ['publish', 'upstream_failed'],
    ]);
    expect(tasks[0].error).toMatch(/no interactions are left/);
  });

  it('refuses bad model parameters before any work, naming them', () => {
    expect(() => config({ model: { kind: 'als', params: { factors: -1 } } })).toThrow(
      /^config\.model\.params: als\.factors: /,
    );
    expect(() => config({ model: { kind: 'itemknn', params: { factors: 8 } } })).toThrow(
      /^config\.model\.params: itemknn: Unrecognized key/,
    );
  });
});
