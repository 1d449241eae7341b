/** Issue 15, item 6: `kiban evaluate`'s table keeps its columns apart at every k; its input messages say what is wrong. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
let train: string;
let test: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-eval-table-'));
  train = join(dir, 'train.csv');
  test = join(dir, 'test.csv');
  await writeFile(
    train,
    'userId,movieId,rating,timestamp\n1,10,5,1\n1,20,4,2\n2,10,3,3\n2,30,4,4\n3,20,1,5\n',
  );
  await writeFile(test, 'userId,movieId,rating,timestamp\n1,30,4,6\n3,10,5,7\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kiban evaluate table', () => {
  for (const k of [1, 10, 100, 1000, 123456]) {
    it(`separates every header and value column at k = ${k}`, async () => {
      const { code, stdout } = await kiban(
        'evaluate',
        '--train',
        train,
        '--test',
        test,
        '--model',
        'popularity',
        '--k',
        String(k),
      );
      expect(code).toBe(0);
      const [header, row] = stdout.trimEnd().split('\n');
      expect(header.trim().split(/ {2,}/)).toEqual([
        'model',
        `precision@${k}`,
        `recall@${k}`,
        `ndcg@${k}`,
        `map@${k}`,
        'coverage',
        'fit s',
      ]);
      const values = row.trim().split(/ +/);
      expect(values).toHaveLength(7);
      expect(values[0]).toBe('popularity');
      // Each value ends where its header ends (right-aligned under it).
      for (const [i, name] of [
        `precision@${k}`,
        `recall@${k}`,
        `ndcg@${k}`,
        `map@${k}`,
        'coverage',
        'fit s',
      ].entries()) {
        expect(row.length).toBe(header.length);
        const end = header.indexOf(name) + name.length;
        expect(
          row
            .slice(0, end)
            .trimEnd()
            .endsWith(values[i + 1]),
        ).toBe(true);
        expect(row.slice(0, end).endsWith(values[i + 1])).toBe(true);
      }
    });
  }
});

describe('kiban evaluate input messages', () => {
  it('counts a ragged line once with --skip-bad-rows and describes it by its field count', async () => {
    const ragged = join(dir, 'ragged.csv');
    await writeFile(
      ragged,
      'userId,movieId,rating,timestamp\n1,10,5,1\n5,6\n1,20,4,2\n2,10,3,3\n2,30,4,4\n3,20,1,5\n',
    );
    const failed = await kiban(
      'evaluate',
      '--train',
      ragged,
      '--test',
      test,
      '--model',
      'popularity',
    );
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain(
      `${ragged}, line 3: the line has 2 fields where the header has 4 (line text: "5,6")`,
    );
    expect(failed.stderr).not.toMatch(/malformed rows in all/);
    const skipped = await kiban(
      'evaluate',
      '--train',
      ragged,
      '--test',
      test,
      '--model',
      'popularity',
      '--skip-bad-rows',
    );
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toContain(
      `${ragged}: skipped 1 malformed row (first at line 3: the line has 2 fields where the header has 4)`,
    );
  });

  it('says an empty file is empty and a header-only file has no data rows', async () => {
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, '');
    const r1 = await kiban('evaluate', '--train', empty, '--test', test);
    expect(r1.code).toBe(3);
    expect(r1.stderr).toContain(`${empty}: the file is empty (0 bytes)`);
    const header = join(dir, 'header.csv');
    await writeFile(header, 'userId,movieId,rating,timestamp\n');
    const r2 = await kiban('evaluate', '--train', header, '--test', test);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain(`${header}: the file has a header line but no data rows`);
  });
});
