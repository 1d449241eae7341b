import type Database from 'better-sqlite3';

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches a SQLite file to write-ahead logging, waiting up to `timeoutMs` for other processes.
 * The switch needs the file to itself for a moment, and when several processes open a fresh file
 * together SQLite can answer SQLITE_BUSY at once, without calling the busy handler (so
 * `busy_timeout` does not help); this retries every 10 ms instead. A no-op on an in-memory
 * database and on a file already in WAL mode.
 */
export function enableWal(db: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline)
        throw error;
      Atomics.wait(pause, 0, 0, 10); // opening a store is synchronous; a short blocking pause
    }
  }
}
