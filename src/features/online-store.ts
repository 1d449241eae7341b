/**
 * The online feature store seam (issue 20): the latest feature values of each entity, per feature
 * view, for serving in milliseconds. Implementations: memory (tests), SQLite (embedded), Redis
 * (production); one contract suite (`test/contracts/online-feature-store-contract.ts`, run by
 * `online-store.test.ts`) runs against all three.
 *
 * Values are stored packed per entity and view (one record holding every feature of the view),
 * so a read of many features of one view is one lookup per entity. Writes are idempotent: a row
 * replaces the stored one only if its event time is newer, or equal with a created time not
 * older; re-writing the same rows changes nothing.
 */

/**
 * A feature value as served: numbers, strings, booleans, or null. An int64 is a number when it is
 * a safe integer (|v| ≤ 2^53 − 1) and its decimal string beyond that (stores turn a `bigint` given
 * to {@link OnlineFeatureStore.write} into the same), so JSON and msgpack clients read it without
 * loss. Timestamps are ISO-8601 strings.
 */
export type FeatureValue = number | string | boolean | null;

/**
 * The storage key of an entity: its join-key values in the view's entity order, as
 * {@link entityKey} renders them (one string, so composite keys need no special path).
 */
export type EntityKey = string;

/** Renders the join-key values of an entity as one {@link EntityKey}. */
export function entityKey(values: readonly (string | number | bigint)[]): EntityKey {
  // U+001F (unit separator) cannot appear in a key a user would type; one key stays itself.
  return values.length === 1 ? String(values[0]) : values.map(String).join('\u001f');
}

/** One entity's latest row of a view. */
export interface OnlineRow {
  /** The row's event time, epoch milliseconds. */
  eventTime: number;
  /** The row's created time, epoch milliseconds (the event time when the source has none). */
  createdTime: number;
  /** Values in the order of the `features` the row was written with. */
  values: FeatureValue[];
}

/** A row to write: an entity key and its {@link OnlineRow}. */
export interface OnlineWrite extends OnlineRow {
  key: EntityKey;
}

/** What the store returns for one entity: the row and the feature names it was written with. */
export interface StoredOnlineRow extends OnlineRow {
  features: readonly string[];
}

/**
 * How far a view has been materialised (see `materialize.ts`): written by the materialiser after
 * each finished event-time window, read to resume a run and for the freshness metric.
 */
export interface MaterializedMark {
  /** The first window's start, epoch milliseconds (the earliest time materialised since the last clear). */
  start: number;
  /** Every window before this instant (epoch milliseconds, exclusive) has been written. */
  end: number;
  /** The newest event time written to the view, epoch milliseconds; null when no row was. */
  newestEventTime: number | null;
  /** When the mark was set, epoch milliseconds. */
  updatedAt: number;
}

/**
 * The latest feature values of entities, per view. TTL is not applied here: readers compare
 * {@link OnlineRow.eventTime} with the view's TTL (so a value is `expired`, not `missing`).
 */
export interface OnlineFeatureStore {
  /**
   * Writes rows of `view` whose values follow `features`. A row is stored when the entity has
   * none, or replaces the stored one when it is newer: a later event time, or the same event time
   * and a later created time, or both the same and different values (so a corrected row lands, and
   * re-writing the same row changes nothing). Returns how many rows were stored (new or replacing);
   * rows of one call are applied in order. Atomic per row.
   * @throws InvalidArgumentError naming `view`, `features` or `rows` (a row whose values do not
   *   match `features`, a time that is not finite).
   */
  write(view: string, features: readonly string[], rows: readonly OnlineWrite[]): Promise<number>;
  /** The stored rows of `view` for `keys`, in order; null where an entity has none. */
  read(view: string, keys: readonly EntityKey[]): Promise<(StoredOnlineRow | null)[]>;
  /** Removes every row of `view` and its {@link MaterializedMark} (when a view is dropped or rebuilt). */
  clearView(view: string): Promise<void>;
  /** The view's {@link MaterializedMark}, or null when it has none. */
  getMaterialized(view: string): Promise<MaterializedMark | null>;
  /** Records the view's {@link MaterializedMark}, replacing the previous one. */
  setMaterialized(view: string, mark: MaterializedMark): Promise<void>;
  /** Every view's {@link MaterializedMark} (for the freshness metric), by view name. */
  listMaterialized(): Promise<Map<string, MaterializedMark>>;
  /**
   * Up to `limit` entity keys that `view` holds a row for (for the dashboard's sample of online
   * values): whichever the store finds first, cheaply (SQLite: the first keys in key order;
   * Redis: one `HSCAN` pass at most until enough; memory: the first written), not a uniform
   * sample. Optional, so stores written before it still fit the seam.
   */
  sampleKeys?(view: string, limit: number): Promise<EntityKey[]>;
  close(): Promise<void>;
}
