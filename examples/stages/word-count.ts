import { defineStage } from 'kiban/stages';

export const wordCount = defineStage({
  name: 'word-count',
  // Runs on --num-preprocessors workers, each over whole input partitions (like mapPartitions).
  async *preprocess(posts: AsyncIterable<{ text: string }>) {
    for await (const post of posts)
      for (const w of post.text.toLowerCase().split(/\W+/)) if (w) yield w;
  },
  // A keyed shuffle: every occurrence of a word goes to the same main worker, so its count is whole.
  partitionBy: (word: string) => word,
  // Runs on --count workers, each counting the words whose hash falls to it.
  async *main(words: AsyncIterable<string>, ctx) {
    const counts = new Map<string, number>();
    for await (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
    ctx.log(`rank ${ctx.rank} of ${ctx.size}: ${counts.size} distinct words`);
    yield* counts;
  },
  // Shapes main's outputs for the sink.
  async *postprocess(pairs: AsyncIterable<[string, number]>) {
    for await (const [word, count] of pairs) yield { word, count };
  },
});
