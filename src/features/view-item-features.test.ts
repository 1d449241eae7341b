import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdMap } from '../data/id-map.js';
import { readItemFeatures } from '../data/item-features.js';
import { loadFeatureRepository } from './feature-definitions.js';
import type { FeatureRepository } from './feature-types.js';
import { readViewItemFeatures } from './view-item-features.js';

let dir: string;
let repo: FeatureRepository;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-view-items-test-'));
  await mkdir(join(dir, 'data'));
  // Item 10 changed genres (the later row counts), 30 has a row only after asOf (ignored, so its
  // earlier row counts), 40 has only a row after asOf (no features), 99 is not a model item.
  await writeFile(
    join(dir, 'data', 'movies.csv'),
    [
      'movie_id,event_time,genres,year,kids,added',
      '10,2024-01-01T00:00:00Z,Drama,1994,false,2024-01-01T00:00:00Z',
      '10,2024-02-01T00:00:00Z,Comedy|Drama,1994,false,2024-01-01T00:00:00Z',
      '20,2024-01-05T00:00:00Z,Animation|Comedy,1995,true,2024-01-01T00:00:00Z',
      '30,2024-01-07T00:00:00Z,Horror,,false,2024-01-01T00:00:00Z',
      '30,2024-06-01T00:00:00Z,Animation,2020,true,2024-01-01T00:00:00Z',
      '40,2024-06-01T00:00:00Z,Drama,2001,false,2024-01-01T00:00:00Z',
      '99,2024-01-01T00:00:00Z,Drama,1980,false,2024-01-01T00:00:00Z',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'features.yaml'),
    [
      'entities:',
      '  movie: { joinKey: movie_id, type: int64 }',
      'sources:',
      '  movies: { path: data/movies.csv, timestamp: event_time }',
      'featureViews:',
      '  movie_meta:',
      '    entities: [movie]',
      '    source: movies',
      '    ttl: 30d',
      '    features: { genres: string, year: int64, kids: bool, added: timestamp }',
      '',
    ].join('\n'),
  );
  repo = await loadFeatureRepository(dir);
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('readViewItemFeatures', () => {
  const items = IdMap.fromColumn(Float64Array.of(10, 20, 30, 40, 50));
  const asOf = new Date('2024-03-01T00:00:00Z');

  it('reads each item’s latest row before asOf into the same features as the equivalent item table', async () => {
    const fromView = await readViewItemFeatures({
      repo,
      view: 'movie_meta',
      items,
      columns: 'genres:multi:|,year:num,kids:cat',
      asOf,
    });
    // The table the view amounts to at asOf, written by hand.
    const table = join(dir, 'expected.csv');
    await writeFile(
      table,
      [
        'movie_id,genres,year,kids',
        '10,Comedy|Drama,1994,false',
        '20,Animation|Comedy,1995,true',
        '30,Horror,,false',
        '',
      ].join('\n'),
    );
    const fromTable = await readItemFeatures(table, 'genres:multi:|,year:num,kids:cat', items);
    expect(fromView).toEqual(fromTable);
    expect(fromView.matched).toBe(3);
    expect(fromView.names).toEqual([
      'genres=Animation',
      'genres=Comedy',
      'genres=Drama',
      'genres=Horror',
      'year',
      'year:missing',
      'kids=false',
      'kids=true',
    ]);
    // Items 40 (only a later row) and 50 (none) have no features.
    expect(fromView.indptr[4] - fromView.indptr[3]).toBe(0);
    expect(fromView.indptr[5] - fromView.indptr[4]).toBe(0);
  });

  it('defaults to every feature of the view, numbers as num and strings and bools as cat, timestamps left out', async () => {
    const features = await readViewItemFeatures({ repo, view: 'movie_meta', items, asOf });
    expect(features.names).toContain('genres=Comedy|Drama');
    expect(features.names).toContain('year');
    expect(features.names).toContain('kids=true');
    expect(features.names.some((n) => n.startsWith('added'))).toBe(false);
  });

  it('names the option at fault', async () => {
    await expect(
      readViewItemFeatures({
        repo,
        view: 'nope',
        items,
        fields: { view: 'model.itemFeatures.view' },
      }),
    ).rejects.toThrow(/^model\.itemFeatures\.view: no feature view "nope"/);
    await expect(
      readViewItemFeatures({ repo, view: 'movie_meta', items, columns: 'rating:num' }),
    ).rejects.toThrow(/columns: view "movie_meta" has no feature "rating"/);
  });
});
