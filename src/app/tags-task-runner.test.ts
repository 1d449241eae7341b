import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticTagLines } from '../../test/fixtures/tags/synthetic.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { readTaggerPointer } from '../storage/tagger-pointer.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { openMetadataStore, openServingStore } from './open-stores.js';
import { builtinTaskHandlers } from './builtin-task-handlers.js';

describe('workflow tasks of kind: tags', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  const workflow = (params: string): string => `name: tagger
tasks:
  tagger:
    kind: tags
    params: { input: "${join(dir, 'train.txt')}", valid: "${join(dir, 'valid.txt')}", dim: 16, threads: 1, stores: { serving: "sqlite:${join(dir, 'serving.db')}", artifacts: "${join(dir, 'models')}" }${params} }
`;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-tags-task-'));
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
    await writeFile(join(dir, 'train.txt'), `${syntheticTagLines(400, 1).join('\n')}\n`);
    await writeFile(join(dir, 'valid.txt'), `${syntheticTagLines(100, 2).join('\n')}\n`);
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (params: string) => {
    const wf = parseWorkflow(workflow(params), join(dir, 'tagger.yaml'), builtinTaskHandlers());
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    const [task] = await metadata.workflows.getTasks(done.id);
    return { done, output: task.output as Record<string, unknown> };
  };
  const pointer = async () => {
    const serving = await openServingStore(`sqlite:${join(dir, 'serving.db')}`);
    try {
      return await readTaggerPointer(serving);
    } finally {
      await serving.close();
    }
  };

  it('trains, measures and publishes the tagger, recording the model with its precision', async () => {
    const { done, output } = await run(', epoch: 10, lr: 0.5, minPrecision: 0.9');
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(output).toMatchObject({ tags: 4, examples: 400 });
    expect(output['precision@1']).toBeGreaterThan(0.9);
    const published = await pointer();
    expect(published?.modelId).toBe(output.modelId);
    const model = await metadata.getModel(String(output.modelId));
    expect(model).toMatchObject({ kind: 'tagger', artifactPath: published?.artifactPath });
    expect(model?.metrics['precision@1']).toBe(output['precision@1']);
  });

  it('below minPrecision the task fails and the published tagger stays', async () => {
    const before = await pointer();
    const { done } = await run(', epoch: 1, lr: 0.01, minPrecision: 0.99');
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/precision@1 0\.\d+ is below the minimum 0\.99; not publishing it/);
    expect(await pointer()).toEqual(before);
  });

  it('names a misspelt parameter, at validation and (for a definition not validated) at run time', async () => {
    expect(() =>
      parseWorkflow(workflow(', epochs: 3'), join(dir, 'tagger.yaml'), builtinTaskHandlers()),
    ).toThrow(/tasks\.tagger\.params\.epochs: not a parameter of tags tasks/);
    const wf = parseWorkflow(workflow(''), join(dir, 'tagger.yaml'), builtinTaskHandlers());
    wf.tasks[0].params = { ...wf.tasks[0].params, epochs: 3 };
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('params.epochs: not a parameter of tags tasks');
  });

  it('with stores.artifacts an artifact store URL, stores the tagger under models/<id>/ and publishes its key', async () => {
    const text = `name: tagger
tasks:
  tagger:
    kind: tags
    params: { input: "${join(dir, 'train.txt')}", dim: 16, epoch: 5, threads: 1, stores: { serving: "sqlite:${join(dir, 'serving.db')}", artifacts: "file:${join(dir, 'store')}" } }
`;
    const wf = parseWorkflow(text, join(dir, 'tagger.yaml'), builtinTaskHandlers());
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const [task] = await metadata.workflows.getTasks(done.id);
    const output = task.output as Record<string, unknown>;
    const key = `models/${String(output.modelId)}/model.tagger`;
    expect(output).toMatchObject({ artifactKey: key, artifactPath: key });
    expect(await pointer()).toMatchObject({ modelId: output.modelId, artifactKey: key });
    expect(await metadata.getModel(String(output.modelId))).toMatchObject({ artifactPath: key });
    const store = new FileArtifactStore(join(dir, 'store'));
    expect((await store.list('')).map((o) => o.key)).toEqual([key]);
  });
});
