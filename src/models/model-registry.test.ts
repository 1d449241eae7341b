import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tasteGroupsFixture } from '../../test/contracts/recommender-contract.js';
import { InvalidArgumentError } from '../core/errors.js';
import { alsModel } from './als/als-definition.js';
import { BUILTIN_MODELS, builtinModels } from './builtin-models.js';
import { ModelRegistry, UnknownModelError, type ModelDefinition } from './model-registry.js';
import { PopularityRecommender } from './popularity/popularity-recommender.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-model-registry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ModelRegistry', () => {
  it("holds kiban's seven models in the order listings use, each with defaults and a description", () => {
    const models = builtinModels();
    expect(models.kinds()).toEqual([
      'popularity',
      'itemknn',
      'als',
      'bpr',
      'graphsage',
      'gat',
      'ease',
    ]);
    expect(models.definitions()).toEqual(BUILTIN_MODELS);
    for (const d of models.definitions()) expect(d.describe).toMatch(/\w/);
    expect(models.get('als').params.parse({})).toMatchObject({ factors: expect.any(Number) });
    expect(models.create('itemknn', { neighbours: 7 }).params).toMatchObject({ neighbours: 7 });
  });

  it('refuses an unknown kind, listing the registered kinds', () => {
    const models = builtinModels();
    expect(models.has('deep-magic')).toBe(false);
    const error = (() => {
      try {
        return models.get('deep-magic');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnknownModelError);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toBe(
      'model: unknown model "deep-magic"; choose one of popularity, itemknn, als, bpr, graphsage, gat, ease',
    );
    expect(() => models.create('deep-magic')).toThrow(
      /choose one of popularity, itemknn, als, bpr, graphsage, gat, ease/,
    );
    expect(() => new ModelRegistry().get('als')).toThrow(/unknown model "als"; choose one of $/);
  });

  it('refuses a kind twice, a kind that cannot name a directory, and a definition whose models report another kind', () => {
    const models = builtinModels();
    expect(() => models.register(alsModel)).toThrow(
      /kind: a model of kind "als" is already registered/,
    );
    expect(() => models.register({ ...alsModel, kind: '../als' })).toThrow(
      /kind: "\.\.\/als" is not a model kind/,
    );
    const liar: ModelDefinition = {
      ...alsModel,
      kind: 'liar',
      create: () => new PopularityRecommender(),
    };
    expect(() => models.register(liar).create('liar')).toThrow(
      /the "liar" definition made a model of kind "popularity"/,
    );
  });

  it('keeps registries apart: registering in one leaves builtinModels() as it was', () => {
    builtinModels().register({ ...alsModel, kind: 'als2' });
    expect(builtinModels().kinds()).not.toContain('als2');
  });

  it('loads a saved model by the kind recorded with it, and refuses a kind it does not hold', async () => {
    const path = join(dir, 'popularity');
    const model = new PopularityRecommender();
    await model.fit(tasteGroupsFixture(), { progress: false });
    await model.save(path);
    const loaded = await builtinModels().load(path);
    expect(loaded.kind).toBe('popularity');
    expect([...loaded.recommend([0], { k: 3 }).idsOf(0)]).toEqual([
      ...model.recommend([0], { k: 3 }).idsOf(0),
    ]);
    const withoutIt = new ModelRegistry().register(alsModel);
    await expect(withoutIt.load(path)).rejects.toThrow(
      /model: unknown model "popularity"; choose one of als/,
    );
  });
});
