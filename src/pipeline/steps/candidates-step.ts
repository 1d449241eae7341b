import type { Interactions } from '../../data/interactions.js';
import { builtinModels } from '../../models/builtin-models.js';
import {
  packedCount,
  packRankedLists,
  writeCandidates,
  type PackedLists,
} from './candidate-lists.js';
import { type PipelineStepFn, stepLogger } from './pipeline-step.js';
import { withModelDirectory } from './stored-files.js';
import { readModelRef, workPath } from './work-files.js';

/**
 * Loads the model train saved (`model.json` names it: a local directory, or a key in an artifact
 * store, downloaded to a temporary directory) and computes the top
 * `config.candidates.users` items for every user (seen items excluded), the
 * `config.candidates.related` most similar items for every item, and the
 * `config.candidates.popular` most popular items; writes them to `candidates/` in the work
 * directory as packed typed arrays, replacing any earlier attempt whole.
 */
export const candidatesStep: PipelineStepFn = async (ctx) => {
  const { candidates } = ctx.config;
  const ref = await readModelRef(ctx.workDir);
  const models = ctx.models ?? builtinModels();
  const model = await withModelDirectory(ref, ctx.openArtifacts, (dir) => models.load(dir), {
    signal: ctx.signal,
  });
  ctx.signal?.throwIfAborted();
  const data = model.data;
  const allUsers = Int32Array.from({ length: data.users.size }, (_, u) => u);
  const allItems = Int32Array.from({ length: data.items.size }, (_, i) => i);
  const user = packRankedLists(
    model.recommend(allUsers, { k: candidates.users, excludeSeen: true }),
  );
  ctx.signal?.throwIfAborted();
  const related = packRankedLists(model.similarItems(allItems, { k: candidates.related }));
  const popular = popularItems(data, candidates.popular);
  const output = workPath(ctx.workDir, 'candidates');
  await writeCandidates(output, { modelId: ref.modelId, lists: { user, related, popular } });
  stepLogger(ctx).info(
    { step: 'candidates', modelId: ref.modelId },
    `candidates: ${packedCount(user)} user lists, ${packedCount(related)} related lists, ${popular.ids.length} popular items of ${ref.modelId} → ${output}`,
  );
  return {
    modelId: ref.modelId,
    userLists: packedCount(user),
    relatedLists: packedCount(related),
    popular: popular.ids.length,
  };
};

/** The items with the most users, best first (ties to the lower id), scored by that count: the fallback for unknown users. */
function popularItems(data: Interactions, n: number): PackedLists {
  const { indptr } = data.itemUsers;
  const order = Int32Array.from({ length: data.items.size }, (_, i) => i);
  order.sort((a, b) => indptr[b + 1] - indptr[b] - (indptr[a + 1] - indptr[a]) || a - b);
  const ids = order.slice(0, Math.min(n, order.length));
  const scores = Float32Array.from(ids, (i) => indptr[i + 1] - indptr[i]);
  return { offsets: Int32Array.of(0, ids.length), ids, scores };
}
