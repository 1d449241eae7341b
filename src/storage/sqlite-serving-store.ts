import Database from 'better-sqlite3';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
import {
  checkKvKey,
  checkListKeysOptions,
  checkListName,
  checkRange,
  checkVersionName,
  decodeItems,
  decodeVector,
  encodeJson,
  encodeKey,
  encodeMeta,
  keyCursor,
  vectorSpaceList,
  withDefaults,
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
  versionsToCollect,
} from './version-writer-base.js';
import { enableWal } from './sqlite-wal.js';

/** Options of {@link SqliteServingStore}. */
export interface SqliteServingStoreOptions {
  /** Rows written per transaction by `putLists`. @defaultValue 5000 */
  batchSize?: number;
  /** How long a statement waits for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /**
   * Open an existing file for reading only (another process publishes): nothing in the file is
   * created or changed, not even its journal mode, and writes fail. A missing file is an error;
   * a file without the serving tables reads as a store with nothing published. @defaultValue false
   */
  readOnly?: boolean;
  /**
   * Committed versions kept (the current one included), an integer ≥ 2; see
   * `VersionWriter.commit`. Applied by the process that commits. @defaultValue {@link DEFAULT_RETAIN_VERSIONS}
   */
  retainVersions?: number;
}

/** Defaults of {@link SqliteServingStoreOptions}. */
export const SQLITE_SERVING_STORE_DEFAULTS: Readonly<Required<SqliteServingStoreOptions>> =
  Object.freeze({
    batchSize: 5000,
    busyTimeoutMs: 5000,
    readOnly: false,
    retainVersions: DEFAULT_RETAIN_VERSIONS,
  });

// Tables carry a `serving_` prefix so the file may also hold the metadata store's tables.
// Versions are referred to by `seq` (begin order) inside the database: compact keys, and the
// order collection needs. `serving_current` has at most one row, the pointer readers follow.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS serving_versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL UNIQUE,
  meta TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'writing' CHECK (state IN ('writing', 'committed')),
  published_at TEXT
);
CREATE TABLE IF NOT EXISTS serving_current (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS serving_lists (
  seq INTEGER NOT NULL,
  list TEXT NOT NULL,
  key TEXT NOT NULL,
  items BLOB NOT NULL,
  PRIMARY KEY (seq, list, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS serving_kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/** The prepared statements a store and its writers share. */
type Statements = ReturnType<typeof prepare>;

function prepare(db: Database.Database) {
  return {
    insertVersion: db.prepare<[string, string], never>(
      'INSERT INTO serving_versions (version, meta) VALUES (?, ?)',
    ),
    versionState: db
      .prepare<[number], string>('SELECT state FROM serving_versions WHERE seq = ?')
      .pluck(),
    current: db.prepare<[], { version: string; meta: string; published_at: string }>(
      'SELECT v.version, v.meta, v.published_at FROM serving_current c JOIN serving_versions v ON v.seq = c.seq WHERE c.id = 1',
    ),
    currentSeq: db.prepare<[], number>('SELECT seq FROM serving_current WHERE id = 1').pluck(),
    // One statement resolves the pointer and reads the row: SQLite runs it on one snapshot.
    getList: db
      .prepare<[string, string], Buffer>(
        'SELECT l.items FROM serving_current c JOIN serving_lists l ON l.seq = c.seq AND l.list = ? AND l.key = ? WHERE c.id = 1',
      )
      .pluck(),
    getVersionList: db.prepare<[string, string, string], { items: Buffer | null }>(
      "SELECT l.items FROM serving_versions v LEFT JOIN serving_lists l ON l.seq = v.seq AND l.list = ? AND l.key = ? WHERE v.version = ? AND v.state = 'committed'",
    ),
    currentSeqVersion: db.prepare<[], { seq: number; version: string }>(
      'SELECT v.seq, v.version FROM serving_current c JOIN serving_versions v ON v.seq = c.seq WHERE c.id = 1',
    ),
    committedSeq: db
      .prepare<[string], number>(
        "SELECT seq FROM serving_versions WHERE version = ? AND state = 'committed'",
      )
      .pluck(),
    // Two statements rather than an OR, so that both are one range of the primary key.
    keysFirst: db
      .prepare<[number, string, number], string>(
        'SELECT key FROM serving_lists WHERE seq = ? AND list = ? ORDER BY key LIMIT ?',
      )
      .pluck(),
    keysAfter: db
      .prepare<[number, string, string, number], string>(
        'SELECT key FROM serving_lists WHERE seq = ? AND list = ? AND key > ? ORDER BY key LIMIT ?',
      )
      .pluck(),
    putRow: db.prepare<[number, string, string, Buffer], never>(
      'INSERT INTO serving_lists (seq, list, key, items) VALUES (?, ?, ?, ?) ON CONFLICT (seq, list, key) DO UPDATE SET items = excluded.items',
    ),
    markCommitted: db.prepare<[string, number], never>(
      "UPDATE serving_versions SET state = 'committed', published_at = ? WHERE seq = ?",
    ),
    setCurrent: db.prepare<[number], never>(
      'INSERT INTO serving_current (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq',
    ),
    held: db.prepare<[], { seq: number; version: string; published_at: string | null }>(
      "SELECT seq, version, CASE state WHEN 'committed' THEN published_at END AS published_at FROM serving_versions",
    ),
    committedVersions: db.prepare<
      [],
      { version: string; meta: string; published_at: string; current: number }
    >(
      "SELECT v.version, v.meta, v.published_at, v.seq = (SELECT seq FROM serving_current WHERE id = 1) AS current FROM serving_versions v WHERE v.state = 'committed' ORDER BY v.published_at DESC, v.seq DESC",
    ),
    seqOf: db
      .prepare<[string], number>('SELECT seq FROM serving_versions WHERE version = ?')
      .pluck(),
    deleteRows: db.prepare<[number], never>('DELETE FROM serving_lists WHERE seq = ?'),
    deleteVersion: db.prepare<[number], never>('DELETE FROM serving_versions WHERE seq = ?'),
    kvGet: db.prepare<[string], string>('SELECT value FROM serving_kv WHERE key = ?').pluck(),
    kvSet: db.prepare<[string, string], never>(
      'INSERT INTO serving_kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    kvDelete: db.prepare<[string], never>('DELETE FROM serving_kv WHERE key = ?'),
  };
}

/**
 * A {@link ServingStore} in one SQLite file (the embedded default), or `':memory:'`. The file is
 * opened in WAL mode so readers never wait for a publish, with `synchronous = NORMAL`: a power
 * loss may forget the last commits but never corrupts the file (the lists can be republished).
 * The schema is created on open; several processes may share the file.
 *
 * Each list is one row `(version, list, key) → encoded list` (see `serving-codec.ts`), so a request is one indexed read; the
 * current version is a one-row pointer switched inside a write transaction, and `getList` is a
 * single statement joining pointer and row, so it reads one consistent version. Versions other
 * than the `retainVersions` last committed are collected as `VersionWriter.commit` describes.
 *
 * @example
 * ```ts
 * const store = new SqliteServingStore('.kiban/serving.db');
 * const w = await store.beginVersion('20261125-als', { model: 'als' });
 * await w.putLists('user', lists); // Iterable<[userId, ScoredItem[]]>
 * await w.commit();
 * ```
 */
export class SqliteServingStore implements ServingStore {
  /** The options in force (defaults applied), frozen. */
  readonly options: Readonly<Required<SqliteServingStoreOptions>>;
  readonly #db: Database.Database;
  readonly #sql: Statements;

  /** Opens (creating if needed) the database at `path`; `':memory:'` keeps it in memory. */
  constructor(path: string, options: SqliteServingStoreOptions = {}) {
    this.options = withDefaults(SQLITE_SERVING_STORE_DEFAULTS, options);
    if (!Number.isSafeInteger(this.options.batchSize) || this.options.batchSize < 1) {
      throw new InvalidArgumentError(
        'batchSize',
        `must be an integer ≥ 1, got ${this.options.batchSize}`,
      );
    }
    checkRetainVersions(this.options.retainVersions);
    if (this.options.readOnly) {
      this.#db = new Database(path, { readonly: true, fileMustExist: true });
      this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.options.busyTimeoutMs))}`);
      // Empty TEMP stand-ins (private to this connection) when the file has no serving tables, so
      // that the statements prepare and every read finds nothing published.
      const tables = this.#db
        .prepare<[], number>(
          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'serving_current'",
        )
        .pluck()
        .get();
      if (tables === 0)
        this.#db.exec(
          SCHEMA.replaceAll('CREATE TABLE IF NOT EXISTS', 'CREATE TEMP TABLE IF NOT EXISTS'),
        );
      this.#sql = prepare(this.#db);
      return;
    }
    this.#db = new Database(path);
    // A list of 100 items is ~1.6 KB: 16 KiB pages hold several per page and halve the pages a
    // publish writes. Takes effect only when the file is created (a no-op on existing files).
    this.#db.pragma('page_size = 16384');
    enableWal(this.#db, this.options.busyTimeoutMs);
    this.#db.pragma('synchronous = NORMAL');
    // Reads through a memory map skip a copy per page; with WITHOUT ROWID (one B-tree lookup
    // instead of index then table) this took a list read from 14.7 µs to about 10 µs.
    this.#db.pragma('mmap_size = 268435456');
    this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.options.busyTimeoutMs))}`);
    this.#db.exec(SCHEMA);
    this.#sql = prepare(this.#db);
  }

  /** Registers `version` (refused if held already or malformed) and returns its writer. */
  async beginVersion(version: string, meta: Record<string, unknown>): Promise<VersionWriter> {
    checkVersionName(version);
    const metaJson = encodeMeta(meta);
    let seq: number;
    try {
      seq = Number(this.#sql.insertVersion.run(version, metaJson).lastInsertRowid);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new InvalidArgumentError('version', `${version} exists already`, { cause: error });
      }
      throw error;
    }
    return new SqliteVersionWriter(this.#db, this.#sql, version, seq, this.options);
  }

  /** The committed versions held, newest first; see {@link ServingStore.listVersions}. */
  async listVersions(): Promise<HeldVersionInfo[]> {
    return this.#sql.committedVersions.all().map((row) => ({
      version: row.version,
      meta: JSON.parse(row.meta) as Record<string, unknown>,
      publishedAt: row.published_at,
      current: row.current === 1,
    }));
  }

  /** Makes a held, committed version current again; see {@link ServingStore.rollback}. */
  async rollback(version: string): Promise<RollbackResult> {
    checkVersionName(version);
    const from = this.#rollback(version);
    return { from, to: version };
  }

  #rollbackTx: Database.Transaction<(version: string) => string | null> | undefined;

  // IMMEDIATE: the check and the switch happen under the write lock, so no commit's collection
  // can remove the version in between.
  #rollback(version: string): string | null {
    this.#rollbackTx ??= this.#db.transaction((name: string): string | null => {
      const seq = this.#sql.committedSeq.get(name);
      if (seq === undefined) throw new NotFoundError(`version ${name} of the serving store`);
      const from = this.#sql.currentSeqVersion.get()?.version ?? null;
      this.#sql.setCurrent.run(seq);
      return from;
    });
    return this.#rollbackTx.immediate(version);
  }

  /** The current version, or null before the first commit. */
  async currentVersion(): Promise<VersionInfo | null> {
    const row = this.#sql.current.get();
    return row === undefined
      ? null
      : {
          version: row.version,
          meta: JSON.parse(row.meta) as Record<string, unknown>,
          publishedAt: row.published_at,
        };
  }

  /** The slice of `list`/`key` in the current version, or null; see {@link ServingStore.getList}. */
  async getList(list: string, key: ExternalId, range?: ListRange): Promise<ScoredItem[] | null> {
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
    const list = vectorSpaceList(space);
    const k = encodeKey(key);
    const version = options?.version === undefined ? undefined : checkVersionName(options.version);
    const stored = this.#row(list, k, version);
    return stored === null ? null : decodeVector(stored);
  }

  /** The stored row of `list`/`key` in the current version or committed `version`, or null. */
  #row(list: string, key: string, version: string | undefined): Buffer | null {
    if (version !== undefined) {
      // One statement: the version check and the read happen on one snapshot.
      const row = this.#sql.getVersionList.get(list, key, version);
      if (row === undefined) throw new NotFoundError(`version ${version} of the serving store`);
      return row.items;
    }
    return this.#sql.getList.get(list, key) ?? null;
  }

  /** A page of the keys of `list`, in key (UTF-8 byte) order; see {@link ServingStore.listKeys}. */
  async listKeys(list: string, options?: ListKeysOptions): Promise<KeyPage> {
    checkListName(list);
    const { version: asked, position, limit } = checkListKeysOptions(options);
    // A read transaction: the version lookup and the page come from one snapshot.
    return this.#db.transaction((): KeyPage => {
      let found: { seq: number; version: string } | undefined;
      if (asked === undefined) {
        found = this.#sql.currentSeqVersion.get();
        if (found === undefined) return { version: null, keys: [], cursor: null };
      } else {
        const seq = this.#sql.committedSeq.get(asked);
        if (seq === undefined) throw new NotFoundError(`version ${asked} of the serving store`);
        found = { seq, version: asked };
      }
      // One key more than the page tells whether another page follows.
      const keys =
        position === null
          ? this.#sql.keysFirst.all(found.seq, list, limit + 1)
          : this.#sql.keysAfter.all(found.seq, list, position, limit + 1);
      const more = keys.length > limit;
      if (more) keys.length = limit;
      return {
        version: found.version,
        keys,
        cursor: more ? keyCursor(found.version, keys[limit - 1]) : null,
      };
    })();
  }

  /** The JSON value under `key`, or `undefined` when absent. */
  async get(key: string): Promise<unknown> {
    const stored = this.#sql.kvGet.get(checkKvKey(key));
    return stored === undefined ? undefined : JSON.parse(stored);
  }

  /** Stores `value` as JSON; `undefined` and other non-JSON values are refused. */
  async set(key: string, value: unknown): Promise<void> {
    this.#sql.kvSet.run(checkKvKey(key), encodeJson(value));
  }

  /** Removes `key`; absent keys are fine. */
  async delete(key: string): Promise<void> {
    this.#sql.kvDelete.run(checkKvKey(key));
  }

  /** Whether the database answers a query; false once closed. */
  async ping(): Promise<boolean> {
    try {
      return this.#db.open && this.#db.prepare('SELECT 1').pluck().get() === 1;
    } catch {
      return false;
    }
  }

  /** Closes the database; idempotent. Writers of this store cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

class SqliteVersionWriter extends BaseVersionWriter {
  #previousSeq: number | undefined;
  readonly #writeBatch: (list: string, rows: readonly EncodedRow[]) => void;
  readonly #switch: (publishedAt: string) => number | undefined;
  readonly #collect: (previousSeq: number | undefined) => void;
  readonly #discard: () => void;

  constructor(
    db: Database.Database,
    sql: Statements,
    version: string,
    seq: number,
    options: Readonly<Required<SqliteServingStoreOptions>>,
  ) {
    super(version, options.batchSize);
    const assertWriting = (): void => {
      if (sql.versionState.get(seq) !== 'writing') {
        throw new NotFoundError(`version ${version} (collected as abandoned before its commit)`);
      }
    };
    this.#writeBatch = db.transaction((list: string, rows: readonly EncodedRow[]) => {
      assertWriting();
      for (const [key, items] of rows) sql.putRow.run(seq, list, key, items);
    });
    // IMMEDIATE takes the write lock up front, so two committers cannot both read the old pointer.
    const switchTx = db.transaction((publishedAt: string) => {
      assertWriting();
      const previous = sql.currentSeq.get();
      sql.markCommitted.run(publishedAt, seq);
      sql.setCurrent.run(seq);
      return previous;
    });
    this.#switch = (publishedAt) => switchTx.immediate(publishedAt);
    // One transaction: the current pointer read here (a rollback may have moved it since the
    // switch) is the one kept.
    this.#collect = db.transaction((previousSeq: number | undefined) => {
      const held = sql.held.all();
      const keep = new Set([version]);
      const current = sql.currentSeq.get();
      for (const row of held)
        if (row.seq === previousSeq || row.seq === current) keep.add(row.version);
      const victims = versionsToCollect(
        held.map((row) => ({ version: row.version, seq: row.seq, publishedAt: row.published_at })),
        keep,
        options.retainVersions,
      );
      for (const name of victims) {
        const victim = sql.seqOf.get(name);
        if (victim === undefined) continue;
        sql.deleteRows.run(victim);
        sql.deleteVersion.run(victim);
      }
    });
    this.#discard = db.transaction(() => {
      sql.deleteRows.run(seq);
      sql.deleteVersion.run(seq);
    });
  }

  protected async writeBatch(list: string, rows: readonly EncodedRow[]): Promise<void> {
    this.#writeBatch(list, rows);
  }

  protected async switchIn(publishedAt: string): Promise<void> {
    this.#previousSeq = this.#switch(publishedAt);
  }

  protected async collect(): Promise<void> {
    this.#collect(this.#previousSeq);
  }

  protected async discard(): Promise<void> {
    this.#discard();
  }
}
