import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDialectConfig } from 'kysely';

/**
 * Makes concurrent migrations of one SQLite file safe.
 *
 * Kysely's SQLite adapter takes no migration lock (it assumes a single connection), so two
 * processes opening a fresh file together could both see a migration pending and both run it,
 * the second failing on "table already exists". Here migrations run in one transaction begun
 * with `BEGIN IMMEDIATE`, which takes SQLite's database-wide write lock before the migrator reads
 * what has run: another process waits (up to the connection's `busy_timeout`), then finds the
 * work done. A failed migration also rolls back whole, since SQLite's DDL is transactional.
 */
export class LockingSqliteAdapter extends SqliteAdapter {
  /** True: SQLite rolls back `create table` and friends with the transaction. */
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
  // acquire/releaseMigrationLock stay no-ops: Kysely calls them outside the migration
  // transaction, where a lock-row write would be released at once; the transaction is the lock.
}

/**
 * A SQLite driver whose transactions start with `BEGIN IMMEDIATE`. A plain (deferred) `BEGIN`
 * starts as a reader; in WAL mode its first write then fails with "database is locked", without
 * waiting, whenever another connection has written since the transaction began.
 */
export class ImmediateSqliteDriver extends SqliteDriver {
  /** Begins a transaction holding the write lock. */
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** A {@link SqliteDialect} with {@link ImmediateSqliteDriver} and {@link LockingSqliteAdapter}. */
export class LockingSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  /** The immediate-transaction driver. */
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  /** The transactional-DDL adapter. */
  override createAdapter(): DialectAdapter {
    return new LockingSqliteAdapter();
  }
}

// better-sqlite3 is synchronous, so within one process a second connection that meets the write
// lock would block the whole event loop for `busy_timeout` (and the holder could not finish
// meanwhile). Migrations of the same file from one process therefore queue here instead.
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `task` after every earlier task queued under `key` (a resolved file path) has settled,
 * whether it succeeded or not.
 */
export function serializeByKey<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  // Forget the key once the queue drains, so the map does not grow with every file ever opened.
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}
