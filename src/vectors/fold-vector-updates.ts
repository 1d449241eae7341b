/**
 * Folding the incremental changes of an index (`VectorUpdateStore`) into the rows of its next
 * build, and deleting the changes no kept version needs any more.
 *
 * @module
 */
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { readArtifact } from '../storage/artifacts/artifact-store.js';
import { vectorIndexPrefix } from './stored-index.js';
import type { VectorAttributes } from './vector-attributes.js';
import type { VectorUpdate, VectorUpdateStore } from './vector-update-store.js';

/** The rows an index is built from. */
export interface VectorRows {
  /** Row `r`'s string id, or null when ids are row numbers. */
  ids: string[] | null;
  dim: number;
  /** `rows × dim`, row-major. */
  vectors: Float32Array;
  /** Row `r`'s attributes. */
  attributes: VectorAttributes;
}

/** What {@link foldVectorUpdates} returns. */
export interface FoldedVectorRows extends VectorRows {
  /** The largest `seq` of the changes folded (0 when there were none): `folded_through`. */
  foldedThrough: number;
  /** Changes applied (vectors set, rows deleted). */
  applied: number;
  /** Changes left out because their vector has another dimension. */
  skipped: number;
  /**
   * The ids whose changes this build's input has made moot: a vector for an id the input has
   * (from now on the input's own vector wins), a deletion of an id it lacks, a vector of another
   * dimension. The others stay needed by later builds (an item added over the API that the input
   * does not know, a deletion of one it still has) and are never deleted by
   * {@link deleteFoldedUpdates}.
   */
  settled: string[];
}

/**
 * Applies `updates` (as listed by `VectorUpdateStore.list`) to `rows`: a vector replaces the
 * row of its id or is appended as a new row, a deletion removes the row (rows keep their order,
 * appended ones follow in the changes' order), attributes replace the row's whole set when
 * given. A change whose vector has another dimension is skipped and counted. Row-number ids
 * become strings (`"0"`, `"1"`, …) when a change is folded, since changes name ids as strings.
 * The input is not modified.
 *
 * Record `foldedThrough` with the version saved (`saveVectorIndex`'s `foldedThrough`): a change
 * committed after the list was read has a larger `seq` (the store's contract) and is applied on
 * top of the version by the servers, so a change racing a build is never lost.
 *
 * @example
 * ```ts
 * const folded = foldVectorUpdates({ ids, dim, vectors, attributes }, await updates.list('items'));
 * await saveVectorIndex(store, 'items', index, folded.ids, { foldedThrough: folded.foldedThrough });
 * ```
 */
export function foldVectorUpdates(
  rows: VectorRows,
  updates: readonly VectorUpdate[],
): FoldedVectorRows {
  const { dim } = rows;
  const count = rows.vectors.length / dim;
  if (updates.length === 0)
    return { ...rows, foldedThrough: 0, applied: 0, skipped: 0, settled: [] };
  const ids = rows.ids ?? Array.from({ length: count }, (_, i) => String(i));
  const rowOf = new Map<string, number>();
  for (let r = 0; r < ids.length; r++) rowOf.set(ids[r]!, r);
  const removed = new Uint8Array(count);
  const replaced = new Map<number, Float32Array>();
  const appended = new Map<
    string,
    { vector: Float32Array; attributes: VectorUpdate['attributes'] }
  >();
  const attributes = rows.attributes.clone();
  let foldedThrough = 0;
  let applied = 0;
  let skipped = 0;
  const settled: string[] = [];
  for (const update of updates) {
    foldedThrough = Math.max(foldedThrough, update.seq);
    const row = rowOf.get(update.id);
    if (update.vector === null) {
      if (row !== undefined) removed[row] = 1;
      else settled.push(update.id);
      appended.delete(update.id);
      applied++;
      continue;
    }
    if (update.vector.length !== dim) {
      skipped++;
      settled.push(update.id);
      continue;
    }
    applied++;
    if (row !== undefined) settled.push(update.id);
    if (row === undefined) {
      appended.set(update.id, { vector: update.vector, attributes: update.attributes });
      continue;
    }
    removed[row] = 0;
    replaced.set(row, update.vector);
    if (update.attributes !== null) attributes.set(row, update.attributes);
  }
  const kept: number[] = [];
  for (let r = 0; r < count; r++) if (removed[r] === 0) kept.push(r);
  const total = kept.length + appended.size;
  const vectors = new Float32Array(total * dim);
  const outIds: string[] = new Array(total);
  for (let i = 0; i < kept.length; i++) {
    const r = kept[i]!;
    outIds[i] = ids[r]!;
    vectors.set(replaced.get(r) ?? rows.vectors.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  const outAttributes = attributes.take(kept);
  let i = kept.length;
  for (const [id, change] of appended) {
    outIds[i] = id;
    vectors.set(change.vector, i * dim);
    outAttributes.set(i, change.attributes);
    i++;
  }
  return {
    ids: outIds,
    dim,
    vectors,
    attributes: outAttributes,
    foldedThrough,
    applied,
    skipped,
    settled,
  };
}

/**
 * The smallest `folded_through` among the complete versions of the index `name` on `store`
 * (0 when one has folded nothing, or there is none): every change numbered up to it is in every
 * version that can still be loaded.
 */
export async function foldedByEveryVersion(store: ArtifactStore, name: string): Promise<number> {
  const prefix = vectorIndexPrefix(name);
  let least: number | null = null;
  for (const { key } of await store.list(prefix)) {
    if (!key.endsWith('/meta.json')) continue;
    let folded = 0;
    try {
      const meta = JSON.parse((await readArtifact(store, key)).toString('utf8'));
      folded = Number.isSafeInteger(meta?.folded_through) ? meta.folded_through : 0;
    } catch {
      // Unreadable (or deleted meanwhile): counts as folding nothing, which only keeps changes.
      folded = 0;
    }
    least = least === null ? folded : Math.min(least, folded);
  }
  return least ?? 0;
}

/**
 * Deletes the changes of the index `name` that no one needs any more: those every stored version
 * has folded ({@link foldedByEveryVersion}) and whose ids are in `settled` (the build's
 * {@link FoldedVectorRows.settled}: its input made them moot). Call it after saving the version
 * (which also deletes old ones). A change still needed by later builds (an item added over the
 * API that the input does not know) stays, and is folded again by each build.
 *
 * A server still answering from a version deleted meanwhile has those changes applied in memory
 * already; on its next load it takes a version that folded them.
 *
 * @returns how many changes were deleted.
 */
export async function deleteFoldedUpdates(
  store: ArtifactStore,
  name: string,
  updates: VectorUpdateStore,
  settled: readonly string[],
): Promise<number> {
  if (settled.length === 0) return 0;
  const through = await foldedByEveryVersion(store, name);
  return through === 0 ? 0 : updates.deleteThrough(name, through, settled);
}
