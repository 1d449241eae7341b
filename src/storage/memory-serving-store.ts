import { InvalidArgumentError, KibanError, NotFoundError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
import {
  checkKvKey,
  checkListKeysOptions,
  checkListName,
  checkRange,
  compareKeys,
  checkVersionName,
  decodeItems,
  decodeVector,
  encodeJson,
  encodeKey,
  encodeMeta,
  keyCursor,
  vectorSpaceList,
} from './serving-codec.js';
import {
  DEFAULT_RETAIN_VERSIONS,
  type HeldVersionInfo,
  type KeyPage,
  type ListKeysOptions,
  type ListRange,
  type RollbackResult,
  type ScoredItem,
  type ServingStore,
  type VersionInfo,
  type VersionWriter,
} from './serving-store.js';
import {
  BaseVersionWriter,
  checkRetainVersions,
  type EncodedRow,
  newestPublishedFirst,
  versionsToCollect,
} from './version-writer-base.js';

/** Options of {@link MemoryServingStore}. */
export interface MemoryServingStoreOptions {
  /**
   * Committed versions kept (the current one included), an integer ≥ 2; see
   * {@link VersionWriter.commit}. @defaultValue {@link DEFAULT_RETAIN_VERSIONS}
   */
  retainVersions?: number;
}

/** A version the store holds: its begin order and its lists by `list:key`. */
interface HeldVersion {
  readonly seq: number;
  readonly rows: Map<string, Buffer>;
  /** Set when the version is switched in; only committed versions are read by name. */
  committed: boolean;
  /** Its {@link VersionInfo} as JSON, set when it is switched in. */
  info: string | null;
}

/** The state a store shares with its writers. */
interface MemoryState {
  readonly versions: Map<string, HeldVersion>;
  nextSeq: number;
  /** The current version and its {@link VersionInfo} as JSON (copied out on every read). */
  current: { version: string; info: string } | null;
  readonly kv: Map<string, string>;
  closed: boolean;
  readonly retainVersions: number;
}

/**
 * A {@link ServingStore} held in process memory, for tests and `memory:` URLs. Lists are kept in
 * their encoded form (the same bytes the SQLite and Redis stores keep), so values are copied in and
 * out, and a test against it sees exactly what the persistent backends return.
 *
 * Semantics shared by all backends: a version name is refused while the store still holds it
 * (being written, committed and kept, or abandoned and not yet collected); commit switches the
 * current version in one step and then collects old versions as {@link VersionWriter.commit}
 * says (keeping `retainVersions` committed ones); {@link MemoryServingStore.rollback} switches
 * back to a kept one. Nothing survives {@link MemoryServingStore.close}.
 *
 * @example
 * ```ts
 * const store = new MemoryServingStore();
 * const w = await store.beginVersion('v1', { model: 'als' });
 * await w.putLists('user', [[42, [{ id: 7, score: 0.9 }]]]);
 * await w.commit();
 * await store.getList('user', 42); // [{ id: 7, score: 0.9 }]
 * ```
 */
export class MemoryServingStore implements ServingStore {
  readonly #state: MemoryState;

  /** An empty store. @throws InvalidArgumentError naming `retainVersions` when it is not an integer ≥ 2. */
  constructor(options: MemoryServingStoreOptions = {}) {
    this.#state = {
      versions: new Map(),
      nextSeq: 1,
      current: null,
      kv: new Map(),
      closed: false,
      retainVersions: checkRetainVersions(options.retainVersions ?? DEFAULT_RETAIN_VERSIONS),
    };
  }

  /** Registers `version` (refused if held already or malformed) and returns its writer. */
  async beginVersion(version: string, meta: Record<string, unknown>): Promise<VersionWriter> {
    this.#open();
    checkVersionName(version);
    const metaJson = encodeMeta(meta);
    if (this.#state.versions.has(version))
      throw new InvalidArgumentError('version', `${version} exists already`);
    const held: HeldVersion = {
      seq: this.#state.nextSeq++,
      rows: new Map(),
      committed: false,
      info: null,
    };
    this.#state.versions.set(version, held);
    return new MemoryVersionWriter(this.#state, version, held, metaJson);
  }

  /** The current version (a fresh copy), or null before the first commit. */
  async currentVersion(): Promise<VersionInfo | null> {
    this.#open();
    const current = this.#state.current;
    return current === null ? null : (JSON.parse(current.info) as VersionInfo);
  }

  /** The committed versions held, newest first; see {@link ServingStore.listVersions}. */
  async listVersions(): Promise<HeldVersionInfo[]> {
    this.#open();
    const current = this.#state.current?.version;
    const held: { seq: number; info: VersionInfo }[] = [];
    for (const version of this.#state.versions.values())
      if (version.info !== null)
        held.push({ seq: version.seq, info: JSON.parse(version.info) as VersionInfo });
    return held
      .map(({ seq, info }) => ({ ...info, seq }))
      .sort(newestPublishedFirst)
      .map(({ seq: _, ...info }) => ({ ...info, current: info.version === current }));
  }

  /** Makes a held, committed version current again; see {@link ServingStore.rollback}. */
  async rollback(version: string): Promise<RollbackResult> {
    this.#open();
    checkVersionName(version);
    const held = this.#state.versions.get(version);
    if (held === undefined || held.info === null)
      throw new NotFoundError(`version ${version} of the serving store`);
    const from = this.#state.current?.version ?? null;
    this.#state.current = { version, info: held.info };
    return { from, to: version };
  }

  /** The slice of `list`/`key` in the current version, or null; see {@link ServingStore.getList}. */
  async getList(list: string, key: ExternalId, range?: ListRange): Promise<ScoredItem[] | null> {
    this.#open();
    checkListName(list);
    const k = encodeKey(key);
    const r = checkRange(range);
    const stored = this.#row(list, k, r.version);
    return stored === null ? null : decodeItems(stored, r);
  }

  /** The vector of `space`/`key`, or null; see {@link ServingStore.getVector}. */
  async getVector(
    space: string,
    key: ExternalId,
    options?: { version?: string },
  ): Promise<Float32Array | null> {
    this.#open();
    const list = vectorSpaceList(space);
    const k = encodeKey(key);
    const version = options?.version === undefined ? undefined : checkVersionName(options.version);
    const stored = this.#row(list, k, version);
    return stored === null ? null : decodeVector(stored);
  }

  /** The stored row of `list`/`key` in a version (see {@link #version}), or null. */
  #row(list: string, key: string, version: string | undefined): Buffer | null {
    // Synchronous from pointer to row: no other callback can switch versions in between.
    const held = this.#version(version);
    if (held === null) return null;
    return held.rows.get(`${list}:${key}`) ?? null;
  }

  /** A page of the keys of `list`, in UTF-8 byte order; see {@link ServingStore.listKeys}. */
  async listKeys(list: string, options?: ListKeysOptions): Promise<KeyPage> {
    this.#open();
    checkListName(list);
    const { version, position, limit } = checkListKeysOptions(options);
    const held = this.#version(version);
    if (held === null) return { version: null, keys: [], cursor: null };
    const name = version ?? this.#state.current!.version;
    const prefix = `${list}:`;
    const all: string[] = [];
    for (const row of held.rows.keys())
      if (row.startsWith(prefix)) all.push(row.slice(prefix.length));
    all.sort(compareKeys);
    let start = 0;
    if (position !== null)
      while (start < all.length && compareKeys(all[start], position) <= 0) start++;
    const keys = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return { version: name, keys, cursor: more ? keyCursor(name, keys[keys.length - 1]) : null };
  }

  /** The JSON value under `key` (a fresh copy), or `undefined` when absent. */
  async get(key: string): Promise<unknown> {
    this.#open();
    const stored = this.#state.kv.get(checkKvKey(key));
    return stored === undefined ? undefined : JSON.parse(stored);
  }

  /** Stores a JSON copy of `value`; `undefined` and other non-JSON values are refused. */
  async set(key: string, value: unknown): Promise<void> {
    this.#open();
    this.#state.kv.set(checkKvKey(key), encodeJson(value));
  }

  /** Removes `key`; absent keys are fine. */
  async delete(key: string): Promise<void> {
    this.#open();
    this.#state.kv.delete(checkKvKey(key));
  }

  /** True until {@link close}. */
  async ping(): Promise<boolean> {
    return !this.#state.closed;
  }

  /** Drops everything; later calls (but `ping` and `close`) throw. Idempotent. */
  async close(): Promise<void> {
    this.#state.closed = true;
    this.#state.versions.clear();
    this.#state.kv.clear();
    this.#state.current = null;
  }

  #open(): void {
    if (this.#state.closed) throw new KibanError('INTERNAL', 'memory serving store: closed');
  }

  /** The committed version `name`, or the current one (null when none) when `name` is undefined. */
  #version(name: string | undefined): HeldVersion | null {
    if (name === undefined)
      return this.#state.current === null
        ? null
        : (this.#state.versions.get(this.#state.current.version) ?? null);
    const held = this.#state.versions.get(name);
    if (held === undefined || !held.committed)
      throw new NotFoundError(`version ${name} of the serving store`);
    return held;
  }
}

class MemoryVersionWriter extends BaseVersionWriter {
  #previous: string | null = null;

  constructor(
    private readonly state: MemoryState,
    version: string,
    private readonly held: HeldVersion,
    private readonly metaJson: string,
  ) {
    super(version, 1000);
  }

  protected async writeBatch(list: string, rows: readonly EncodedRow[]): Promise<void> {
    this.#assertHeld();
    for (const [key, items] of rows) this.held.rows.set(`${list}:${key}`, items);
  }

  protected async switchIn(publishedAt: string): Promise<void> {
    this.#assertHeld();
    this.#previous = this.state.current?.version ?? null;
    const info = `{"version":${JSON.stringify(this.version)},"meta":${this.metaJson},"publishedAt":"${publishedAt}"}`;
    this.state.current = { version: this.version, info };
    this.held.committed = true;
    this.held.info = info;
  }

  protected async collect(): Promise<void> {
    if (this.state.closed) return;
    const keep = new Set([this.version]);
    if (this.#previous !== null) keep.add(this.#previous);
    if (this.state.current !== null) keep.add(this.state.current.version);
    const held = [...this.state.versions].map(([version, v]) => ({
      version,
      seq: v.seq,
      publishedAt: v.info === null ? null : (JSON.parse(v.info) as VersionInfo).publishedAt,
    }));
    for (const name of versionsToCollect(held, keep, this.state.retainVersions))
      this.state.versions.delete(name);
  }

  protected async discard(): Promise<void> {
    if (this.state.versions.get(this.version) === this.held)
      this.state.versions.delete(this.version);
  }

  /** A writer left behind long enough to be collected (or a closed store) cannot write or commit. */
  #assertHeld(): void {
    if (this.state.closed) throw new KibanError('INTERNAL', 'memory serving store: closed');
    if (this.state.versions.get(this.version) !== this.held) {
      throw new NotFoundError(`version ${this.version} (collected as abandoned before its commit)`);
    }
  }
}
