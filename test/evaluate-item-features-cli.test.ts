/** `kiban evaluate --item-features` (issue 19 item 1): item side features from an item table. */
import { describe, expect, it } from 'vitest';
import type { EvaluationRecord } from '../src/cli/evaluate-command.js';
import { kiban } from './fixtures/kiban-cli.js';

const MOVIES = 'datasets/ml-latest-small/movies.csv';

describe('kiban evaluate --item-features', () => {
  it('reads MovieLens genres as multi-hot features of every training item and fits with them', async () => {
    const { code, stdout, stderr } = await kiban(
      'evaluate',
      '--model',
      'graphsage',
      '--epochs',
      '3',
      '--dim',
      '16',
      '--item-features',
      MOVIES,
      '--item-feature-columns',
      'genres:multi:|',
      '--json',
    );
    expect(code, stderr).toBe(0);
    // 19 genres and "(no genres listed)"; every one of the 8,974 training items is in movies.csv.
    expect(stderr).toContain(`item features: 20 from ${MOVIES} for 8974 of 8974 training items`);
    const record = JSON.parse(stdout.trim().split('\n').at(-1)!) as EvaluationRecord;
    expect(record.itemFeatures).toEqual({ file: MOVIES, features: 20, matchedItems: 8974 });
    expect(record.metrics['ndcg@10']).toBeGreaterThan(0.19); // above popularity's 0.1908
  }, 180_000);

  it('names the flag or the column at fault', async () => {
    const cases: [string[], RegExp][] = [
      [['--item-feature-columns', 'genres:multi'], /--item-feature-columns: needs --item-features/],
      [['--item-features', MOVIES], /--item-feature-columns: is required with --item-features/],
      [
        ['--item-features', MOVIES, '--item-feature-columns', 'genres:bag'],
        /--item-feature-columns: column "genres": kind "bag"/,
      ],
      [
        ['--item-features', MOVIES, '--item-feature-columns', 'year:num'],
        /missing column "year"; the file has "movieId", "title", "genres"/,
      ],
    ];
    for (const [flags, message] of cases) {
      const { code, stderr } = await kiban('evaluate', '--model', 'graphsage', ...flags);
      expect(code).not.toBe(0);
      expect(stderr).toMatch(message);
    }
  }, 180_000);
});
