import { DataError } from '../../core/errors.js';
import type { ExternalId, IdMap } from '../../data/id-map.js';
import { readArtifact } from '../../models/artifact.js';
import type { ScoredItem } from '../../storage/serving-store.js';
import { packedCount, readCandidates, type PackedLists } from './candidate-lists.js';
import { type PipelineStepFn, stepLogger } from './pipeline-step.js';
import { withModelDirectory } from './stored-files.js';
import { idStamp, idSuffix, readModelRef, requireInput } from './work-files.js';

/**
 * Publishes `candidates/` as a new serving version in one atomic switch: user lists keyed by
 * user id, related lists by item id, and the popular list under `all`, with the model's external
 * ids (read from its artifact). Each attempt writes a fresh version, so a retry never meets the
 * half-written version of a failed one (which is aborted, or discarded by the store); until a
 * commit succeeds the previous version keeps serving.
 */
export const publishStep: PipelineStepFn = async (ctx) => {
  const { config, metadata, runId } = ctx;
  const ref = await readModelRef(ctx.workDir);
  const candidatesDir = await requireInput(ctx.workDir, 'candidates');
  const candidates = await readCandidates(candidatesDir);
  if (candidates.modelId !== ref.modelId) {
    // Train was retried after candidates ran: these lists use another model's dense ids.
    throw new DataError(
      { file: candidatesDir },
      `holds lists of model ${candidates.modelId}, but model.json names ${ref.modelId}; run the candidates step again`,
    );
  }
  const { data } = await withModelDirectory(ref, ctx.openArtifacts, (dir) => readArtifact(dir), {
    signal: ctx.signal,
  });
  const metrics = (await metadata.getModel(ref.modelId))?.metrics ?? {};
  ctx.signal?.throwIfAborted();

  const version = `${idStamp()}-${idSuffix()}-${ref.modelId}`.slice(0, 64);
  const serving = await ctx.serving();
  const writer = await serving.beginVersion(version, {
    runId,
    modelId: ref.modelId,
    kind: ref.kind,
    metrics,
    publishedBy: config.name,
  });
  try {
    // Keys are strings, as they arrive in request paths; item ids keep their type.
    await writer.putLists(
      'user',
      entries(candidates.lists.user, (q) => String(data.users.idAt(q)), data.items),
    );
    await writer.putLists(
      'related',
      entries(candidates.lists.related, (q) => String(data.items.idAt(q)), data.items),
    );
    await writer.putLists(
      'popular',
      entries(candidates.lists.popular, () => 'all', data.items),
    );
    ctx.signal?.throwIfAborted();
    await writer.commit();
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
  const lists =
    packedCount(candidates.lists.user) +
    packedCount(candidates.lists.related) +
    packedCount(candidates.lists.popular);
  stepLogger(ctx).info(
    { step: 'publish', version, modelId: ref.modelId, lists },
    `publish: version ${version} of ${ref.modelId} (${lists} lists) is now serving`,
  );
  return {
    version,
    modelId: ref.modelId,
    lists,
    // A user and an item with lists, to show how to query them.
    sampleUser: String(data.users.idAt(0)),
    sampleItem: String(data.items.idAt(0)),
  };
};

/** Packed lists as (external key, scored external ids) pairs, produced lazily. */
function* entries(
  lists: PackedLists,
  key: (q: number) => ExternalId,
  items: IdMap,
): Generator<[ExternalId, ScoredItem[]]> {
  const { offsets, ids, scores } = lists;
  for (let q = 0; q < offsets.length - 1; q++) {
    const out: ScoredItem[] = new Array(offsets[q + 1] - offsets[q]);
    for (let r = offsets[q]; r < offsets[q + 1]; r++)
      out[r - offsets[q]] = { id: items.idAt(ids[r]), score: scores[r] };
    yield [key(q), out];
  }
}
