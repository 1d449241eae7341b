import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import { readTagExamples } from './read-tag-examples.js';

describe('readTagExamples', () => {
  let dir: string;
  const file = async (name: string, content: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-tags-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the fastText format, with labels anywhere among the tokens', async () => {
    const path = await file(
      'train.txt',
      '__label__sauce __label__cheese How much  starch?\r\n\n__label__tea Boil tea __label__water\nno labels here\n',
    );
    expect(await readTagExamples(path)).toEqual([
      { text: 'How much starch?', tags: ['sauce', 'cheese'] },
      { text: 'Boil tea', tags: ['tea', 'water'] },
      { text: 'no labels here', tags: [] },
    ]);
  });

  it('reads the bundled cooking data set (15,404 questions, each tagged)', async () => {
    const examples = await readTagExamples(
      'datasets/cooking-stackexchange/cooking.stackexchange.txt',
    );
    expect(examples).toHaveLength(15404);
    expect(examples[0]).toEqual({
      text: 'How much does potato starch affect a cheese sauce recipe?',
      tags: ['sauce', 'cheese'],
    });
    expect(examples.every((e) => e.tags.length > 0)).toBe(true);
  });

  it('reads JSON lines by extension or content, and a JSON array', async () => {
    const lines = '{"text":"Boil tea","tags":["tea"]}\n\n{"text":"Untagged"}\n';
    const expected = [
      { text: 'Boil tea', tags: ['tea'] },
      { text: 'Untagged', tags: [] },
    ];
    expect(await readTagExamples(await file('a.jsonl', lines))).toEqual(expected);
    expect(await readTagExamples(await file('a.data', lines))).toEqual(expected);
    expect(
      await readTagExamples(
        await file('b.json', JSON.stringify([{ text: 'Boil tea', tags: ['tea'] }])),
      ),
    ).toEqual([expected[0]]);
  });

  it('names the file and line of a malformed line', async () => {
    const bad = await file('bad.jsonl', '{"text":"ok","tags":[]}\n{"text":"x","tags":"tea"}\n');
    await expect(readTagExamples(bad)).rejects.toThrow(
      new RegExp(`${bad}, line 2, column "tags": must be an array of non-empty strings`),
    );
    const noText = await file('no-text.jsonl', '{"tags":["a"]}\n');
    await expect(readTagExamples(noText)).rejects.toThrow(
      /line 1, column "text": must be a string/,
    );
    const broken = await file('broken.jsonl', '{"text":"ok"}\n{oops\n');
    await expect(readTagExamples(broken)).rejects.toThrow(/line 2: not valid JSON/);
    const empty = await file('empty-label.txt', 'fine __label__a\n__label__ text\n');
    const error = await readTagExamples(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).location).toEqual({ file: empty, line: 2 });
  });

  it('says when the file is missing or the format unknown', async () => {
    await expect(readTagExamples(join(dir, 'nope.txt'))).rejects.toThrow(
      /nope\.txt: file not found/,
    );
    await expect(
      readTagExamples(join(dir, 'nope.txt'), { format: 'csv' as never }),
    ).rejects.toThrow(InvalidArgumentError);
  });
});
