import { describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError, KibanError } from '../../core/errors.js';
import { loadWasmModule } from '../../core/wasm.js';
import { evaluateTagger } from './evaluate-tagger.js';
import { readTagExamples } from './read-tag-examples.js';
import { buildTagCorpus } from './tag-corpus.js';
import { DEFAULT_TAGGER_OPTIONS, Tagger, type TagExample } from './tagger.js';
import { resolveTaggerOptions } from './tagger-options.js';
import { prepareTagTraining, SlotRunner, trainTagMatrices } from './tagger-training.js';

/** A deterministic generator for fixtures. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

const TOPICS = ['bread', 'fish', 'wine', 'soup', 'cake', 'grill'];
const FILLER = Array.from({ length: 150 }, (_, i) => `w${i}`);

/**
 * Texts of 6–10 filler words (shared by all topics) plus two of the five keywords of each of its
 * tags (`bread0`…`bread4`), shuffled. With `tagsPerText` 2, the tags are two different topics.
 */
function synthetic(n: number, seed: number, tagsPerText = 1): TagExample[] {
  const next = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const out: TagExample[] = [];
  for (let e = 0; e < n; e++) {
    const tags = new Set<string>();
    while (tags.size < tagsPerText) tags.add(pick(TOPICS));
    const words = Array.from({ length: 6 + Math.floor(next() * 5) }, () => pick(FILLER));
    for (const tag of tags)
      words.push(`${tag}${Math.floor(next() * 5)}`, `${tag}${Math.floor(next() * 5)}`);
    words.sort(() => next() - 0.5);
    out.push({ text: words.join(' '), tags: [...tags] });
  }
  return out;
}

const small = { dim: 16, epoch: 10, lr: 0.5, threads: 1 } as const;

describe('Tagger', () => {
  const train = synthetic(600, 1);
  const test = synthetic(200, 2);

  it('has its WebAssembly SIMD kernel built (npm run build:wasm)', () => {
    expect(loadWasmModule('tag-kernel')).not.toBeNull();
  });

  it('recovers the tags planted in synthetic texts', async () => {
    const tagger = await Tagger.train(train, small);
    expect([...tagger.labels].sort()).toEqual([...TOPICS].sort());
    expect(evaluateTagger(tagger, test, { k: 1 }).precision).toBeGreaterThan(0.97);
    const [best] = tagger.predict('w3 w17 FISH2, w99 fish4!');
    expect(best.tag).toBe('fish');
    expect(best.score).toBeGreaterThan(0.5);
  });

  it('returns at most k tags, best first, with softmax scores that sum to 1', async () => {
    const tagger = await Tagger.train(train, small);
    const all = tagger.predict('w1 wine3 soup1', { k: 100 });
    expect(all).toHaveLength(TOPICS.length);
    expect(all.reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 5);
    for (let i = 1; i < all.length; i++) expect(all[i].score).toBeLessThanOrEqual(all[i - 1].score);
    expect(new Set(all.slice(0, 2).map((p) => p.tag))).toEqual(new Set(['wine', 'soup']));
    expect(tagger.predict('w1 wine3 soup1', { k: 3, threshold: 0.2 }).length).toBeLessThanOrEqual(
      2,
    );
    expect(tagger.predict('').length).toBe(1); // no words: the end-of-text row (a bias) still answers
  });

  it('learns several tags per text with one-vs-all, a threshold choosing how many', async () => {
    const tagger = await Tagger.train(synthetic(1500, 3, 2), { ...small, loss: 'ova' });
    const r = evaluateTagger(tagger, synthetic(200, 4, 2), { k: 5, threshold: 0.5 });
    expect(r.precision).toBeGreaterThan(0.95);
    expect(r.recall).toBeGreaterThan(0.95);
    const both = tagger.predict('w5 cake1 w8 grill3 w40', { k: 5, threshold: 0.5 });
    expect(both.map((p) => p.tag).sort()).toEqual(['cake', 'grill']);
    // Scores are independent sigmoids: they need not sum to 1.
    expect(both[0].score + both[1].score).toBeGreaterThan(1.2);
  });

  it('round-trips through bytes with identical predictions, also with n-grams and quantised', async () => {
    const tagger = await Tagger.train(train, {
      ...small,
      wordNgrams: 2,
      minn: 2,
      maxn: 4,
      bucket: 10_000,
    });
    // Read from an unaligned offset in a bigger buffer, as a Node.js Buffer from a file may be.
    const copy = Tagger.fromBytes(
      new Uint8Array(Buffer.concat([Buffer.alloc(3), tagger.toBytes()])).subarray(3),
    );
    expect(copy.options).toEqual(tagger.options);
    expect(copy.labels).toEqual(tagger.labels);
    for (const e of test.slice(0, 50))
      expect(copy.predict(e.text, { k: 3 })).toEqual(tagger.predict(e.text, { k: 3 }));
    // Buckets unseen in training still count in the mean, in both.
    expect(copy.predict('never seen bigrams here', { k: 2 })).toEqual(
      tagger.predict('never seen bigrams here', { k: 2 }),
    );

    const bytes = tagger.toBytes({ quantise: true });
    expect(bytes.length).toBeLessThan(tagger.toBytes().length * 0.4);
    const q = Tagger.fromBytes(bytes);
    let same = 0;
    for (const e of test) {
      const [a] = tagger.predict(e.text);
      const [b] = q.predict(e.text);
      if (a.tag === b.tag) same++;
      expect(Math.abs(a.score - b.score)).toBeLessThan(0.05);
    }
    expect(same).toBeGreaterThanOrEqual(test.length - 2);
    expect(Tagger.fromBytes(q.toBytes()).predict(test[0].text)).toEqual(q.predict(test[0].text));
  });

  it('refuses truncated, padded and foreign bytes with a DataError', async () => {
    const bytes = (await Tagger.train(train.slice(0, 50), small)).toBytes();
    expect(() => Tagger.fromBytes(bytes.subarray(0, bytes.length - 4), 'model.bin')).toThrow(
      /model\.bin: truncated/,
    );
    expect(() => Tagger.fromBytes(bytes.subarray(0, 30))).toThrow(DataError);
    const padded = new Uint8Array(bytes.length + 4);
    padded.set(bytes);
    expect(() => Tagger.fromBytes(padded)).toThrow(/trailing bytes/);
    expect(() =>
      Tagger.fromBytes(new TextEncoder().encode('__label__a some fastText text')),
    ).toThrow(/not a kiban tagger/);
    const future = bytes.slice();
    future[8] = 99;
    expect(() => Tagger.fromBytes(future)).toThrow(/format version 99 is not supported/);
  });

  it('trains as well on two threads as on one (cooking questions, held-out P@1)', async () => {
    const all = await readTagExamples('datasets/cooking-stackexchange/cooking.stackexchange.txt');
    const [cookingTrain, valid] = [all.slice(0, 12404), all.slice(12404)];
    const options = { dim: 32, lr: 0.5, epoch: 5 };
    const one = evaluateTagger(
      await Tagger.train(cookingTrain, { ...options, threads: 1 }),
      valid,
    ).precision;
    const two = evaluateTagger(
      await Tagger.train(cookingTrain, { ...options, threads: 2 }),
      valid,
    ).precision;
    // Seeds move P@1 by about ±0.007 here; fastText's defaults reach 0.13–0.17 on this split.
    expect(one).toBeGreaterThan(0.5);
    expect(Math.abs(two - one)).toBeLessThan(0.025);
  });

  it.each(['softmax', 'ova'] as const)(
    'gets the same model from the SIMD kernel as from the JavaScript kernel (%s)',
    async (loss) => {
      // 6 labels: the SIMD kernel's groups of four and its scalar tail both run.
      const opts = resolveTaggerOptions({ ...small, epoch: 2, wordNgrams: 2, bucket: 1000, loss });
      const corpus = buildTagCorpus(synthetic(600, 1, loss === 'ova' ? 2 : 1), opts);
      const wasm = await trainTagMatrices(corpus, { ...opts, kernel: 'wasm' });
      const js = await trainTagMatrices(corpus, { ...opts, kernel: 'js' });
      expect([wasm.kernel, js.kernel]).toEqual(['wasm', 'js']);
      const scale = js.output.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      const maxDiff = (a: Float32Array, b: Float32Array): number =>
        a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
      expect(maxDiff(wasm.output, js.output)).toBeLessThan(1e-4 * scale);
      expect(maxDiff(wasm.input, js.input)).toBeLessThan(1e-4 * scale);
      expect(wasm.loss).toBeCloseTo(js.loss, 4);
    },
  );

  it('starts a thread that joins late from the model trained so far, not from zero', () => {
    const opts = resolveTaggerOptions({ ...small, threads: 2 });
    const { buffer, layout, kernel } = prepareTagTraining(buildTagCorpus(train, opts), opts);
    new SlotRunner(kernel, buffer, layout, 0).step(3); // thread 0 alone: 3 chunks of examples
    const shared = new Float32Array(buffer, layout.output, layout.labels * layout.dim);
    expect(shared.some((x) => x !== 0)).toBe(true);
    new SlotRunner(kernel, buffer, layout, 1);
    const copyOf1 = new Float32Array(
      buffer,
      layout.localOutput + layout.outputBytes,
      layout.labels * layout.dim,
    );
    expect(copyOf1).toEqual(shared);
  });

  it('is reproducible from its seed on one thread', async () => {
    const a = await Tagger.train(train.slice(0, 200), { ...small, seed: 7 });
    const b = await Tagger.train(train.slice(0, 200), { ...small, seed: 7 });
    expect(b.toBytes()).toEqual(a.toBytes());
  });

  it('tags Japanese text', async () => {
    const fixture: TagExample[] = [
      { text: '寿司のシャリの作り方', tags: ['sushi'] },
      { text: '寿司に合う魚は何ですか', tags: ['sushi'] },
      { text: '手巻き寿司のネタ', tags: ['sushi'] },
      { text: '天ぷらの衣がべちゃべちゃになる', tags: ['tempura'] },
      { text: '天ぷらを揚げる油の温度', tags: ['tempura'] },
      { text: '野菜の天ぷらをサクサクにするには', tags: ['tempura'] },
      { text: 'ラーメンのスープの取り方', tags: ['ramen'] },
      { text: '豚骨ラーメンの麺の茹で時間', tags: ['ramen'] },
      { text: '味噌ラーメンに合う具材', tags: ['ramen'] },
    ];
    const tagger = await Tagger.train(fixture, { dim: 16, epoch: 50, lr: 0.5, threads: 1 });
    expect(tagger.predict('エビの天ぷらのコツ')[0].tag).toBe('tempura');
    expect(tagger.predict('回転寿司のおすすめ')[0].tag).toBe('sushi');
    expect(tagger.predict('醤油ラーメンの作り方')[0].tag).toBe('ramen');
  });

  it('reports progress to the end and can be aborted on any thread count', async () => {
    const seen: number[] = [];
    await Tagger.train(train, small, { onProgress: (fraction, loss) => seen.push(fraction, loss) });
    expect(seen.at(-2)).toBe(1);
    expect(seen.at(-1)).toBeGreaterThan(0);

    const stopped = new AbortController();
    stopped.abort(new Error('not wanted'));
    await expect(Tagger.train(train, small, { signal: stopped.signal })).rejects.toThrow(
      KibanError,
    );

    const all = await readTagExamples('datasets/cooking-stackexchange/cooking.stackexchange.txt');
    const midway = new AbortController();
    let reached = 0;
    const run = Tagger.train(
      all,
      { dim: 32, epoch: 200, threads: 2 },
      {
        signal: midway.signal,
        onProgress: (f) => {
          reached = f;
          if (f > 0) midway.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(/training aborted/);
    // Stopped soon after the abort, not at the end of the 200 epochs (about a minute).
    expect(reached).toBeLessThan(0.25);
  });

  it('validates its options and examples, naming the culprit', async () => {
    expect(DEFAULT_TAGGER_OPTIONS).toEqual({
      dim: 100,
      epoch: 5,
      lr: 0.1,
      wordNgrams: 1,
      minCount: 1,
      bucket: 2_000_000,
      minn: 0,
      maxn: 0,
      loss: 'softmax',
      threads: 2,
      seed: 1,
    });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ dim: 0 }, /^dim: must be a positive integer/],
      [{ dim: 2.5 }, /^dim: must be a positive integer/],
      [{ epoch: -1 }, /^epoch: must be a positive integer/],
      [{ lr: 0 }, /^lr: must be a positive number/],
      [{ lr: Number.NaN }, /^lr: must be a positive number/],
      [{ loss: 'hs' }, /^loss: must be "softmax" or "ova"/],
      [{ minn: 5, maxn: 3 }, /^minn: must be between 1 and maxn/],
      [{ wordNgrams: 2, bucket: 0 }, /^bucket: must be positive when wordNgrams > 1/],
      [{ threads: 0 }, /^threads: must be a positive integer/],
      [{ dims: 10 }, /^dims: is not a tagger option/],
    ];
    for (const [options, message] of bad) {
      await expect(Tagger.train(train, options as never)).rejects.toThrow(message);
    }
    await expect(Tagger.train([{ text: 'a', tags: [] }], small)).rejects.toThrow(
      /^examples: no example has a tag/,
    );
    await expect(Tagger.train([{ text: 'a', tags: [''] }], small)).rejects.toThrow(
      /^examples\[0\]\.tags\[0\]: must be a non-empty string/,
    );
    await expect(Tagger.train([{ text: 3, tags: ['a'] }] as never, small)).rejects.toThrow(
      InvalidArgumentError,
    );
    const tagger = await Tagger.train(train.slice(0, 50), small);
    expect(() => tagger.predict('x', { k: 0 })).toThrow(/^k: must be a positive integer/);
    expect(() => tagger.predict('x', { threshold: 2 })).toThrow(
      /^threshold: must be a number from 0 to 1/,
    );
    expect(() => tagger.predict(undefined as never)).toThrow(/^text: must be a string/);
  });
});
