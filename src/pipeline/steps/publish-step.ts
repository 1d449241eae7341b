import { basename, dirname } from 'node:path';
import { DataError } from '../../core/errors.js';
import type { ExternalId, IdMap } from '../../data/id-map.js';
import { readArtifact } from '../../models/artifact.js';
import { builtinModels } from '../../models/builtin-models.js';
import type { DenseMatrix, ItemVectors } from '../../models/recommender.js';
import type { ScoredItem } from '../../storage/serving-store.js';
import {
  type EmbeddingVersionMeta,
  isUserEmbeddingModel,
  USER_VECTOR_SPACE,
} from './embedding-version.js';
import { packedCount, readCandidates, type PackedLists } from './candidate-lists.js';
import { type PipelineStepFn, type StepContext, stepLogger } from './pipeline-step.js';
import { catalogueLists, type PublishInputs } from './publish-catalogue.js';
import { creatorLists } from './publish-creators.js';
import { type PublishedItemVectors, publishItemVectors } from './publish-item-vectors.js';
import { withModelDirectory } from './stored-files.js';
import { idStamp, idSuffix, type ModelRef, readModelRef, requireInput } from './work-files.js';

/**
 * Publishes `candidates/` as a new serving version in one atomic switch: user lists keyed by
 * user id, related lists by item id, and the popular list under `all`, with the model's external
 * ids (read from its artifact). Each attempt writes a fresh version, so a retry never meets the
 * half-written version of a failed one (which is aborted, or discarded by the store); until a
 * commit succeeds the previous version keeps serving.
 *
 * When the model has item vectors (ALS, BPR: `Recommender.itemVectors`) and
 * `config.vectors.enabled`, it first builds a cosine index over them (exact below
 * `config.vectors.exactBelow` items, else HNSW; keys are dense item ids, stored ids the external
 * ones) and stores it as the `items` index (`vectors/items/`) on the store the model was saved to
 * (`model.json`: its artifact store, or `file:` of the plain directory holding it, i.e. train's
 * `stores.artifacts`, where a serve role given the same `stores.artifacts` reads it). Only then
 * does it open the serving version, whose metadata records `vectors: { items: <index version> }`.
 * The two stores cannot switch in one transaction: the
 * index pointer (`vectors/items/current`, which the similar-items route reads) moves first, the
 * lists' commit follows once they are written, so the two switch as closely as two stores allow
 * and the new index never lags the lists. Between the two (the time it takes to write the lists,
 * or until the next publish if the lists' commit fails) the new index serves beside the previous
 * lists; each index carries its own external ids, so a reader never maps one model's dense ids
 * with another's. Without an opener for the store (`StepContext.openArtifacts`) the index is
 * skipped with a warning and the step reports `vectorItems` 0; models without item vectors
 * (popularity, item-kNN) and `vectors.enabled: false` publish lists only.
 *
 * A model that embeds users (`embedUsers`: graphsage, gat) also publishes every training user's
 * embedding in the same version (`putVectors('user', …)`, float32 bytes per user, switched in with
 * the lists), and records `embedding` ({@link EmbeddingVersionMeta}: the model's key on the
 * artifact store, its kind and dimension, and `interactionsThrough`, the highest API interaction
 * `seq` the model was trained on) in the version's metadata, so that a server given the same
 * `stores.artifacts` loads the model and re-embeds users from interactions newer than the batch.
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
  const { data, vectors, users } = await withModelDirectory(
    ref,
    ctx.openArtifacts,
    async (dir) => {
      const saved = await readArtifact(dir);
      const models = ctx.models ?? builtinModels();
      // A kind this process does not know publishes its lists, as before models had vectors.
      if (!models.has(saved.kind)) return { data: saved.data, vectors: null, users: null };
      const model = await models.load(saved);
      return {
        data: saved.data,
        vectors: config.vectors.enabled ? (model.itemVectors?.() ?? null) : null,
        // Models that embed users (the graph models) also publish every user's embedding.
        users: isUserEmbeddingModel(model) ? model.userFactors() : null,
      };
    },
    { signal: ctx.signal },
  );
  const metrics = (await metadata.getModel(ref.modelId))?.metrics ?? {};
  ctx.signal?.throwIfAborted();

  const index = vectors === null ? null : await publishVectors(ctx, ref, vectors, data.items);
  ctx.signal?.throwIfAborted();

  const version = `${idStamp()}-${idSuffix()}-${ref.modelId}`.slice(0, 64);
  const serving = await ctx.serving();
  const writer = await serving.beginVersion(version, {
    runId,
    modelId: ref.modelId,
    kind: ref.kind,
    metrics,
    publishedBy: config.name,
    ...(index === null ? {} : { vectors: { items: index.version } }),
    ...(users === null ? {} : { embedding: embeddingMeta(ref, users.cols) }),
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
    // The catalogue's and the creators' lists (issue 22), in the same version.
    const inputs: PublishInputs = {
      users: data.users,
      items: data.items,
      candidates: candidates.lists,
    };
    for await (const [list, listEntries] of catalogueLists(ctx, inputs))
      await writer.putLists(list, listEntries);
    for await (const [list, listEntries] of creatorLists(ctx, inputs))
      await writer.putLists(list, listEntries);
    if (users !== null) await writer.putVectors(USER_VECTOR_SPACE, userVectors(users, data.users));
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
    {
      step: 'publish',
      version,
      modelId: ref.modelId,
      lists,
      ...(index === null ? {} : { vectorIndex: index.version, vectorItems: index.count }),
      ...(users === null ? {} : { userVectors: users.rows }),
    },
    `publish: version ${version} of ${ref.modelId} (${lists} lists${
      index === null ? '' : `, ${index.kind} index of ${index.count} item vectors`
    }) is now serving`,
  );
  return {
    version,
    modelId: ref.modelId,
    lists,
    vectorItems: index?.count ?? 0,
    userVectors: users?.rows ?? 0,
    ...(index === null ? {} : { vectorIndex: index.version }),
    // A user and an item with lists, to show how to query them.
    sampleUser: String(data.users.idAt(0)),
    sampleItem: String(data.items.idAt(0)),
  };
};

/**
 * Stores `vectors` as the `items` index on the store the model was saved to (see
 * {@link publishStep}), or returns null (with a warning) when the step was given no opener.
 */
async function publishVectors(
  ctx: StepContext,
  ref: ModelRef,
  vectors: ItemVectors,
  items: IdMap,
): Promise<PublishedItemVectors | null> {
  // A plain directory of models is the older form of `file:DIR`, as the serve role opens it.
  const artifacts = ref.artifacts ?? `file:${dirname(ref.artifactPath)}`;
  if (ctx.openArtifacts === undefined) {
    stepLogger(ctx).warn(
      { step: 'publish', artifacts },
      'publish: no artifact store opener was given; item vectors are not published',
    );
    return null;
  }
  const store = await ctx.openArtifacts(artifacts);
  try {
    const ids = Array.from({ length: items.size }, (_, i) => String(items.idAt(i)));
    return await publishItemVectors({
      store,
      vectors,
      ids,
      exactBelow: ctx.config.vectors.exactBelow,
      updates: ctx.metadata.vectorUpdates,
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
  } finally {
    await store.close();
  }
}

/**
 * The `embedding` metadata of a version published by a model that embeds users: where servers
 * load the model from (its key on the artifact store `stores.artifacts` names: `models/<id>` for
 * an artifact store URL, the model's directory name under a plain directory, which the serve role
 * opens as `file:DIR`), and `interactionsThrough`: the highest API interaction `seq` the model
 * was trained on (from `model.json`), so servers re-embed users only from those above it.
 */
function embeddingMeta(ref: ModelRef, dim: number): EmbeddingVersionMeta {
  return {
    space: USER_VECTOR_SPACE,
    dim,
    kind: ref.kind,
    modelKey: ref.artifactKey ?? basename(ref.artifactPath),
    interactionsThrough: ref.interactionsThrough ?? 0,
  };
}

/** Each training user's row of `users` (a view, copied by the store), keyed by external id. */
function* userVectors(users: DenseMatrix, ids: IdMap): Generator<[string, Float32Array]> {
  const d = users.cols;
  for (let u = 0; u < users.rows; u++)
    yield [String(ids.idAt(u)), users.data.subarray(u * d, (u + 1) * d)];
}

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
