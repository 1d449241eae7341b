import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdMap } from './id-map.js';
import { readItemCatalogue } from './item-catalogue.js';

describe('readItemCatalogue', () => {
  let dir: string;
  const items = IdMap.fromSortedIds([1, 2, 3, 4]);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-catalogue-'));
    await writeFile(
      join(dir, 'items.csv'),
      'item,genres,artist,gone\n2,Jazz,  a2 ,1\n1,Rock|Pop|Rock,a1,false\n9,X,a9,\n4,,,\n',
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("aligns categories, creators and the retired flag to the model's items, skipping others", async () => {
    const catalogue = await readItemCatalogue(
      join(dir, 'items.csv'),
      { id: 'item', category: 'genres', creator: 'artist', retired: 'gone' },
      items,
    );
    expect(catalogue.categories).toEqual([['Rock', 'Pop'], ['Jazz'], [], []]);
    expect(catalogue.creators).toEqual(['a1', 'a2', null, null]);
    expect([...catalogue.retired]).toEqual([0, 1, 0, 0]);
    expect(catalogue.matched).toBe(3);
  });

  it('names the file, line and column of a bad cell, and a missing column', async () => {
    await writeFile(join(dir, 'bad.csv'), 'item,gone\n1,true\n2,maybe\n');
    await expect(
      readItemCatalogue(join(dir, 'bad.csv'), { retired: 'gone' }, items),
    ).rejects.toThrow(/bad\.csv.*line 3.*gone.*"maybe" is not a boolean/);
    await expect(
      readItemCatalogue(join(dir, 'items.csv'), { creator: 'maker' }, items),
    ).rejects.toThrow(/missing column "maker"; the file has "item", "genres", "artist", "gone"/);
    await writeFile(join(dir, 'twice.csv'), 'item,artist\n1,a\n1,b\n');
    await expect(
      readItemCatalogue(join(dir, 'twice.csv'), { creator: 'artist' }, items),
    ).rejects.toThrow(/id "1" appears twice/);
  });
});
