/**
 * A model registered from outside kiban (defined in this file, the way a model folder defines
 * one) is trained, evaluated, saved and loaded through the same paths as the built-in models:
 * `kiban evaluate` given the registry, and the pipeline's evaluate, train and candidates steps.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { evaluateCommand, type EvaluationRecord } from '../src/cli/evaluate-command.js';
import { createLogger } from '../src/core/log.js';
import { parseParams } from '../src/core/params.js';
import type { Interactions } from '../src/data/interactions.js';
import type { Artifact } from '../src/models/artifact.js';
import { BaseRecommender } from '../src/models/base-recommender.js';
import { builtinModels } from '../src/models/builtin-models.js';
import type { ModelDefinition, SavedModel } from '../src/models/model-registry.js';
import type { FitReport } from '../src/models/recommender.js';
import { parsePipelineConfig } from '../src/pipeline/pipeline-config.js';
import { runPipelineStep, type StepContext } from '../src/pipeline/steps/index.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

const orderParams = z
  .object({ bias: z.number().min(0).default(0).describe("weight of each item's user count") })
  .strict();

/** Scores item i as `i + bias × users(i)` for everyone: with `bias: 0`, the highest index first. */
class OrderRecommender extends BaseRecommender<z.output<typeof orderParams>> {
  readonly kind = 'order';
  private scores: Float32Array = new Float32Array(0);

  constructor(params: Record<string, unknown> = {}) {
    super(parseParams(orderParams, params, 'order'));
  }

  static fromArtifact(saved: SavedModel): OrderRecommender {
    const model = new OrderRecommender(saved.params);
    model.scores = saved.arrays.scores as Float32Array;
    model.restore(saved.data);
    return model;
  }

  protected async fitModel(data: Interactions): Promise<FitReport> {
    const { indptr } = data.itemUsers;
    this.scores = Float32Array.from(
      { length: data.items.size },
      (_, i) => i + this.params.bias * (indptr[i + 1] - indptr[i]),
    );
    return { seconds: 0, iterations: 1 };
  }

  protected scoreUser(_u: number, out: Float32Array): void {
    out.set(this.scores);
  }

  protected scoreSimilar(_i: number, out: Float32Array): void {
    out.set(this.scores);
  }

  protected artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    return { arrays: { scores: this.scores }, extra: {} };
  }
}

const orderModel: ModelDefinition = {
  kind: 'order',
  params: orderParams,
  create: (params) => new OrderRecommender(params),
  load: (saved) => OrderRecommender.fromArtifact(saved),
  describe: 'test-only: highest item index first',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-outside-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `kiban evaluate` with `models`, returning what it printed on stdout. */
async function evaluate(models: ReturnType<typeof builtinModels>, args: string[]): Promise<string> {
  let out = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await evaluateCommand(models).parseAsync(args, { from: 'user' });
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return out;
}

describe('a model registered from outside', () => {
  it('is listed by kiban evaluate --help, with its hyper-parameters as flags', () => {
    let help = '';
    const command = evaluateCommand(builtinModels().register(orderModel)).configureOutput({
      writeOut: (s) => (help += s),
    });
    command.outputHelp();
    expect(help.replace(/\s+/g, ' ')).toMatch(
      /model to evaluate: popularity \| itemknn \| als \| bpr \| graphsage \| gat \| ease \| order/,
    );
    expect(help).toMatch(/^ {2}order {7}test-only: highest item index first$/m);
    expect(help).toMatch(/--bias <value>\s+weight of each item's user count \[order: 0\]/);
  });

  it('is fitted, evaluated and saved by kiban evaluate, and loads back through the registry', async () => {
    // Items sort as i1 < i2 < i3 (indices 0, 1, 2); ann has seen i1 and i2, bob i1 and i3.
    const train = join(dir, 'train.csv');
    await writeFile(train, 'u,i\nann,i1\nann,i2\nbob,i1\nbob,i3\n');
    const test = join(dir, 'test.csv');
    await writeFile(test, 'u,i\nann,i3\nbob,i1\n');
    const saved = join(dir, 'saved');
    const models = builtinModels().register(orderModel);
    const out = await evaluate(models, [
      '--train',
      train,
      '--test',
      test,
      '--columns',
      'u,i',
      '--model',
      'order',
      '--bias',
      '0',
      '--k',
      '1',
      '--save',
      saved,
      '--json',
    ]);
    const record = JSON.parse(out.trim()) as EvaluationRecord;
    // ann is offered i3 (a hit), bob i2 (a miss).
    expect(record).toMatchObject({ model: 'order', params: { bias: 0 }, users: 2 });
    expect(record.metrics['precision@1']).toBe(0.5);
    const loaded = await models.load(saved);
    expect(loaded).toBeInstanceOf(OrderRecommender);
    expect([...loaded.recommend([0, 1], { k: 1 }).idsOf(1)]).toEqual([1]);
    // kiban's own registry does not know it.
    await expect(builtinModels().load(saved)).rejects.toThrow(
      /model: unknown model "order"; choose one of popularity, itemknn, als, bpr/,
    );
  });

  it('is refused by name, with the registered kinds listed, when unknown', async () => {
    const models = builtinModels().register(orderModel);
    await expect(evaluate(models, ['--model', 'nope'])).rejects.toThrow(
      /--model: unknown model "nope"; choose one of popularity, itemknn, als, bpr, graphsage, gat, ease, order/,
    );
    await expect(evaluate(builtinModels(), ['--model', 'order'])).rejects.toThrow(
      /--model: unknown model "order"; choose one of popularity, itemknn, als, bpr, graphsage, gat, ease$/,
    );
  });

  it('is configured, evaluated, trained and turned into candidates by the pipeline steps', async () => {
    const events = join(dir, 'events.csv');
    const rows = ['user,item,event,value,timestamp'];
    for (let u = 1; u <= 6; u++)
      for (let i = 1; i <= 4; i++)
        if ((u + i) % 3 !== 0) rows.push(`u${u},i${i},view,1,${1000 + u * 10 + i}`);
    await writeFile(events, `${rows.join('\n')}\n`);
    const input = {
      data: { events },
      aggregate: { minUserItems: 1, minItemUsers: 1 },
      model: { kind: 'order', params: { bias: 0 } },
      evaluate: { holdout: 0.3, k: 2 },
      candidates: { users: 2, related: 2, popular: 2 },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
    };
    expect(() => parsePipelineConfig(input)).toThrow(
      /config\.model\.kind: Invalid option: expected one of "popularity"\|"itemknn"\|"als"\|"bpr"/,
    );
    const models = builtinModels().register(orderModel);
    expect(() =>
      parsePipelineConfig({ ...input, model: { kind: 'order', params: { bias: -1 } } }, models),
    ).toThrow(/config\.model\.params: order\.bias/);
    const config = parsePipelineConfig(input, models);

    const metadata = KyselyMetadataStore.sqlite(':memory:');
    await metadata.migrate();
    const serving = new MemoryServingStore();
    const ctx: StepContext = {
      config,
      runId: 'outside',
      workDir: join(dir, 'run'),
      serving: async () => serving,
      metadata,
      logger: createLogger({ level: 'silent' }),
      models,
    };
    try {
      await runPipelineStep('aggregate', ctx);
      const evaluated = await runPipelineStep('evaluate', ctx);
      expect(evaluated['ndcg@2']).toBeGreaterThanOrEqual(0);
      const trained = await runPipelineStep('train', ctx);
      expect(trained).toMatchObject({ kind: 'order', users: 6, items: 4 });
      const ref = JSON.parse(await readFile(join(ctx.workDir, 'model.json'), 'utf8'));
      expect(ref.kind).toBe('order');
      expect(await metadata.getModel(ref.modelId)).toMatchObject({
        kind: 'order',
        params: { bias: 0 },
      });
      expect(await runPipelineStep('candidates', ctx)).toMatchObject({
        userLists: 6,
        relatedLists: 4,
        popular: 2,
      });
      // The candidates step loaded the saved model through the registry given; kiban's own refuses it.
      await expect(runPipelineStep('candidates', { ...ctx, models: undefined })).rejects.toThrow(
        /unknown model "order"/,
      );
    } finally {
      await serving.close();
      await metadata.close();
    }
  });
});
