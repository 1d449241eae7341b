import { mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, NotFoundError } from '../core/errors.js';
import { tasteGroupsFixture } from '../../test/contracts/recommender-contract.js';
import { AlsRecommender } from './als/als-recommender.js';
import { PopularityRecommender } from './popularity/popularity-recommender.js';
import { builtinModels } from './builtin-models.js';

const loadRecommender = (dir: string) => builtinModels().load(dir);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-artifact-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('model artifacts', () => {
  it('replaces an existing model whole and leaves no temporary files beside it', async () => {
    const data = tasteGroupsFixture();
    const path = join(dir, 'model');
    const popularity = new PopularityRecommender();
    await popularity.fit(data, { progress: false });
    await popularity.save(path);
    const als = new AlsRecommender({ factors: 4, iterations: 2 });
    await als.fit(data, { progress: false });
    await als.save(path);
    const loaded = await loadRecommender(path);
    expect(loaded.kind).toBe('als');
    expect((await readdir(path)).some((f) => f.startsWith('counts'))).toBe(false);
    expect(await readdir(dir)).toEqual(['model']);
  });

  it('says which model is missing', async () => {
    await expect(loadRecommender(join(dir, 'absent'))).rejects.toThrow(NotFoundError);
    await expect(loadRecommender(join(dir, 'absent'))).rejects.toThrow(
      /absent \(no model\.json\) not found/,
    );
  });

  it('refuses a truncated array file, naming it', async () => {
    const data = tasteGroupsFixture();
    const path = join(dir, 'truncated');
    const model = new AlsRecommender({ factors: 4, iterations: 2 });
    await model.fit(data, { progress: false });
    await model.save(path);
    await truncate(join(path, 'factors.items.bin'), 8);
    const error = await loadRecommender(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(
      /factors\.items\.bin: holds 8 bytes, expected \d+ float32 values/,
    );
  });
});
