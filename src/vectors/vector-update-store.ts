/**
 * Incremental changes to a named vector index made after it was built (`PUT` and `DELETE
 * /v1/vectors/{index}/items/{id}`), kept so that they survive a restart and are applied on top of
 * every version of the index a server loads.
 *
 * @module
 */

/** The last change made to one id of an index. */
export interface VectorUpdate {
  /** The item's external id. */
  id: string;
  /** Its new vector, or null when it was deleted. */
  vector: Float32Array | null;
  /** When the change was made (millisecond precision). */
  at: Date;
}

/**
 * Where incremental vector changes are kept (`metadata.vectorUpdates`: Kysely on SQLite and
 * PostgreSQL, migration `0008_vector_updates`). Contract (checked by
 * `test/contracts/vector-update-store-contract.ts`):
 * - `upsert` keeps one change per (index, id): a later call replaces the earlier one, a
 *   `null` vector records a deletion; vectors round-trip bit for bit;
 * - `list(index)` returns that index's changes only, ordered by id;
 * - an index name must be 1 to 128 letters, digits, `-` and `_`, an id a non-empty string of at
 *   most 256 characters, a vector non-empty and finite: else `InvalidArgumentError` naming
 *   `index`, `id` or `vector`, before anything is written.
 */
export interface VectorUpdateStore {
  upsert(index: string, id: string, vector: Float32Array | null, at: Date): Promise<void>;
  list(index: string): Promise<VectorUpdate[]>;
}
