import Database from 'better-sqlite3';
import { enableWal } from './sqlite-wal.js';
import {
  checkSeenCap,
  checkStateId,
  seenOrder,
  type UserExclusions,
  type UserStateStore,
  type UserStateStoreOptions,
} from './user-state-store.js';

/** Options of {@link SqliteUserStateStore}. */
export interface SqliteUserStateStoreOptions extends UserStateStoreOptions {
  /** How long a statement waits for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
}

// Tables carry a `user_state_` prefix, so the file may hold other stores' tables too.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS user_state_hidden (
  user TEXT NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY (user, item)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS user_state_seen (
  user TEXT NOT NULL,
  item TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (user, item)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_state_seen_at ON user_state_seen (user, at);
`;

/**
 * A {@link UserStateStore} in a SQLite file (WAL), shared by the processes of one machine;
 * `openUserStateStore` puts it beside the serving store's file. A user's seen items are ordered by
 * a per-user counter (`at`), so the cap drops the oldest whatever the clocks say.
 */
export class SqliteUserStateStore implements UserStateStore {
  readonly #db: Database.Database;
  readonly #cap: number;
  readonly #sql;

  /** Opens (creating) the file at `path`, or `:memory:`. */
  constructor(path: string, options: SqliteUserStateStoreOptions = {}) {
    this.#cap = checkSeenCap(options);
    this.#db = new Database(path);
    this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    if (path !== ':memory:') enableWal(this.#db, options.busyTimeoutMs ?? 5000);
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#sql = {
      hide: db.prepare<[string, string], never>(
        'INSERT INTO user_state_hidden (user, item) VALUES (?, ?) ON CONFLICT DO NOTHING',
      ),
      unhide: db.prepare<[string, string], never>(
        'DELETE FROM user_state_hidden WHERE user = ? AND item = ?',
      ),
      hidden: db
        .prepare<[string], string>('SELECT item FROM user_state_hidden WHERE user = ?')
        .pluck(),
      top: db
        .prepare<[string], number>(
          'SELECT COALESCE(MAX(at), 0) FROM user_state_seen WHERE user = ?',
        )
        .pluck(),
      see: db.prepare<[string, string, number], never>(
        'INSERT INTO user_state_seen (user, item, at) VALUES (?, ?, ?) ON CONFLICT (user, item) DO UPDATE SET at = excluded.at',
      ),
      trim: db.prepare<[string, string, number], never>(
        `DELETE FROM user_state_seen WHERE user = ? AND at < (
           SELECT at FROM user_state_seen WHERE user = ? ORDER BY at DESC LIMIT 1 OFFSET ?)`,
      ),
      seen: db
        .prepare<[string], string>(
          'SELECT item FROM user_state_seen WHERE user = ? ORDER BY at DESC',
        )
        .pluck(),
    };
  }

  async hide(user: string, item: string): Promise<void> {
    this.#sql.hide.run(checkStateId('user', user), checkStateId('item', item));
  }

  async unhide(user: string, item: string): Promise<void> {
    this.#sql.unhide.run(checkStateId('user', user), checkStateId('item', item));
  }

  async hidden(user: string): Promise<ReadonlySet<string>> {
    return new Set(this.#sql.hidden.all(user));
  }

  async markSeen(user: string, items: readonly string[]): Promise<void> {
    checkStateId('user', user);
    const ordered = seenOrder(items);
    if (ordered.length === 0) return;
    this.#db.transaction(() => {
      const top = this.#sql.top.get(user) ?? 0;
      ordered.forEach((item, i) => this.#sql.see.run(user, item, top + 1 + i));
      this.#sql.trim.run(user, user, this.#cap - 1);
    })();
  }

  async seen(user: string): Promise<string[]> {
    return this.#sql.seen.all(user);
  }

  async exclusions(user: string): Promise<UserExclusions> {
    return this.#db.transaction(() => ({
      hidden: new Set(this.#sql.hidden.all(user)),
      seen: this.#sql.seen.all(user),
    }))();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
