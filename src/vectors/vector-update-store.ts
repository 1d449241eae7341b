/**
 * Incremental changes to a named vector index made after it was built (`PUT` and `DELETE
 * /v1/vectors/{index}/items/{id}`), kept so that they survive a restart. Each change gets a
 * sequence number in commit order; a build folds the changes into the version it saves and
 * records the highest number it folded (`folded_through` in `meta.json`), and a server applies
 * only the later ones on top of that version.
 *
 * @module
 */
import type { ItemAttributes } from './vector-attributes.js';

/** The last change made to one id of an index. */
export interface VectorUpdate {
  /** The item's external id. */
  id: string;
  /** Its new vector, or null when it was deleted. */
  vector: Float32Array | null;
  /**
   * The item's attributes from now on (the whole set), or null: keep those it had (none for an
   * id new to the index).
   */
  attributes: ItemAttributes | null;
  /** When the change was made (millisecond precision). */
  at: Date;
  /**
   * Its sequence number, at least 1: a change committed after another has a larger one, across
   * all indexes of the store.
   */
  seq: number;
}

/** Options of {@link VectorUpdateStore.list}. */
export interface VectorUpdateListOptions {
  /** Only changes with a larger sequence number. @defaultValue 0: all */
  after?: number;
}

/**
 * Where incremental vector changes are kept (`metadata.vectorUpdates`: Kysely on SQLite and
 * PostgreSQL, migrations `0008_vector_updates` and `0009_vector_update_folding`). Contract
 * (checked by `test/contracts/vector-update-store-contract.ts`):
 * - `upsert` keeps one change per (index, id): a later call replaces the earlier one, a `null`
 *   vector records a deletion; vectors and attributes round-trip exactly; it resolves to the
 *   change's sequence number;
 * - sequence numbers follow commit order: a `list` that does not see a change saw only changes
 *   with smaller numbers than it, so "folded through the largest number listed" never skips a
 *   change committed later (the fold's race with concurrent writes);
 * - `list(index, {after})` returns that index's changes with `seq > after` only, ordered by id;
 * - `deleteThrough(index, seq, ids?)` deletes that index's changes with numbers `≤ seq` (a
 *   change rewritten since has a larger number and stays), only those of `ids` when given, and
 *   resolves to how many went;
 * - an index name must be 1 to 128 letters, digits, `-` and `_`, an id a non-empty string of at
 *   most 256 characters, a vector non-empty and finite, attributes as `assertItemAttributes`:
 *   else `InvalidArgumentError` naming `index`, `id`, `vector` or `attributes`, before anything
 *   is written.
 */
export interface VectorUpdateStore {
  upsert(
    index: string,
    id: string,
    vector: Float32Array | null,
    at: Date,
    attributes?: ItemAttributes | null,
  ): Promise<number>;
  list(index: string, options?: VectorUpdateListOptions): Promise<VectorUpdate[]>;
  deleteThrough(index: string, seq: number, ids?: readonly string[]): Promise<number>;
}
