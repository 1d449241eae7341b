import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore, openServingStore } from '../src/app/open-stores.js';
import { readTagExamples } from '../src/models/tags/read-tag-examples.js';
import { Tagger } from '../src/models/tags/tagger.js';
import { publishTagger } from '../src/pipeline/tags/publish-tagger.js';
import { createServingApp } from '../src/serving/create-app.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import type { ServingStore } from '../src/storage/serving-store.js';
import { kiban } from './fixtures/kiban-cli.js';
import { syntheticTagLines } from './fixtures/tags/synthetic.js';

describe('tags: CLI, publication and /v1/tags/suggest', () => {
  let dir: string;
  let serving: ServingStore;
  let metadata: MetadataStore;
  const file = (name: string): string => join(dir, name);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-tags-'));
    await writeFile(file('train.txt'), `${syntheticTagLines(400, 1).join('\n')}\n`);
    await writeFile(file('valid.txt'), `${syntheticTagLines(100, 2).join('\n')}\n`);
    await writeFile(
      file('kiban.yaml'),
      `stores: { serving: "sqlite:${file('serving.db')}", metadata: "sqlite:${file('meta.db')}", artifacts: "${file('models')}" }\n`,
    );
  });
  afterAll(async () => {
    await serving?.close();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('train writes a model whose eval and predict agree with what train measured, and publishes it', async () => {
    const train = await kiban(
      'tags',
      'train',
      '--input',
      file('train.txt'),
      '--valid',
      file('valid.txt'),
      '--output',
      file('a.tagger'),
      '--dim',
      '16',
      '--epoch',
      '10',
      '--lr',
      '0.5',
      '--publish',
      '--config',
      file('kiban.yaml'),
      '--json',
    );
    expect(train.code, train.stderr).toBe(0);
    const result = JSON.parse(train.stdout.trim().split('\n').at(-1)!) as {
      tags: number;
      examples: number;
      valid: { precision: number };
      published: string;
    };
    expect(result).toMatchObject({ tags: 4, examples: 400 });
    expect(result.valid.precision).toBeGreaterThan(0.9);
    expect(result.published).toMatch(/^tagger-/);

    const evaluation = await kiban(
      'tags',
      'eval',
      '--model',
      file('a.tagger'),
      '--input',
      file('valid.txt'),
      '--json',
    );
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const e = JSON.parse(evaluation.stdout) as { examples: number; k: number; precision: number };
    expect(e).toMatchObject({ examples: 100, k: 1 });
    expect(e.precision).toBeCloseTo(result.valid.precision, 4);

    const predict = await kiban(
      'tags',
      'predict',
      '--model',
      file('a.tagger'),
      '--k',
      '2',
      'my mango and peach',
      'the bus in the storm',
    );
    expect(predict.code, predict.stderr).toBe(0);
    const [fruit, two] = predict.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tag: string }[]);
    expect(fruit[0].tag).toBe('fruit');
    expect(two.map((t) => t.tag).sort()).toEqual(['vehicle', 'weather']);
  }, 60_000);

  it('train refuses a bad option naming it, and eval a file that is not a model', async () => {
    const bad = await kiban(
      'tags',
      'train',
      '--input',
      file('train.txt'),
      '--output',
      file('x.tagger'),
      '--lr',
      'fast',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--lr: must be a number, got "fast"');
    const notModel = await kiban(
      'tags',
      'eval',
      '--model',
      file('train.txt'),
      '--input',
      file('valid.txt'),
    );
    expect(notModel.code).not.toBe(0);
    expect(notModel.stderr).toContain('train.txt');
  }, 60_000);

  it('serves the published tagger and swaps in a newer one without a failed request', async () => {
    serving = await openServingStore(`sqlite:${file('serving.db')}`);
    metadata = await openMetadataStore(`sqlite:${file('meta.db')}`);
    const app = createServingApp({ serving, metadata, webRoot: false, tagsPollMs: 50 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    const suggest = (body: unknown) =>
      fetch(`http://127.0.0.1:${address.port}/v1/tags/suggest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const first = await suggest({ text: 'a cherry and a grape', k: 2 });
      expect(first.status).toBe(200);
      const modelA = first.headers.get('x-kiban-model');
      expect(modelA).toMatch(/^tagger-/);
      expect(((await first.json()) as { tag: string }[])[0].tag).toBe('fruit');

      // Bad requests say what is wrong.
      for (const [body, message] of [
        [{ text: '' }, 'body parameter text: must NOT have fewer than 1 characters'],
        [{ text: '?!  …' }, 'body parameter text: has no letters or digits to tag'],
        [
          { text: 'x'.repeat(10_001) },
          'body parameter text: must NOT have more than 10000 characters',
        ],
        [{ text: 'rain', k: 0 }, 'body parameter k: must be >= 1'],
        [{ txt: 'rain' }, 'body parameter text'],
      ] as const) {
        const response = await suggest(body);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { message: string }).message).toContain(message);
      }

      // A second tagger with other tag names is published while requests keep coming.
      const examples = (await readTagExamples(file('train.txt'))).map((e) => ({
        ...e,
        tags: e.tags.map((t) => `${t}-v2`),
      }));
      const b = await Tagger.train(examples, { dim: 16, epoch: 10, lr: 0.5, threads: 1 });
      const statuses = new Map<number, number>();
      const models = new Set<string>();
      let stop = false;
      const load = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const response = await suggest({ text: 'snow and fog and wind' });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          models.add(response.headers.get('x-kiban-model') ?? 'none');
          await response.arrayBuffer();
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const pointer = await publishTagger({
        tagger: b,
        artifacts: file('models'),
        serving,
        metadata,
      });
      const deadline = Date.now() + 10_000;
      while (!models.has(pointer.modelId) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 100));
      stop = true;
      await Promise.all(load);
      expect([...statuses.keys()]).toEqual([200]);
      expect(models).toEqual(new Set([modelA, pointer.modelId]));
      const after = await suggest({ text: 'snow and fog', k: 1 });
      expect(after.headers.get('x-kiban-model')).toBe(pointer.modelId);
      expect(await after.json()).toEqual([{ tag: 'weather-v2', score: expect.any(Number) }]);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('answers 503 before any tagger is published', async () => {
    const empty = await openServingStore('memory:');
    const app = createServingApp({ serving: empty, webRoot: false });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/tags/suggest',
        payload: { text: 'rain' },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'NOT_READY' });
    } finally {
      await app.close();
      await empty.close();
    }
  });
});
