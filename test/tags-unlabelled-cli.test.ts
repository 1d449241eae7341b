import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiban } from './fixtures/kiban-cli.js';

let dir: string;
let train: string;
let model: string;
let unlabelled: string;
let unknownTags: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-tags-unlabelled-'));
  train = join(dir, 'train.txt');
  model = join(dir, 'm.tagger');
  unlabelled = join(dir, 'unlabelled.txt');
  unknownTags = join(dir, 'unknown-tags.txt');
  const lines: string[] = [];
  for (let k = 0; k < 40; k++)
    lines.push(
      k % 2 === 0
        ? `__label__baking how long to bake bread ${k}`
        : `__label__grilling how hot to grill steak ${k}`,
    );
  await writeFile(train, `${lines.join('\n')}\n`);
  await writeFile(unlabelled, 'how long to bake bread\nhow hot to grill a steak\n');
  await writeFile(unknownTags, '__label__sushi how to roll rice\n');
  const trained = await kiban(
    'tags',
    'train',
    '--input',
    train,
    '--output',
    model,
    '--epoch',
    '2',
    '--threads',
    '1',
  );
  expect(trained.stderr).not.toMatch(/error/);
  expect(trained.code).toBe(0);
}, 120_000);
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('evaluating a tagger on examples without usable tags', () => {
  it('kiban tags eval refuses unlabelled input naming the file, instead of printing P@1 NaN', async () => {
    const { code, stdout, stderr } = await kiban(
      'tags',
      'eval',
      '--model',
      model,
      '--input',
      unlabelled,
    );
    expect(code).toBe(3);
    expect(stdout).not.toMatch(/NaN/);
    expect(stderr).toBe(
      `kiban: error: ${unlabelled}: none of its 2 examples has a tag (__label__tag or "tags"), so precision and recall cannot be measured\n`,
    );
  });

  it('kiban tags eval says so when no tag of the input is one the model knows', async () => {
    const { code, stderr } = await kiban('tags', 'eval', '--model', model, '--input', unknownTags);
    expect(code).toBe(3);
    expect(stderr).toMatch(
      /unknown-tags\.txt: none of the tags of its 1 examples is one the model was trained on \(e\.g\. "sushi"\)/,
    );
  });

  it('kiban tags train --valid refuses unlabelled validation examples the same way', async () => {
    const { code, stderr } = await kiban(
      'tags',
      'train',
      '--input',
      train,
      '--output',
      join(dir, 'n.tagger'),
      '--epoch',
      '1',
      '--threads',
      '1',
      '--valid',
      unlabelled,
    );
    expect(code).toBe(3);
    expect(stderr).toMatch(/unlabelled\.txt: none of its 2 examples has a tag/);
  });
});
