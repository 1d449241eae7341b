import { InvalidArgumentError } from '../../core/errors.js';
import { BucketTable } from './bucket-table.js';
import { END_OF_TEXT, TagFeatures, type FeatureOptions } from './tag-features.js';
import { tokenize } from './tokenize.js';

/** The minimal shape of a training example (see `TagExample` in tagger.ts). */
interface Example {
  text: string;
  tags: readonly string[];
}

/**
 * A training set tokenised once into CSR arrays. Input rows are numbered densely: the
 * vocabulary's words first (`0…words.length-1`, row 0 the end-of-text token), then only those
 * hash buckets that some example uses, in order of first use (`bucketOfRow[r - words.length]` is
 * the bucket of row r). Examples without tags are left out, as fastText skips them.
 */
export interface TagCorpus {
  features: TagFeatures;
  /** Tags in row order of the output matrix: most frequent first, ties in order of appearance. */
  labels: string[];
  bucketOfRow: Int32Array;
  /** Input rows of example e: `ids[indptr[e]…indptr[e+1]-1]`. */
  indptr: Int32Array;
  ids: Int32Array;
  /** Tags (output rows) of example e: `labelIds[labelPtr[e]…labelPtr[e+1]-1]`, without repeats. */
  labelPtr: Int32Array;
  labelIds: Int32Array;
}

/**
 * Tokenises `examples`, keeps words seen at least `minCount` times (most frequent first, as
 * fastText orders its dictionary) and encodes every tagged example.
 *
 * @throws InvalidArgumentError when no example has a tag.
 */
export function buildTagCorpus(
  examples: readonly Example[],
  options: Readonly<FeatureOptions> & { minCount: number },
): TagCorpus {
  const tokens: string[][] = [];
  const tagged: Example[] = [];
  const wordCounts = new Map<string, number>();
  const labelCounts = new Map<string, number>();
  for (const example of examples) {
    if (example.tags.length === 0) continue;
    const t = tokenize(example.text);
    tokens.push(t);
    tagged.push(example);
    for (const w of t) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    for (const tag of new Set(example.tags)) labelCounts.set(tag, (labelCounts.get(tag) ?? 0) + 1);
  }
  if (tagged.length === 0) throw new InvalidArgumentError('examples', 'no example has a tag');
  const byCount = (counts: Map<string, number>): string[] =>
    [...counts].sort((a, b) => b[1] - a[1]).map(([key]) => key); // stable: ties keep first appearance
  const words = [
    END_OF_TEXT,
    ...byCount(wordCounts).filter((w) => wordCounts.get(w)! >= options.minCount),
  ];
  const labels = byCount(labelCounts);
  const labelIndex = new Map(labels.map((l, i) => [l, i]));
  const features = new TagFeatures(words, options);

  const indptr = new Int32Array(tagged.length + 1);
  const labelPtr = new Int32Array(tagged.length + 1);
  const ids = new GrowableInt32();
  const labelIds = new GrowableInt32();
  const rowOfBucket = new BucketTable(1024);
  const bucketOfRow = new GrowableInt32();
  const wordIds: number[] = [];
  const buckets: number[] = [];
  const hashes: number[] = [];
  for (let e = 0; e < tagged.length; e++) {
    wordIds.length = 0;
    buckets.length = 0;
    features.encode(tokens[e], wordIds, buckets, hashes);
    for (const id of wordIds) ids.push(id);
    for (const b of buckets) {
      let row = rowOfBucket.get(b);
      if (row < 0) {
        row = words.length + bucketOfRow.length;
        rowOfBucket.set(b, row);
        bucketOfRow.push(b);
      }
      ids.push(row);
    }
    indptr[e + 1] = ids.length;
    for (const tag of new Set(tagged[e].tags)) labelIds.push(labelIndex.get(tag)!);
    labelPtr[e + 1] = labelIds.length;
  }
  return {
    features,
    labels,
    bucketOfRow: bucketOfRow.toArray(),
    indptr,
    ids: ids.toArray(),
    labelPtr,
    labelIds: labelIds.toArray(),
  };
}

/** An Int32Array that doubles when full, so that big corpora never pass through JS arrays. */
class GrowableInt32 {
  private data = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}
