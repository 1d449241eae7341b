/**
 * The end-of-text token appended to every text, as fastText appends `</s>` to every line: its
 * row acts as a learned bias, and it takes part in the last word n-gram. The tokeniser cannot
 * produce it (`<` and `/` are split off as punctuation).
 */
export const END_OF_TEXT = '</s>';

/** 32-bit FNV-1a over the UTF-16 code units of `s`, as an unsigned integer. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What turns tokens into input rows (a subset of the tagger's options). */
export interface FeatureOptions {
  /** Longest word n-gram (1 = words only). */
  wordNgrams: number;
  /** Number of hash buckets shared by word and character n-grams. */
  bucket: number;
  /** Shortest and longest character n-gram; `maxn` 0 turns them off. */
  minn: number;
  maxn: number;
}

/**
 * Maps a tokenised text to input features the way fastText's supervised mode does: the id of
 * each known word (unknown words are dropped), the end-of-text word, then the hash bucket of every
 * word n-gram of length 2…wordNgrams (over all tokens, unknown ones included, and the end-of-text
 * token), then the bucket of every character n-gram of length minn…maxn of each token wrapped in
 * `<` and `>` (single boundary characters excluded).
 */
export class TagFeatures {
  private readonly ids: Map<string, number>;

  /**
   * @param words - the vocabulary in row order; `words[0]` is {@link END_OF_TEXT}.
   * @param options - n-gram settings; buckets are numbered 0…bucket-1.
   */
  constructor(
    readonly words: readonly string[],
    readonly options: Readonly<FeatureOptions>,
  ) {
    this.ids = new Map(words.map((w, i) => [w, i]));
  }

  /** The row of `word`, or -1 when it is not in the vocabulary. */
  wordId(word: string): number {
    return this.ids.get(word) ?? -1;
  }

  /**
   * Appends the word ids of `tokens` (end-of-text included) to `wordIds` and the buckets of their
   * n-grams to `buckets`; `hashes` is scratch space.
   */
  encode(
    tokens: readonly string[],
    wordIds: number[],
    buckets: number[],
    hashes: number[] = [],
  ): void {
    const { wordNgrams, bucket, minn, maxn } = this.options;
    hashes.length = 0;
    for (const token of tokens) {
      const id = this.ids.get(token);
      if (id !== undefined) wordIds.push(id);
      if (wordNgrams > 1) hashes.push(fnv1a(token));
      if (maxn > 0) charNgrams(token, minn, maxn, bucket, buckets);
    }
    wordIds.push(0);
    if (wordNgrams > 1) {
      hashes.push(fnv1a(END_OF_TEXT));
      for (let i = 0; i < hashes.length; i++) {
        let h = hashes[i];
        for (let j = i + 1; j < hashes.length && j < i + wordNgrams; j++) {
          h = (Math.imul(h, 116049371) + hashes[j]) >>> 0;
          buckets.push(h % bucket);
        }
      }
    }
  }
}

/** Pushes the bucket of each character n-gram of `<token>` with minn ≤ length ≤ maxn. */
function charNgrams(
  token: string,
  minn: number,
  maxn: number,
  bucket: number,
  out: number[],
): void {
  const chars = Array.from(`<${token}>`);
  for (let i = 0; i < chars.length; i++) {
    let gram = '';
    for (let n = 1; n <= maxn && i + n <= chars.length; n++) {
      gram += chars[i + n - 1];
      // fastText leaves out the lone boundary markers "<" and ">".
      if (n >= minn && !(n === 1 && (i === 0 || i + n === chars.length)))
        out.push(fnv1a(gram) % bucket);
    }
  }
}
