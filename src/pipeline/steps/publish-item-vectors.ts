import { InvalidArgumentError } from '../../core/errors.js';
import type { ItemVectors } from '../../models/recommender.js';
import type { ArtifactStore } from '../../storage/artifacts/artifact-store.js';
import { vectorIndexKind } from '../../vectors/index-kinds.js';
import { deleteFoldedUpdates, foldVectorUpdates } from '../../vectors/fold-vector-updates.js';
import { saveVectorIndex } from '../../vectors/stored-index.js';
import { VectorAttributes } from '../../vectors/vector-attributes.js';
import type { VectorUpdateStore } from '../../vectors/vector-update-store.js';

/** The name the item vector index is stored under: `vectors/items/` on the artifact store. */
export const ITEM_VECTOR_INDEX = 'items';

/** What {@link publishItemVectors} needs. */
export interface PublishItemVectorsArgs {
  /** Where the index is stored, under `vectors/items/`. */
  store: ArtifactStore;
  /** The model's item vectors: row `r` is dense item `r`. */
  vectors: ItemVectors;
  /** Dense item `r`'s external id, as a string; as many as there are rows. */
  ids: readonly string[];
  /** Below this many items the index is exact, from it on HNSW. */
  exactBelow: number;
  /**
   * The incremental changes of the `items` index (`metadata.vectorUpdates`): folded into the new
   * version, then those every kept version has folded are deleted. @defaultValue none: nothing folded
   */
  updates?: VectorUpdateStore;
  signal?: AbortSignal;
}

/** What {@link publishItemVectors} stored. */
export interface PublishedItemVectors {
  /** The index version, now `vectors/items/current`. */
  version: string;
  /** `exact` or `hnsw`. */
  kind: string;
  /** Items in the index. */
  count: number;
  dim: number;
  /** The highest change folded in (`folded_through`; 0: none). */
  foldedThrough: number;
  /** Changes folded in. */
  folded: number;
}

/**
 * Builds a cosine index over a model's item vectors (keys = dense item ids `0 … n-1`, stored
 * ids = the external item ids) and stores it as the current version of the `items` index
 * ({@link saveVectorIndex}): exact below `exactBelow` items, HNSW from there on. The pointer
 * `vectors/items/current` moves when this resolves; the two newest versions are kept. With
 * `updates`, the changes made over the API (`PUT`/`DELETE /v1/vectors/items/items/{id}`) are
 * folded in first (`foldVectorUpdates`: an added item becomes a row, a deleted one goes), the
 * version records how far (`folded_through`), and afterwards the changes every kept version has
 * folded and the model made moot (a vector for an item the model has, a deletion of one it
 * lacks) are deleted; an item added over the API that the model does not know stays. A change made while this runs has a larger number and is applied on
 * top of the new version by the servers.
 *
 * @throws InvalidArgumentError naming `vectors` when the matrix is not `ids.length × dim` finite
 *   values, or `exactBelow` when it is not a positive integer.
 * @example
 * ```ts
 * const { version } = await publishItemVectors({ store, vectors: model.itemVectors()!, ids, exactBelow: 50_000 });
 * ```
 */
export async function publishItemVectors(
  args: PublishItemVectorsArgs,
): Promise<PublishedItemVectors> {
  const { store, vectors, ids, exactBelow, signal } = args;
  const { dim } = vectors;
  if (!Number.isInteger(dim) || dim < 1)
    throw new InvalidArgumentError('vectors', `dim must be a positive integer, got ${dim}`);
  if (vectors.vectors.length !== ids.length * dim)
    throw new InvalidArgumentError(
      'vectors',
      `expected ${ids.length} items × ${dim} = ${ids.length * dim} floats, got ${vectors.vectors.length}`,
    );
  if (!Number.isInteger(exactBelow) || exactBelow < 1)
    throw new InvalidArgumentError(
      'exactBelow',
      `must be a positive integer, got ${String(exactBelow)}`,
    );
  const rows = foldVectorUpdates(
    { ids: [...ids], dim, vectors: vectors.vectors, attributes: new VectorAttributes() },
    args.updates === undefined ? [] : await args.updates.list(ITEM_VECTOR_INDEX),
  );
  const count = rows.vectors.length / dim;
  const kind = count < exactBelow ? 'exact' : 'hnsw';
  const index = await vectorIndexKind(kind).create(dim, 'cosine');
  try {
    const keys = new Int32Array(count);
    for (let i = 0; i < keys.length; i++) keys[i] = i;
    await index.add(keys, rows.vectors);
    signal?.throwIfAborted();
    const version = await saveVectorIndex(store, ITEM_VECTOR_INDEX, index, rows.ids, {
      attributes: rows.attributes,
      foldedThrough: rows.foldedThrough,
    });
    if (args.updates !== undefined)
      await deleteFoldedUpdates(store, ITEM_VECTOR_INDEX, args.updates, rows.settled);
    return {
      version,
      kind,
      count: index.size,
      dim,
      foldedThrough: rows.foldedThrough,
      folded: rows.applied,
    };
  } finally {
    index.close();
  }
}
