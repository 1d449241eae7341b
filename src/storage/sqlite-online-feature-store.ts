import Database from 'better-sqlite3';
import { enableWal } from './sqlite-wal.js';
import {
  checkMark,
  checkView,
  checkWrite,
  markJson,
  packRow,
  schemaId,
  unpackRow,
  withNames,
} from './online-feature-codec.js';
import type {
  EntityKey,
  MaterializedMark,
  OnlineFeatureStore,
  OnlineWrite,
  StoredOnlineRow,
} from '../features/online-store.js';

/** Options of {@link SqliteOnlineFeatureStore}. */
export interface SqliteOnlineStoreOptions {
  /** How long a write waits for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS feature_online (
  view TEXT NOT NULL,
  key TEXT NOT NULL,
  event_time NUMERIC NOT NULL,
  created_time NUMERIC NOT NULL,
  record BLOB NOT NULL,
  PRIMARY KEY (view, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feature_online_schema (
  view TEXT NOT NULL,
  schema TEXT NOT NULL,
  features TEXT NOT NULL,
  PRIMARY KEY (view, schema)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feature_online_mark (
  view TEXT PRIMARY KEY,
  mark TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * An {@link OnlineFeatureStore} in a SQLite file (the embedded default; `sqlite:PATH`), shared
 * by the processes of one machine through WAL. Table `feature_online` is keyed by `(view, key)`
 * and holds the packed record (see `online-feature-codec.ts`) with its event and created time; a write
 * is one transaction per call, newest-wins decided in SQL by an upsert whose `WHERE` compares the
 * times (and, when both are equal, the record). The name lists live in `feature_online_schema`,
 * the materialisation marks in `feature_online_mark`.
 *
 * @example
 * ```ts
 * const store = new SqliteOnlineFeatureStore('.kiban/features.db');
 * await store.read('user_stats', [entityKey(['u1'])]);
 * ```
 */
export class SqliteOnlineFeatureStore implements OnlineFeatureStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #names = new Map<string, readonly string[]>();
  readonly #writeChunk: (
    view: string,
    schema: string,
    features: string,
    rows: readonly OnlineWrite[],
    packed: Buffer[],
  ) => number;

  /** Opens (creating if needed) the store in `path`, or `:memory:` for one in memory. */
  constructor(path: string, options: SqliteOnlineStoreOptions = {}) {
    const busy = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    this.#db = new Database(path);
    enableWal(this.#db, busy);
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`busy_timeout = ${busy}`);
    this.#db.exec(SCHEMA);
    const sql = (this.#sql = prepare(this.#db));
    this.#writeChunk = this.#db.transaction((view, schema, features, rows, packed) => {
      sql.insertSchema.run(view, schema, features);
      let stored = 0;
      for (const [i, row] of rows.entries())
        stored += sql.upsert.run(view, row.key, row.eventTime, row.createdTime, packed[i]).changes;
      return stored;
    });
  }

  async write(
    view: string,
    features: readonly string[],
    rows: readonly OnlineWrite[],
  ): Promise<number> {
    checkWrite(view, features);
    const schema = schemaId(features);
    const packed = rows.map((row, i) => packRow(row, schema, features.length, i));
    if (rows.length === 0) return 0;
    return this.#writeChunk(view, schema, JSON.stringify(features), rows, packed);
  }

  async read(view: string, keys: readonly EntityKey[]): Promise<(StoredOnlineRow | null)[]> {
    checkView(view);
    return keys.map((key) => {
      const bytes = this.#sql.get.get(view, key) as Buffer | undefined;
      if (bytes === undefined) return null;
      const row = unpackRow(bytes);
      return withNames(row, this.#namesOf(view, row.schema));
    });
  }

  async clearView(view: string): Promise<void> {
    checkView(view);
    this.#db.transaction(() => {
      this.#sql.clearRows.run(view);
      this.#sql.clearSchemas.run(view);
      this.#sql.clearMark.run(view);
    })();
  }

  async getMaterialized(view: string): Promise<MaterializedMark | null> {
    checkView(view);
    const json = this.#sql.getMark.get(view) as string | undefined;
    return json === undefined ? null : (JSON.parse(json) as MaterializedMark);
  }

  async setMaterialized(view: string, mark: MaterializedMark): Promise<void> {
    checkView(view);
    checkMark(mark);
    this.#sql.setMark.run(view, markJson(mark));
  }

  async listMaterialized(): Promise<Map<string, MaterializedMark>> {
    const rows = this.#sql.listMarks.all() as { view: string; mark: string }[];
    return new Map(rows.map((r) => [r.view, JSON.parse(r.mark) as MaterializedMark]));
  }

  async sampleKeys(view: string, limit: number): Promise<EntityKey[]> {
    checkView(view);
    return this.#sql.sampleKeys.all(view, Math.max(0, Math.floor(limit))) as EntityKey[];
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  /** The names of a schema id (immutable: content-addressed, so cached for ever). */
  #namesOf(view: string, schema: string): readonly string[] {
    const cacheKey = `${view}\u0000${schema}`;
    let names = this.#names.get(cacheKey);
    if (names === undefined) {
      const json = this.#sql.getSchema.get(view, schema) as string;
      names = Object.freeze(JSON.parse(json) as string[]);
      this.#names.set(cacheKey, names);
    }
    return names;
  }
}

function prepare(db: Database.Database) {
  return {
    upsert: db.prepare(
      `INSERT INTO feature_online (view, key, event_time, created_time, record) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (view, key) DO UPDATE SET event_time = excluded.event_time,
         created_time = excluded.created_time, record = excluded.record
       WHERE excluded.event_time > feature_online.event_time
          OR (excluded.event_time = feature_online.event_time
              AND (excluded.created_time > feature_online.created_time
                   OR (excluded.created_time = feature_online.created_time
                       AND excluded.record <> feature_online.record)))`,
    ),
    insertSchema: db.prepare(
      'INSERT OR IGNORE INTO feature_online_schema (view, schema, features) VALUES (?, ?, ?)',
    ),
    get: db.prepare('SELECT record FROM feature_online WHERE view = ? AND key = ?').pluck(),
    getSchema: db
      .prepare('SELECT features FROM feature_online_schema WHERE view = ? AND schema = ?')
      .pluck(),
    clearRows: db.prepare('DELETE FROM feature_online WHERE view = ?'),
    clearSchemas: db.prepare('DELETE FROM feature_online_schema WHERE view = ?'),
    clearMark: db.prepare('DELETE FROM feature_online_mark WHERE view = ?'),
    getMark: db.prepare('SELECT mark FROM feature_online_mark WHERE view = ?').pluck(),
    setMark: db.prepare(
      'INSERT INTO feature_online_mark (view, mark) VALUES (?, ?) ON CONFLICT (view) DO UPDATE SET mark = excluded.mark',
    ),
    listMarks: db.prepare('SELECT view, mark FROM feature_online_mark ORDER BY view'),
    // The primary key's order: the first `limit` keys of the view, read from the index.
    sampleKeys: db
      .prepare('SELECT key FROM feature_online WHERE view = ? ORDER BY key LIMIT ?')
      .pluck(),
  };
}
