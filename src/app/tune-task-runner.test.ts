import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataStore } from '../storage/metadata-store.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { builtinTaskHandlers } from './builtin-task-handlers.js';
import { loadKibanConfig } from './config.js';
import { openMetadataStore } from './open-stores.js';
import { applyTunedParams } from './tune-task-runner.js';

const COMMENTED = `# kiban for the shop
model:
  kind: als # the factor model
  values: binary
  params:
    factors: 64
evaluate:
  k: 10 # list length
`;

/** 4 clusters of 10 users, each picking 12 of its 20 items over time: MovieLens columns. */
function trainCsv(): string {
  const lines = ['userId,movieId,rating,timestamp'];
  for (let u = 0; u < 40; u++)
    for (let i = 0; i < 12; i++)
      lines.push(`${u},${(u % 4) * 20 + ((u * 7 + i * 3) % 20)},4,${1_000 + u * 50 + i}`);
  return `${lines.join('\n')}\n`;
}

describe('workflow tasks of kind: tune', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-tune-task-'));
    const url = `sqlite:${join(dir, 'meta.db')}`;
    metadata = await openMetadataStore(url);
    engine = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({
        logs: metadata.workflows,
        handlers: builtinTaskHandlers({ metadataUrl: url }),
      }),
      workRoot: join(dir, 'work'),
    });
    await writeFile(join(dir, 'train.csv'), trainCsv());
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (params: string) => {
    const wf = parseWorkflow(
      `name: tuning\ntasks:\n  tune:\n    kind: tune\n    params: { ${params} }\n`,
      join(dir, 'tuning.yaml'),
      builtinTaskHandlers(),
    );
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    const [task] = await metadata.workflows.getTasks(done.id);
    return { done, output: task.output as Record<string, unknown> };
  };

  it('searches, reports the best and applies it to the kiban.yaml, comments kept', async () => {
    await writeFile(join(dir, 'kiban.yaml'), COMMENTED);
    const { done, output } = await run(
      'model: itemknn, trials: 3, carve: temporal, train: train.csv, config: kiban.yaml, apply: true',
    );
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(output).toMatchObject({
      model: 'itemknn',
      carve: 'temporal',
      trials: 3,
      stopped: 'done',
    });
    expect(output['ndcg@10']).toBeGreaterThan(0);
    expect(output.applied).toBe(join(dir, 'kiban.yaml'));
    const text = await readFile(join(dir, 'kiban.yaml'), 'utf8');
    expect(text).toContain('# kiban for the shop');
    expect(text).toContain('k: 10 # list length');
    const config = await loadKibanConfig({ file: join(dir, 'kiban.yaml') });
    expect(config.pipeline.model.kind).toBe('itemknn');
    expect(config.pipeline.model.params).toEqual(output.best);
    expect(config.pipeline.model.values).toBe('binary');
  });

  it('tunes on the events of config when given no train file, aggregated as its pipeline does', async () => {
    const events = ['user,item,event,value,timestamp'];
    for (let u = 0; u < 30; u++)
      for (let i = 0; i < 10; i++)
        events.push(
          `u${u},i${(u % 3) * 12 + ((u + i * 5) % 12)},view,1,${1_700_000_000 + u * 100 + i}`,
        );
    await writeFile(join(dir, 'events.csv'), `${events.join('\n')}\n`);
    // Like the pipeline, kiban tune reads data.events relative to the working directory.
    await writeFile(join(dir, 'events.yaml'), `data:\n  events: ${join(dir, 'events.csv')}\n`);
    const { done, output } = await run('model: bpr, trials: 2, carve: random, config: events.yaml');
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(output).toMatchObject({ model: 'bpr', trials: 2, applied: null });
  });

  it('fails naming the field: an unknown model, a model without a space, a bad budget', async () => {
    const unknown = await run('model: nope, train: train.csv');
    expect(unknown.done.status).toBe('failed');
    expect(unknown.done.error).toMatch(/params\.model: unknown model "nope"/);
    const popularity = await run('model: popularity, train: train.csv');
    expect(popularity.done.error).toMatch(
      /params\.model: model "popularity" declares no search space/,
    );
    expect(() =>
      parseWorkflow(
        'name: t\ntasks:\n  tune:\n    kind: tune\n    params: { model: als, budget: soon }\n',
        join(dir, 't.yaml'),
        builtinTaskHandlers(),
      ),
    ).toThrow(/budget.*"soon" is not a duration/);
    expect(() =>
      parseWorkflow(
        'name: t\ntasks:\n  tune:\n    kind: tune\n    params: { model: als, apply: true }\n',
        join(dir, 't.yaml'),
        builtinTaskHandlers(),
      ),
    ).toThrow(/apply.*needs config/);
  });
});

describe('applyTunedParams', () => {
  it('replaces model.params whole, keeps the rest and restores a file the config refuses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-tune-apply-'));
    try {
      const file = join(dir, 'kiban.yaml');
      await writeFile(file, COMMENTED);
      await applyTunedParams(file, 'bpr', { factors: 32, reg: 0.01 });
      const text = await readFile(file, 'utf8');
      expect(text).toMatch(/# kiban for the shop\nmodel:\n {2}kind: bpr # the factor model\n/);
      expect(text).toContain('# Chosen by kiban tune on');
      expect((await loadKibanConfig({ file })).pipeline.model.params).toEqual({
        factors: 32,
        reg: 0.01,
      });
      await expect(applyTunedParams(file, 'nope', {})).rejects.toThrow(/model\.kind/);
      expect(await readFile(file, 'utf8')).toBe(text);
      const fresh = join(dir, 'new.yaml');
      await applyTunedParams(fresh, 'als', { factors: 64 });
      expect((await loadKibanConfig({ file: fresh })).pipeline.model).toMatchObject({
        kind: 'als',
        params: { factors: 64 },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
