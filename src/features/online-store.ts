/**
 * The online feature store seam (issue 20): the latest feature values of each entity, per feature
 * view, for serving in milliseconds. Implementations: memory (tests), SQLite (embedded), Redis
 * (production); one contract suite (`online-store.test.ts`) runs against all three.
 *
 * Values are stored packed per entity and view (one record holding every feature of the view),
 * so a read of many features of one view is one lookup per entity. Writes are idempotent: a row
 * replaces the stored one only if its event time is newer, or equal with a created time not
 * older; re-writing the same rows changes nothing.
 */

/** A feature value as served: numbers (int64 as number when safe), strings, booleans, or null. */
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
 * The latest feature values of entities, per view. TTL is not applied here: readers compare
 * {@link OnlineRow.eventTime} with the view's TTL (so a value is `expired`, not `missing`).
 */
export interface OnlineFeatureStore {
  /**
   * Writes rows of `view` whose values follow `features`. A row replaces an entity's stored row
   * only if it is newer (event time, then created time); returns how many rows replaced one.
   */
  write(view: string, features: readonly string[], rows: readonly OnlineWrite[]): Promise<number>;
  /** The stored rows of `view` for `keys`, in order; null where an entity has none. */
  read(view: string, keys: readonly EntityKey[]): Promise<(StoredOnlineRow | null)[]>;
  /** Removes every row of `view` (when a view is dropped or rebuilt). */
  clearView(view: string): Promise<void>;
  close(): Promise<void>;
}
