import Database from 'better-sqlite3';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import {
  checkBanditName,
  checkDecisionId,
  checkDecisionIds,
  checkIncrements,
  checkTtl,
  type BanditStatistics,
  type BanditStore,
  type DecisionLookup,
  type FeedbackCommit,
  type StoredBandit,
} from './bandit-store.js';
import { enableWal } from './sqlite-wal.js';

/** Options of {@link SqliteBanditStore}. */
export interface SqliteBanditStoreOptions {
  /** How long a statement waits for another process's write lock, in ms. @defaultValue 5000 */
  busyTimeoutMs?: number;
  /** The clock decisions expire by, in ms (for tests). @defaultValue Date.now */
  now?: () => number;
}

// Tables carry a `bandit_` prefix so the file may also hold the serving and metadata stores' tables.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS bandit_definitions (
  name TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bandit_statistics (
  name TEXT NOT NULL,
  arm TEXT NOT NULL,
  totals BLOB NOT NULL,
  PRIMARY KEY (name, arm)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bandit_decisions (
  name TEXT NOT NULL,
  id TEXT NOT NULL,
  record TEXT NOT NULL,
  expires INTEGER NOT NULL,
  claimed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, id)
) WITHOUT ROWID;
`;

function prepare(db: Database.Database) {
  return {
    insertDefinition: db.prepare<[string, string], never>(
      'INSERT INTO bandit_definitions (name, definition) VALUES (?, ?) ON CONFLICT (name) DO NOTHING',
    ),
    getDefinition: db.prepare<[string], { definition: string; version: number }>(
      'SELECT definition, version FROM bandit_definitions WHERE name = ?',
    ),
    names: db.prepare<[], string>('SELECT name FROM bandit_definitions ORDER BY name').pluck(),
    deleteDefinition: db.prepare<[string], never>('DELETE FROM bandit_definitions WHERE name = ?'),
    deleteStatistics: db.prepare<[string], never>('DELETE FROM bandit_statistics WHERE name = ?'),
    bumpVersion: db
      .prepare<[string], number>(
        'UPDATE bandit_definitions SET version = version + 1 WHERE name = ? RETURNING version',
      )
      .pluck(),
    getTotals: db
      .prepare<[string, string], Buffer>(
        'SELECT totals FROM bandit_statistics WHERE name = ? AND arm = ?',
      )
      .pluck(),
    putTotals: db.prepare<[string, string, Buffer], never>(
      'INSERT INTO bandit_statistics (name, arm, totals) VALUES (?, ?, ?) ON CONFLICT (name, arm) DO UPDATE SET totals = excluded.totals',
    ),
    allTotals: db.prepare<[string], { arm: string; totals: Buffer }>(
      'SELECT arm, totals FROM bandit_statistics WHERE name = ?',
    ),
    putDecision: db.prepare<[string, string, string, number], never>(
      'INSERT INTO bandit_decisions (name, id, record, expires) VALUES (?, ?, ?, ?) ON CONFLICT (name, id) DO UPDATE SET record = excluded.record, expires = excluded.expires, claimed = 0',
    ),
    liveDecision: db.prepare<[string, string, number], { record: string; claimed: number }>(
      'SELECT record, claimed FROM bandit_decisions WHERE name = ? AND id = ? AND expires > ?',
    ),
    claim: db.prepare<[string, string], never>(
      'UPDATE bandit_decisions SET claimed = 1 WHERE name = ? AND id = ?',
    ),
    sweep: db.prepare<[number], never>('DELETE FROM bandit_decisions WHERE expires <= ?'),
  };
}

/**
 * A {@link BanditStore} in a SQLite file (the embedded default): the processes of one machine
 * share it. Each change is one `BEGIN IMMEDIATE` transaction, which takes the database's write
 * lock first, so read-add-write of statistics and the exactly-once marking of decisions hold
 * across processes.
 * Totals are little-endian doubles per (bandit, arm) row. Expired decisions are deleted every
 * 1,000 puts.
 */
export class SqliteBanditStore implements BanditStore {
  readonly #db: Database.Database;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #now: () => number;
  #puts = 0;

  /** Opens (creating) the database at `path` (`:memory:` for a private one) in WAL mode. */
  constructor(path: string, options: SqliteBanditStoreOptions = {}) {
    this.#db = new Database(path);
    this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    if (path !== ':memory:') enableWal(this.#db, options.busyTimeoutMs ?? 5000);
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#sql = prepare(this.#db);
    this.#now = options.now ?? Date.now;
  }

  async createBandit(
    name: string,
    definition: string,
  ): Promise<{ created: boolean; definition: string }> {
    checkBanditName(name);
    return this.#db
      .transaction(() => {
        const created = this.#sql.insertDefinition.run(name, definition).changes === 1;
        return {
          created,
          definition: created
            ? definition
            : (this.#sql.getDefinition.get(name) as { definition: string }).definition,
        };
      })
      .immediate();
  }

  async getBandit(name: string): Promise<StoredBandit | null> {
    const row = this.#sql.getDefinition.get(checkBanditName(name));
    return row === undefined ? null : { definition: row.definition, version: row.version };
  }

  async listBandits(): Promise<string[]> {
    return this.#sql.names.all();
  }

  async deleteBandit(name: string): Promise<boolean> {
    checkBanditName(name);
    return this.#db
      .transaction(() => {
        this.#sql.deleteStatistics.run(name);
        return this.#sql.deleteDefinition.run(name).changes === 1;
      })
      .immediate();
  }

  async addStatistics(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
  ): Promise<number> {
    const commit = await this.commitFeedback(name, width, increments, []);
    return (commit as { version: number }).version;
  }

  async commitFeedback(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
    decisionIds: readonly string[],
  ): Promise<FeedbackCommit> {
    checkBanditName(name);
    checkIncrements(width, increments);
    checkDecisionIds(decisionIds);
    const now = this.#now();
    return this.#db
      .transaction((): FeedbackCommit => {
        const held = this.#sql.getDefinition.get(name);
        if (held === undefined) throw new NotFoundError(`bandit "${name}"`);
        const current = new Map<string, Buffer | undefined>();
        for (const arm of increments.keys()) {
          const totals = this.#sql.getTotals.get(name, arm);
          if (totals !== undefined && totals.length !== width * 8)
            throw new InvalidArgumentError(
              'width',
              `is ${width}, the stored statistics of "${name}" have ${totals.length / 8}`,
            );
          current.set(arm, totals);
        }
        const refused = new Map<string, 'unknown' | 'duplicate'>();
        for (const id of decisionIds) {
          const decision = this.#sql.liveDecision.get(name, id, now);
          if (decision === undefined || decision.claimed === 1)
            refused.set(id, decision === undefined ? 'unknown' : 'duplicate');
        }
        if (refused.size > 0) return { status: 'refused', refused };
        for (const id of decisionIds) this.#sql.claim.run(name, id);
        if (increments.size === 0) return { status: 'stored', version: held.version };
        for (const [arm, v] of increments) {
          const totals = current.get(arm);
          const out = Buffer.allocUnsafe(width * 8);
          for (let j = 0; j < width; j++)
            out.writeDoubleLE(
              (totals === undefined ? 0 : totals.readDoubleLE(j * 8)) + v[j],
              j * 8,
            );
          this.#sql.putTotals.run(name, arm, out);
        }
        return { status: 'stored', version: this.#sql.bumpVersion.get(name) as number };
      })
      .immediate();
  }

  async readStatistics(name: string, width: number): Promise<BanditStatistics | null> {
    checkBanditName(name);
    // One read transaction: the version and the rows come from one snapshot.
    return this.#db.transaction(() => {
      const held = this.#sql.getDefinition.get(name);
      if (held === undefined) return null;
      const arms = new Map<string, Float64Array>();
      for (const { arm, totals } of this.#sql.allTotals.all(name)) {
        if (totals.length !== width * 8)
          throw new InvalidArgumentError(
            'width',
            `is ${width}, the stored statistics of "${name}" have ${totals.length / 8}`,
          );
        const v = new Float64Array(width);
        for (let j = 0; j < width; j++) v[j] = totals.readDoubleLE(j * 8);
        arms.set(arm, v);
      }
      return { version: held.version, arms };
    })();
  }

  async putDecision(name: string, id: string, record: string, ttlMs: number): Promise<void> {
    checkTtl(ttlMs);
    const now = this.#now();
    this.#sql.putDecision.run(checkBanditName(name), checkDecisionId(id), record, now + ttlMs);
    if (++this.#puts % 1000 === 0) this.#sql.sweep.run(now);
  }

  async getDecision(name: string, id: string): Promise<DecisionLookup> {
    const decision = this.#sql.liveDecision.get(
      checkBanditName(name),
      checkDecisionId(id),
      this.#now(),
    );
    if (decision === undefined) return { status: 'unknown' };
    return decision.claimed === 1
      ? { status: 'duplicate' }
      : { status: 'open', record: decision.record };
  }

  async ping(): Promise<boolean> {
    return this.#db.open;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
