/**
 * Item vectors from item text, with no outside model: the mean of the input rows a trained
 * tagger (src/models/tags/) selects for the text (its known words, the end-of-text word, and the
 * hash buckets of its word and character n-grams, exactly the features the tagger scores), scaled
 * to unit length. Texts that share words, or words the tagger learned to treat alike, come out
 * near each other under cosine or inner product.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { BucketTable } from '../models/tags/bucket-table.js';
import { TagFeatures } from '../models/tags/tag-features.js';
import type { Tagger } from '../models/tags/tagger.js';
import { decodeTagger, type QuantisedRows } from '../models/tags/tagger-format.js';
import { resolveTaggerOptions } from '../models/tags/tagger-options.js';
import { tokenize } from '../models/tags/tokenize.js';

/** Options of {@link TextEmbedder.embedMany}. */
export interface EmbedManyOptions {
  /** Called with the number of texts embedded so far, about every 1,000 texts and at the end. */
  onProgress?: (done: number) => void;
  /** Checked between texts; an aborted signal stops the run with its reason. */
  signal?: AbortSignal;
}

/** What {@link TextEmbedder.embedMany} returns. */
export interface EmbeddedTexts {
  /** `texts.length × dim`, row-major; each row has length 1 (or is all zeros, see `featureless`). */
  vectors: Float32Array;
  /**
   * Per text, 1 when none of its words or n-grams has a learned row, so that its vector is the
   * end-of-text row alone, the same for every such text; 0 otherwise.
   */
  featureless: Uint8Array;
}

/**
 * Embeds texts with a tagger's learned input vectors. Built from a tagger's bytes (the file
 * `kiban tags train` writes, or {@link Tagger.toBytes}); keeps only the input rows, so a
 * quantised model embeds from its int8 rows as it predicts from them.
 *
 * Not safe to share between concurrent callers on worker threads (it reuses scratch arrays), but
 * every call is synchronous, so one instance serves a whole event loop.
 *
 * @example
 * ```ts
 * const embedder = await readTextEmbedder('.kiban/models/tagger.bin');
 * const v = embedder.embed('How long should I rest a steak?'); // Float32Array(dim), |v| = 1
 * ```
 */
export class TextEmbedder {
  /** Components per vector: the tagger's `dim`. */
  readonly dim: number;
  private readonly features: TagFeatures;
  private readonly rowOfBucket: BucketTable;
  private readonly sum: Float64Array;
  private readonly wordIds: number[] = [];
  private readonly buckets: number[] = [];
  private readonly hashes: number[] = [];

  private constructor(
    features: TagFeatures,
    bucketOfRow: Int32Array,
    private readonly input: Float32Array | null,
    private readonly quantised: QuantisedRows | null,
    dim: number,
  ) {
    this.dim = dim;
    this.features = features;
    this.rowOfBucket = new BucketTable(bucketOfRow.length);
    const first = features.words.length;
    for (let r = 0; r < bucketOfRow.length; r++) this.rowOfBucket.set(bucketOfRow[r], first + r);
    this.sum = new Float64Array(dim);
  }

  /**
   * An embedder over the input rows of a saved tagger.
   *
   * @param source - names the bytes in errors, e.g. the file path. @defaultValue 'tagger'
   * @throws DataError naming `source` when the bytes are not a kiban tagger model.
   */
  static fromTaggerBytes(bytes: Uint8Array, source = 'tagger'): TextEmbedder {
    const parts = decodeTagger(bytes, source);
    let options: ReturnType<typeof resolveTaggerOptions>;
    try {
      options = resolveTaggerOptions(parts.options);
    } catch (cause) {
      throw new DataError(
        { file: source },
        `invalid options in the header: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (parts.words[0] !== '</s>')
      throw new DataError({ file: source }, 'the header lacks the end-of-text word');
    return new TextEmbedder(
      new TagFeatures(parts.words, options),
      parts.bucketOfRow,
      parts.input,
      parts.quantised,
      options.dim,
    );
  }

  /** An embedder over a trained tagger's input rows (a copy: the tagger may be dropped). */
  static fromTagger(tagger: Tagger): TextEmbedder {
    return TextEmbedder.fromTaggerBytes(tagger.toBytes());
  }

  /**
   * Writes the unit-length embedding of `text` into `out[offset … offset + dim)`: the mean of the
   * tagger's input rows for the text's features (n-grams that training never saw count as zero
   * rows, as in the tagger), divided by its L2 norm; all zeros when that mean is zero.
   * Allocates nothing but the tokens.
   *
   * @returns the number of the text's features that have a learned row, the end-of-text word not
   *   counted (0: the vector is the end-of-text row alone).
   * @throws InvalidArgumentError naming `text` when it is not a string, or `out` when it has no
   *   room at `offset`.
   */
  embedInto(text: string, out: Float32Array, offset = 0): number {
    if (typeof text !== 'string') throw new InvalidArgumentError('text', 'must be a string');
    const { dim, sum, wordIds, buckets } = this;
    if (!Number.isInteger(offset) || offset < 0 || offset + dim > out.length)
      throw new InvalidArgumentError(
        'out',
        `has ${out.length} elements; ${dim} are written at offset ${offset}`,
      );
    wordIds.length = 0;
    buckets.length = 0;
    this.features.encode(tokenize(text), wordIds, buckets, this.hashes);
    sum.fill(0);
    let found = 0;
    for (let i = 0; i < wordIds.length; i++) {
      this.addRow(wordIds[i]);
      if (wordIds[i] !== 0) found++;
    }
    for (let i = 0; i < buckets.length; i++) {
      const row = this.rowOfBucket.get(buckets[i]);
      if (row >= 0) {
        this.addRow(row);
        found++;
      }
    }
    // The mean's divisor does not change the direction, but dividing first keeps the norm's
    // squares in range for any row scale.
    const inv = 1 / (wordIds.length + buckets.length);
    let norm = 0;
    for (let a = 0; a < dim; a++) {
      const x = sum[a] * inv;
      sum[a] = x;
      norm += x * x;
    }
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let a = 0; a < dim; a++) out[offset + a] = sum[a] * scale;
    return found;
  }

  /** The unit-length embedding of `text` (see {@link TextEmbedder.embedInto}). */
  embed(text: string): Float32Array {
    const out = new Float32Array(this.dim);
    this.embedInto(text, out);
    return out;
  }

  /**
   * Embeds every text into one row-major matrix, row `i` for `texts[i]`.
   *
   * @throws InvalidArgumentError naming `texts[i]` when one is not a string.
   */
  embedMany(texts: readonly string[], options: EmbedManyOptions = {}): EmbeddedTexts {
    const { onProgress, signal } = options;
    const n = texts.length;
    const vectors = new Float32Array(n * this.dim);
    const featureless = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const text = texts[i];
      if (typeof text !== 'string')
        throw new InvalidArgumentError(`texts[${i}]`, 'must be a string');
      if (this.embedInto(text, vectors, i * this.dim) === 0) featureless[i] = 1;
      if ((i + 1) % 1000 === 0) {
        signal?.throwIfAborted();
        onProgress?.(i + 1);
      }
    }
    onProgress?.(n);
    return { vectors, featureless };
  }

  private addRow(row: number): void {
    const { sum, dim } = this;
    const o = row * dim;
    if (this.input !== null) {
      const input = this.input;
      for (let a = 0; a < dim; a++) sum[a] += input[o + a];
    } else {
      const { codes, scales } = this.quantised!;
      const s = scales[row];
      for (let a = 0; a < dim; a++) sum[a] += codes[o + a] * s;
    }
  }
}

/**
 * Reads a tagger model file (`kiban tags train --output`, {@link Tagger.toBytes}) as a
 * {@link TextEmbedder}.
 *
 * @throws NotFoundError when there is no such file; DataError when it is not a tagger model.
 */
export async function readTextEmbedder(path: string): Promise<TextEmbedder> {
  const bytes = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'ENOENT') throw new NotFoundError(`tagger model file ${path}`, { cause });
    throw new DataError({ file: path }, `cannot read the tagger model: ${cause.message}`, {
      cause,
    });
  });
  return TextEmbedder.fromTaggerBytes(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    path,
  );
}
