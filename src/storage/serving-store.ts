import type { ExternalId } from '../data/id-map.js';

/** One entry of a ranked list: an external id and its score. */
export interface ScoredItem {
  id: ExternalId;
  score: number;
}

/** What describes a published version. */
export interface VersionInfo {
  /** Unique, chosen by the publisher (e.g. a timestamp plus model id); [A-Za-z0-9._-]{1,64}. */
  version: string;
  /** Free-form JSON metadata (model kind, metrics, run id…). */
  meta: Record<string, unknown>;
  /** When the version was switched in, ISO-8601. */
  publishedAt: string;
}

/** One entry of {@link ServingStore.listVersions}: a committed version the store holds. */
export interface HeldVersionInfo extends VersionInfo {
  /** Whether readers see this version now. */
  current: boolean;
}

/** What {@link ServingStore.rollback} switched: the version replaced and the one now current. */
export interface RollbackResult {
  /** The version readers saw before (null if nothing was current). */
  from: string | null;
  /** The version readers see now. */
  to: string;
}

/**
 * How many committed versions a store keeps by default (the current one included), so that a
 * rollback has somewhere to go.
 */
export const DEFAULT_RETAIN_VERSIONS = 3;

/** Options of {@link ServingStore.getList}. */
export interface ListRange {
  /** @defaultValue 0 */
  offset?: number;
  /** @defaultValue the whole list */
  limit?: number;
  /**
   * Read this version instead of the current one: a committed version the store still holds
   * (see {@link ServingStore.listVersions}); a version it does not hold (never begun, aborted, or
   * collected after newer publishes) is a `NotFoundError`.
   * What a version still being written gives is unspecified (memory and SQLite refuse it as not
   * found; Redis reads what was written so far). @defaultValue the current version
   */
  version?: string;
}

/** Options of {@link ServingStore.listKeys}. */
export interface ListKeysOptions {
  /**
   * The {@link KeyPage.cursor} of the previous page; it carries the version that page listed, so
   * later pages stay on it even if another version is published meanwhile (and `version` is then
   * ignored). @defaultValue the first page
   */
  cursor?: string;
  /** The version to list, as for {@link ListRange.version}. @defaultValue the current version */
  version?: string;
  /**
   * Keys per page wanted, an integer ≥ 1: memory and SQLite pages hold exactly this many but the
   * last; Redis pages hold about as many (SCAN steps: more or fewer, even none before the end).
   * @defaultValue 1000
   */
  limit?: number;
}

/** One page of {@link ServingStore.listKeys}. */
export interface KeyPage {
  /** The version listed, or null when nothing is published (then `keys` is empty). */
  version: string | null;
  /** Keys in their stored (string) form, as `putLists` encoded them. */
  keys: string[];
  /** Pass as {@link ListKeysOptions.cursor} for the next page; null after the last page. */
  cursor: string | null;
}

/** Default {@link ListKeysOptions.limit}. */
export const LIST_KEYS_DEFAULT_LIMIT = 1000;

/**
 * Writes one version. Nothing it writes is visible to readers until {@link VersionWriter.commit}
 * switches it in, in one step. Writing the same list and key twice keeps the last write.
 */
export interface VersionWriter {
  readonly version: string;
  /**
   * Stores ranked lists under `list` (a namespace such as `user` or `related`), one per key.
   * Items must already be in rank order (best first). Large batches are fine.
   */
  putLists(
    list: string,
    entries: Iterable<readonly [key: ExternalId, items: readonly ScoredItem[]]>,
  ): Promise<void>;
  /**
   * Stores vectors under `space` (a name such as `user`, same rules as list names; spaces and
   * lists never meet), one per key: float32 values stored as their little-endian bytes, one row
   * per key, switched in with the lists by {@link VersionWriter.commit}. Vectors of one space
   * should share a length; the store does not check it. Large batches are fine; the arrays may be
   * views into one matrix (`data.subarray(r * dim, (r + 1) * dim)`) and are copied.
   * @throws InvalidArgumentError naming `space`, or `entries[i].vector` for a vector that is not a
   *   non-empty `Float32Array` of finite values.
   */
  putVectors(
    space: string,
    entries: Iterable<readonly [key: ExternalId, vector: Float32Array]>,
  ): Promise<void>;
  /**
   * Makes this version the current one atomically, then collects old versions: of the committed
   * versions, the store keeps the new one, the one it replaced and the most recently published
   * others up to its `retainVersions` (default {@link DEFAULT_RETAIN_VERSIONS}), plus whichever is
   * current by then; versions begun but never committed are dropped once they began before the
   * oldest version kept. Readers see either the old version or the new one, never a mix.
   */
  commit(): Promise<void>;
  /** Discards everything written; the current version is untouched. */
  abort(): Promise<void>;
}

/**
 * The store services read precomputed results from: versioned ranked lists (recommendations,
 * related items) and vectors (user embeddings), plus a small key-value space for other online state. Backends: memory, SQLite
 * (embedded default) and Redis (production), chosen by URL in `app/`.
 */
export interface ServingStore {
  /** Starts writing a new version. Fails if `version` exists already or is malformed. */
  beginVersion(version: string, meta: Record<string, unknown>): Promise<VersionWriter>;
  /** The version readers currently see, or null before the first publish. */
  currentVersion(): Promise<VersionInfo | null>;
  /**
   * The committed versions the store holds, newest published first (ties by begin order), each
   * with its meta, `publishedAt` (when it was first switched in; a rollback does not change it)
   * and whether it is current. Versions being written are not listed. Empty before the first
   * publish.
   */
  listVersions(): Promise<HeldVersionInfo[]>;
  /**
   * Makes a held, committed `version` current again, atomically (readers see the old or the new
   * version, never a mix), e.g. to roll back a bad publish. Nothing is collected; the next
   * publish replaces it as usual and keeps it as the version it replaced. Rolling back to the
   * current version changes nothing (`from` equals `to`).
   * @throws NotFoundError naming `version` when the store does not hold it committed (never
   *   begun, aborted, still being written, or collected).
   * @throws InvalidArgumentError (field `version`) for a malformed name.
   */
  rollback(version: string): Promise<RollbackResult>;
  /**
   * A ranked list of the current version (a slice of it with `range`), or null when the version
   * has no such key or nothing is published. Both the version lookup and the read happen against
   * one consistent version.
   */
  getList(list: string, key: ExternalId, range?: ListRange): Promise<ScoredItem[] | null>;
  /**
   * One page of the keys that have a list under `list` in the current version (or
   * `options.version`), e.g. every user id with recommendations. Page on with the returned cursor
   * until it is null; a cursor stays on the version of the first page. Order: ascending by the
   * UTF-8 bytes of the stored key for memory and SQLite (so pages are key ranges); SCAN order for
   * Redis, where a key may also come twice if the database rehashes during the listing. An
   * unknown `list` gives no keys; a version not held is a `NotFoundError` (also for a later page,
   * once its version is collected).
   *
   * @example
   * for (let page = await store.listKeys('user'); ; page = await store.listKeys('user', { cursor: page.cursor })) {
   *   for (const key of page.keys) console.log(key);
   *   if (page.cursor === null) break;
   * }
   */
  listKeys(list: string, options?: ListKeysOptions): Promise<KeyPage>;
  /**
   * The vector stored under `space`/`key` by {@link VersionWriter.putVectors} in the current
   * version (or `options.version`, as for {@link ListRange.version}), as a fresh `Float32Array`,
   * or null when the version has none or nothing is published. The version lookup and the read
   * happen against one consistent version.
   */
  getVector(
    space: string,
    key: ExternalId,
    options?: { version?: string },
  ): Promise<Float32Array | null>;
  /** Unversioned key-value state (JSON values). */
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Whether the backend answers (for readiness checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
