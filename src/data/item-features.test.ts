import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { IdMap } from './id-map.js';
import { type ItemFeatures, parseItemFeatureSpec, readItemFeatures } from './item-features.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-item-features-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function table(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Row i of the CSR as a name → value map. */
function row(f: ItemFeatures, i: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = f.indptr[i]; k < f.indptr[i + 1]; k++) out[f.names[f.indices[k]]] = f.values[k];
  return out;
}

describe('parseItemFeatureSpec', () => {
  it('reads kinds and separators', () => {
    expect(parseItemFeatureSpec('genres:multi:|, kind:cat,year:num,tags:multi:;')).toEqual([
      { column: 'genres', kind: 'multi', separator: '|' },
      { column: 'kind', kind: 'cat' },
      { column: 'year', kind: 'num' },
      { column: 'tags', kind: 'multi', separator: ';' },
    ]);
    expect(parseItemFeatureSpec('g:multi')).toEqual([
      { column: 'g', kind: 'multi', separator: '|' },
    ]);
  });

  it('names the field and the column on a bad entry', () => {
    expect(() => parseItemFeatureSpec('genres:bag', '--item-feature-columns')).toThrow(
      /--item-feature-columns: column "genres": kind "bag", expected multi, cat or num/,
    );
    expect(() => parseItemFeatureSpec('year:num:|')).toThrow(InvalidArgumentError);
    expect(() => parseItemFeatureSpec('a:cat,a:num')).toThrow(/"a" is named twice/);
    expect(() => parseItemFeatureSpec(' ')).toThrow(/names no column/);
  });
});

describe('readItemFeatures', () => {
  // The model knows items 1, 2, 5, 9 (dense 0..3); the table has 1, 2, 5 and 7 (unknown).
  const items = IdMap.fromColumn(Float64Array.of(9, 1, 5, 2));

  it('aligns multi-hot, one-hot and standardised numeric features to dense item indices', async () => {
    const path = await table(
      'movies.csv',
      [
        'movieId,title,genres,kind,year',
        '1,Toy Story,Animation|Comedy,film,1995',
        '7,Unknown,Horror,film,1990',
        '2,Jumanji,Comedy|Fantasy|Comedy,series,2005',
        '5,"Heat, the",Action,,',
      ].join('\n'),
    );
    const f = await readItemFeatures(path, 'genres:multi:|,kind:cat,year:num', items);
    // Horror only belongs to item 7, which the model does not know.
    expect(f.names).toEqual([
      'genres=Action',
      'genres=Animation',
      'genres=Comedy',
      'genres=Fantasy',
      'kind=film',
      'kind=series',
      'year',
      'year:missing',
    ]);
    expect(f.nFeatures).toBe(8);
    expect(f.matched).toBe(3);
    expect(f.indptr.length).toBe(5);
    // Years 1995 and 2005: mean 2000, standard deviation 5.
    expect(row(f, items.indexOf(1))).toEqual({
      'genres=Animation': 1,
      'genres=Comedy': 1,
      'kind=film': 1,
      year: -1,
    });
    expect(row(f, items.indexOf(2))).toEqual({
      'genres=Comedy': 1,
      'genres=Fantasy': 1,
      'kind=series': 1,
      year: 1,
    });
    expect(row(f, items.indexOf(5))).toEqual({ 'genres=Action': 1, 'year:missing': 1 });
    expect(row(f, items.indexOf(9))).toEqual({});
    for (let i = 0; i < 4; i++)
      for (let k = f.indptr[i] + 1; k < f.indptr[i + 1]; k++)
        expect(f.indices[k]).toBeGreaterThan(f.indices[k - 1]);
  });

  it('takes an id column by name', async () => {
    const path = await table('by-name.csv', 'genres,id\nA|B,9\nB,1\n');
    const f = await readItemFeatures(path, 'genres:multi', items, { idColumn: 'id' });
    expect(row(f, items.indexOf(9))).toEqual({ 'genres=A': 1, 'genres=B': 1 });
    expect(row(f, items.indexOf(1))).toEqual({ 'genres=B': 1 });
  });

  it('names the column of a missing column, a bad number and a duplicate id', async () => {
    const path = await table('bad.csv', 'movieId,year\n1,1995\n2,nineteen\n');
    await expect(readItemFeatures(path, 'genres:multi', items)).rejects.toThrow(
      /missing column "genres"; the file has "movieId", "year"/,
    );
    const err = await readItemFeatures(path, 'year:num', items).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.location).toMatchObject({ column: 'year', line: 3 });
    expect(err.message).toMatch(/"nineteen" is not a number/);
    const dup = await table('dup.csv', 'movieId,kind\n1,a\n1,b\n');
    await expect(readItemFeatures(dup, 'kind:cat', items)).rejects.toThrow(/"1" appears twice/);
  });
});
