import { describe, expect, it } from 'vitest';
import { evaluateTagger, type TagPredictor } from './evaluate-tagger.js';
import type { TagSuggestion } from './tagger.js';

/** A tagger with fixed answers per text, best first. */
function fixed(labels: string[], answers: Record<string, TagSuggestion[]>): TagPredictor {
  return {
    labels,
    predict: (text, { k = 1, threshold = 0 } = {}) =>
      answers[text].filter((s) => s.score >= threshold).slice(0, k),
  };
}

describe('evaluateTagger', () => {
  const tagger = fixed(['a', 'b', 'c', 'd'], {
    one: [
      { tag: 'a', score: 0.6 },
      { tag: 'b', score: 0.3 },
      { tag: 'c', score: 0.1 },
    ],
    two: [
      { tag: 'c', score: 0.5 },
      { tag: 'a', score: 0.4 },
      { tag: 'd', score: 0.1 },
    ],
    three: [
      { tag: 'd', score: 0.9 },
      { tag: 'a', score: 0.05 },
      { tag: 'b', score: 0.05 },
    ],
  });
  const examples = [
    { text: 'one', tags: ['a', 'c'] },
    { text: 'two', tags: ['a', 'a', 'unseen'] }, // repeats count once; unseen tags are ignored
    { text: 'three', tags: ['b'] },
    { text: 'four', tags: ['never-trained'] }, // no known tag: skipped, as fastText does
  ];

  it('computes P@k and R@k as fastText test does', () => {
    // k 1: predictions a, c, d; correct: a → P 1/3, R 1/4 (gold: a, c | a | b).
    expect(evaluateTagger(tagger, examples, { k: 1 })).toEqual({
      examples: 3,
      k: 1,
      threshold: 0,
      precision: 1 / 3,
      recall: 1 / 4,
    });
    // k 2: correct a | a → P 2/6, R 2/4.
    const at2 = evaluateTagger(tagger, examples, { k: 2 });
    expect(at2.precision).toBeCloseTo(2 / 6, 12);
    expect(at2.recall).toBeCloseTo(2 / 4, 12);
  });

  it('counts only the predictions that pass the threshold', () => {
    // k 3, threshold 0.3: a, b | c, a | d → 5 predictions, correct a | a → P 2/5, R 2/4.
    const r = evaluateTagger(tagger, examples, { k: 3, threshold: 0.3 });
    expect(r.precision).toBeCloseTo(2 / 5, 12);
    expect(r.recall).toBeCloseTo(2 / 4, 12);
    expect(evaluateTagger(tagger, examples, { k: 3, threshold: 0.95 }).precision).toBeNaN();
  });
});
