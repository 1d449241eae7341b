import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { readTagExamples } from '../models/tags/read-tag-examples.js';
import { TagFeatures } from '../models/tags/tag-features.js';
import { Tagger, type TagExample } from '../models/tags/tagger.js';
import { decodeTagger, type TaggerParts } from '../models/tags/tagger-format.js';
import { tokenize } from '../models/tags/tokenize.js';
import { readTextEmbedder, TextEmbedder } from './text-embeddings.js';

const COOKING = 'datasets/cooking-stackexchange/cooking.stackexchange.txt';

/** The tagger's input row of `row`, read straight from its decoded parts. */
function rowOf(parts: TaggerParts, row: number): Float64Array {
  const dim = parts.options.dim;
  const out = new Float64Array(dim);
  for (let a = 0; a < dim; a++)
    out[a] =
      parts.input === null
        ? parts.quantised!.codes[row * dim + a] * parts.quantised!.scales[row]
        : parts.input[row * dim + a];
  return out;
}

/**
 * The unnormalised mean input row of `text`, computed from the decoded model without the
 * embedder: word rows by a plain search of the vocabulary, n-gram rows through a Map from bucket
 * to row, the divisor every feature (row-less n-grams included), as the tagger's forward pass.
 */
function independentMean(parts: TaggerParts, text: string): Float64Array {
  const features = new TagFeatures(parts.words, parts.options);
  const wordIds: number[] = [];
  const buckets: number[] = [];
  features.encode(tokenize(text), wordIds, buckets);
  const rowOfBucket = new Map<number, number>();
  parts.bucketOfRow.forEach((b, r) => rowOfBucket.set(b, parts.words.length + r));
  const mean = new Float64Array(parts.options.dim);
  const rows = [
    ...wordIds,
    ...buckets.map((b) => rowOfBucket.get(b)).filter((r) => r !== undefined),
  ];
  for (const r of rows) {
    const row = rowOf(parts, r);
    for (let a = 0; a < mean.length; a++) mean[a] += row[a];
  }
  for (let a = 0; a < mean.length; a++) mean[a] /= wordIds.length + buckets.length;
  return mean;
}

function cosine(x: Float32Array, y: Float32Array): number {
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    dot += x[i] * y[i];
    nx += x[i] * x[i];
    ny += y[i] * y[i];
  }
  return dot / Math.sqrt(nx * ny);
}

describe('TextEmbedder on a tagger trained on the cooking questions', () => {
  let examples: TagExample[];
  let tagger: Tagger;
  let parts: TaggerParts;
  let embedder: TextEmbedder;
  let dir: string;

  beforeAll(async () => {
    examples = await readTagExamples(COOKING);
    // The first 12,404 questions train (the split the tagger tests use), the rest are held out.
    tagger = await Tagger.train(examples.slice(0, 12404), {
      dim: 32,
      lr: 0.5,
      epoch: 5,
      wordNgrams: 2,
      minn: 3,
      maxn: 5,
      bucket: 200_000,
      threads: 2,
    });
    parts = decodeTagger(tagger.toBytes());
    embedder = TextEmbedder.fromTagger(tagger);
    dir = await mkdtemp(join(tmpdir(), 'kiban-text-embed-'));
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the normalised mean of the rows the tagger itself uses for the text', () => {
    const texts = [
      'How do I keep sourdough bread from going stale?',
      'cast iron: rust on the skillet after washing',
      'zzqx unknown-wordz', // no known word: character n-grams only
      '',
    ];
    const out = new Float32Array(embedder.dim);
    const scores = new Float32Array(tagger.labels.length);
    for (const text of texts) {
      embedder.embedInto(text, out);
      const mean = independentMean(parts, text);
      const norm = Math.hypot(...mean);
      expect(norm).toBeGreaterThan(0);
      for (let a = 0; a < out.length; a++) expect(out[a]).toBeCloseTo(mean[a] / norm, 5);
      // The tagger scores exactly this mean: softmax(output · mean) is its answer.
      tagger.scoreText(text, scores);
      const logits = tagger.labels.map((_, j) => {
        let s = 0;
        for (let a = 0; a < mean.length; a++) s += parts.output[j * mean.length + a] * mean[a];
        return s;
      });
      const max = Math.max(...logits);
      const total = logits.reduce((s, l) => s + Math.exp(l - max), 0);
      for (let j = 0; j < logits.length; j += 97)
        expect(scores[j]).toBeCloseTo(Math.exp(logits[j] - max) / total, 5);
    }
  });

  it('puts texts that share words nearer than unrelated ones', () => {
    const bread = embedder.embed('How do I get my sourdough bread to rise?');
    const moreBread = embedder.embed('Why did my bread not rise in the oven?');
    const eggs = embedder.embed('How long should I boil an egg?');
    const knives = embedder.embed('Sharpening a chef knife with a whetstone');
    expect(cosine(bread, moreBread)).toBeGreaterThan(cosine(bread, eggs) + 0.1);
    expect(cosine(bread, moreBread)).toBeGreaterThan(cosine(bread, knives) + 0.1);
    expect(Math.hypot(...bread)).toBeCloseTo(1, 5);
  });

  it('finds held-out questions sharing a tag as nearest neighbours far more often than chance', () => {
    const held = examples.slice(12404);
    const { vectors, featureless } = embedder.embedMany(held.map((e) => e.text));
    const dim = embedder.dim;
    const n = held.length;
    const tagSets = held.map((e) => new Set(e.tags));
    const shares = (i: number, j: number) => held[j].tags.some((t) => tagSets[i].has(t));
    let nearestShares = 0;
    let randomShares = 0;
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        let s = 0;
        for (let a = 0; a < dim; a++) s += vectors[i * dim + a] * vectors[j * dim + a];
        if (s > bestScore) {
          bestScore = s;
          best = j;
        }
      }
      if (shares(i, best)) nearestShares++;
      if (shares(i, (i * 7919 + 13) % n === i ? (i + 1) % n : (i * 7919 + 13) % n)) randomShares++;
    }
    const nearest = nearestShares / n;
    const chance = randomShares / n;
    console.log(
      `held-out nearest neighbour shares a tag: ${nearest.toFixed(3)} (a fixed random other question: ${chance.toFixed(3)}); featureless ${featureless.reduce((s, x) => s + x, 0)}`,
    );
    expect(nearest).toBeGreaterThan(4 * chance);
    expect(nearest).toBeGreaterThan(0.25);
  });

  it('embeds a quantised model from its int8 rows, close to the float model', () => {
    const quantised = TextEmbedder.fromTaggerBytes(tagger.toBytes({ quantise: true }));
    const qParts = decodeTagger(tagger.toBytes({ quantise: true }));
    const text = 'Substitute for buttermilk in pancakes';
    const v = quantised.embed(text);
    const mean = independentMean(qParts, text);
    const norm = Math.hypot(...mean);
    for (let a = 0; a < v.length; a++) expect(v[a]).toBeCloseTo(mean[a] / norm, 5);
    expect(cosine(v, embedder.embed(text))).toBeGreaterThan(0.99);
  });

  it('marks texts whose words and n-grams have no learned row', () => {
    const words = TextEmbedder.fromTagger(tagger);
    const { vectors, featureless } = words.embedMany(['', 'bread', '!!! ???']);
    expect([...featureless]).toEqual([1, 0, 1]);
    // Featureless texts are the end-of-text row alone, so they coincide.
    expect([...vectors.subarray(0, 32)]).toEqual([...vectors.subarray(64, 96)]);
  });

  it('reads a tagger file and refuses other files, naming them', async () => {
    const path = join(dir, 'tagger.bin');
    await writeFile(path, tagger.toBytes());
    const fromFile = await readTextEmbedder(path);
    expect([...fromFile.embed('poached eggs')]).toEqual([...embedder.embed('poached eggs')]);
    await expect(readTextEmbedder(join(dir, 'missing.bin'))).rejects.toThrow(NotFoundError);
    const bogus = join(dir, 'bogus.bin');
    await writeFile(bogus, 'not a tagger at all');
    await expect(readTextEmbedder(bogus)).rejects.toThrow(DataError);
    await expect(readTextEmbedder(bogus)).rejects.toThrow(/bogus\.bin/);
    expect(() => embedder.embedInto('x', new Float32Array(4))).toThrow(InvalidArgumentError);
    expect(() => embedder.embedMany(['a', 3 as unknown as string])).toThrow(/texts\[1\]/);
  });
});
