import { InvalidArgumentError } from '../../core/errors.js';

/** Settings of a {@link Tagger}; the names and meanings are fastText's supervised options. */
export interface TaggerOptions {
  /** Width of the word and label embeddings. @defaultValue 100 */
  dim: number;
  /** Passes over the training examples. @defaultValue 5 */
  epoch: number;
  /** Initial learning rate, decayed linearly to 0 over the run. @defaultValue 0.1 */
  lr: number;
  /** Longest word n-gram used as a feature (1 = words only). @defaultValue 1 */
  wordNgrams: number;
  /** Words seen fewer times in training are dropped. @defaultValue 1 */
  minCount: number;
  /** Hash buckets shared by word and character n-grams. @defaultValue 2000000 */
  bucket: number;
  /** Shortest character n-gram. @defaultValue 0 */
  minn: number;
  /** Longest character n-gram; 0 turns character n-grams off. @defaultValue 0 */
  maxn: number;
  /**
   * `softmax`: one distribution over all tags (an example with several tags trains on one of them,
   * picked at random per visit); `ova`: one independent binary logistic per tag (multi-label).
   * @defaultValue 'softmax'
   */
  loss: 'softmax' | 'ova';
  /** Training threads, sharing the model without locks. @defaultValue 2 */
  threads: number;
  /** Seeds the initial weights and the choice of target tags. @defaultValue 1 */
  seed: number;
}

/** fastText's supervised defaults, with 2 threads instead of 12. */
export const DEFAULT_TAGGER_OPTIONS: Readonly<TaggerOptions> = Object.freeze({
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

const INT32_MAX = 2 ** 31 - 1;

/**
 * Fills in defaults and checks every option, returning a frozen copy.
 *
 * @throws InvalidArgumentError naming the first option that is unknown or out of range.
 */
export function resolveTaggerOptions(
  options: Partial<TaggerOptions> = {},
): Readonly<TaggerOptions> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options', 'must be an object');
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULT_TAGGER_OPTIONS))
      throw new InvalidArgumentError(
        key,
        `is not a tagger option (known: ${Object.keys(DEFAULT_TAGGER_OPTIONS).join(', ')})`,
      );
  }
  const o: TaggerOptions = { ...DEFAULT_TAGGER_OPTIONS };
  for (const [key, value] of Object.entries(options))
    if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  integer('dim', o.dim, 1, 65536);
  integer('epoch', o.epoch, 1, INT32_MAX);
  if (typeof o.lr !== 'number' || !Number.isFinite(o.lr) || o.lr <= 0)
    throw new InvalidArgumentError('lr', `must be a positive number, got ${String(o.lr)}`);
  integer('wordNgrams', o.wordNgrams, 1, 64);
  integer('minCount', o.minCount, 1, INT32_MAX);
  integer('bucket', o.bucket, 0, INT32_MAX);
  integer('minn', o.minn, 0, 64);
  integer('maxn', o.maxn, 0, 64);
  if (o.maxn > 0 && (o.minn < 1 || o.minn > o.maxn))
    throw new InvalidArgumentError(
      'minn',
      `must be between 1 and maxn (${o.maxn}) when maxn > 0, got ${o.minn}`,
    );
  if (o.bucket === 0 && (o.wordNgrams > 1 || o.maxn > 0))
    throw new InvalidArgumentError('bucket', 'must be positive when wordNgrams > 1 or maxn > 0');
  if (o.loss !== 'softmax' && o.loss !== 'ova')
    throw new InvalidArgumentError(
      'loss',
      `must be "softmax" or "ova", got ${JSON.stringify(o.loss)}`,
    );
  integer('threads', o.threads, 1, 256);
  integer('seed', o.seed, -(2 ** 31), 2 ** 32 - 1);
  return Object.freeze(o);
}

function integer(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const what =
      min === 1 && max >= INT32_MAX
        ? 'a positive integer'
        : min === 0
          ? `an integer from 0 to ${max}`
          : min === 1
            ? `a positive integer up to ${max}`
            : `an integer from ${min} to ${max}`;
    throw new InvalidArgumentError(
      field,
      `must be ${what}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
}
