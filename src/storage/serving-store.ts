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

/** Options of {@link ServingStore.getList}. */
export interface ListRange {
  /** @defaultValue 0 */
  offset?: number;
  /** @defaultValue the whole list */
  limit?: number;
}

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
  putLists(list: string, entries: Iterable<readonly [key: ExternalId, items: readonly ScoredItem[]]>): Promise<void>;
  /**
   * Makes this version the current one atomically, then removes versions older than the
   * previous one. Readers see either the old version or the new one, never a mix.
   */
  commit(): Promise<void>;
  /** Discards everything written; the current version is untouched. */
  abort(): Promise<void>;
}

/**
 * The store services read precomputed results from: versioned ranked lists (recommendations,
 * related items) plus a small key-value space for other online state. Backends: memory, SQLite
 * (embedded default) and Redis (production), chosen by URL in `app/`.
 */
export interface ServingStore {
  /** Starts writing a new version. Fails if `version` exists already or is malformed. */
  beginVersion(version: string, meta: Record<string, unknown>): Promise<VersionWriter>;
  /** The version readers currently see, or null before the first publish. */
  currentVersion(): Promise<VersionInfo | null>;
  /**
   * A ranked list of the current version (a slice of it with `range`), or null when the version
   * has no such key or nothing is published. Both the version lookup and the read happen against
   * one consistent version.
   */
  getList(list: string, key: ExternalId, range?: ListRange): Promise<ScoredItem[] | null>;
  /** Unversioned key-value state (JSON values). */
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  /** Whether the backend answers (for readiness checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
