import { resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import type { QueryCreator } from 'kysely';
import { InvalidArgumentError, KibanError } from '../core/errors.js';
import {
  METADATA_MIGRATION_LOCK_TABLE,
  METADATA_MIGRATION_TABLE,
  MetadataMigrationProvider,
} from './metadata-migrations.js';
import { KyselyWorkflowStore, type WriteQueue } from './kysely-workflow-store.js';
import type { ModelRecord, MetadataStore } from './metadata-store.js';
import { toModel } from './metadata-tables.js';
import type { MetadataDatabase } from './metadata-tables.js';
import {
  optionalText,
  requireDate,
  requireLimit,
  requireText,
  toJsonText,
  toNumbersJsonText,
} from './metadata-validation.js';
import { LockingSqliteDialect, serializeByKey } from './sqlite-migration-lock.js';
import type { WorkflowStore } from '../workflow/workflow-store.js';
import { enableWal } from './sqlite-wal.js';
import { KyselyExperimentStore } from './kysely-experiment-store.js';
import type { ExperimentStore } from '../experiments/experiment-store.js';
import type { AuditStore } from '../auth/audit-store.js';
import { KyselyAuditStore } from './kysely-audit-store.js';
import { KyselyVectorUpdateStore } from './kysely-vector-update-store.js';
import { KyselyInteractionStore } from './kysely-interaction-store.js';
import type { InteractionStore } from './interaction-store.js';
import type { VectorUpdateStore } from '../vectors/vector-update-store.js';
import type { ApiKeyStore } from '../auth/api-keys.js';
import { KyselyApiKeyStore } from './kysely-api-key-store.js';
import { KyselyFeatureRegistry } from './kysely-feature-registry.js';
import type { FeatureRegistry } from '../features/feature-registry.js';
import type { PrivacyLedger } from '../privacy/privacy-ledger.js';
import { KyselyPrivacyLedger } from './kysely-privacy-ledger.js';

/** How many rows `listModels` returns when no limit is given. */
export const DEFAULT_LIST_LIMIT = 50;

/** Options of the {@link KyselyMetadataStore} constructor. */
export interface KyselyMetadataStoreOptions {
  /**
   * PostgreSQL schema holding the tables (and the migrator's bookkeeping tables); `migrate()`
   * creates it. Leave undefined on SQLite, which has no schemas.
   * @defaultValue undefined (unqualified table names)
   */
  schema?: string;
}

/** Options of {@link KyselyMetadataStore.postgres}. */
export interface PostgresMetadataStoreOptions {
  /**
   * Schema holding the tables, created by `migrate()`. Always set (never left to `search_path`)
   * because Kysely's migrator, when given no schema, treats a bookkeeping table in *any* schema
   * as its own; a separate schema also lets tests and tenants isolate themselves.
   * @defaultValue 'public'
   */
  schema?: string;
  /** Size of the connection pool. @defaultValue 10 */
  maxConnections?: number;
}

/** Defaults of {@link PostgresMetadataStoreOptions}. */
export const DEFAULT_POSTGRES_METADATA_OPTIONS: Readonly<Required<PostgresMetadataStoreOptions>> =
  Object.freeze({
    schema: 'public',
    maxConnections: 10,
  });

/** How long a SQLite statement waits for another connection's write lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

// Lower-case unquoted-style identifiers only: they need no quoting in psql and cannot collide by case.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The one {@link MetadataStore} implementation: typed queries over `Kysely<MetadataDatabase>`,
 * where the SQL dialect (SQLite or PostgreSQL) is the only thing that varies. Call
 * {@link KyselyMetadataStore.migrate} once before use. Records are validated before they are
 * written, so whatever is stored reads back equal (JSON exactly, timestamps to the millisecond).
 *
 * @example
 * ```ts
 * const store = KyselyMetadataStore.sqlite('./.kiban/meta.db');
 * await store.migrate();
 * await store.insertModel({ id: 'm1', kind: 'als', params: {}, dataSnapshot: {}, metrics: {}, artifactPath: 'models/m1', createdAt: new Date() });
 * const model = await store.getModel('m1');
 * await store.close();
 * ```
 */
export class KyselyMetadataStore implements MetadataStore {
  readonly #db: Kysely<MetadataDatabase>;
  /** Query builder whose table names are qualified with the schema, when there is one. */
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #schema: string | undefined;
  /** Resolved path of a SQLite file, under which this process queues its migrations of that file. */
  #migrationQueueKey: string | undefined;
  #closed = false;
  /** Workflow runs, tasks, attempts and logs, in this store's database (closed with it). */
  readonly workflows: WorkflowStore;
  /** A/B experiments and their events, in this store's database (closed with it). */
  readonly experiments: ExperimentStore;
  /** The audit log of writes to the HTTP API, in this store's database (closed with it). */
  readonly audit: AuditStore;
  /** API keys (their HMACs, never secrets), in this store's database (closed with it). */
  readonly apiKeys: ApiKeyStore;
  /** Incremental vector index changes, in this store's database (closed with it). */
  readonly vectorUpdates: VectorUpdateStore;
  /** User–item interactions written through the API, in this store's database (closed with it). */
  readonly interactions: InteractionStore;
  /** The feature registry (versioned feature definitions), in this store's database (closed with it). */
  readonly featureRegistry: FeatureRegistry;
  /** The privacy-budget ledger of differentially private releases, in this store's database (closed with it). */
  readonly privacyLedger: PrivacyLedger;

  /**
   * Wraps a Kysely instance; the store owns it from then on and destroys it in {@link close}.
   * Prefer {@link KyselyMetadataStore.sqlite} and {@link KyselyMetadataStore.postgres}.
   */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyMetadataStoreOptions = {}) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new InvalidArgumentError(
        'schema',
        `must match ${SCHEMA_NAME.source}, got "${options.schema}"`,
      );
    }
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    // Read at each write: `sqlite()` sets the key after construction (see the workflow store below).
    const serializeWrites: WriteQueue = (write) => {
      const key = this.#migrationQueueKey;
      return key === undefined ? write() : serializeByKey(key, write);
    };
    this.experiments = new KyselyExperimentStore(db, { schema: options.schema, serializeWrites });
    this.audit = new KyselyAuditStore(db, { schema: options.schema, serializeWrites });
    this.apiKeys = new KyselyApiKeyStore(db, { schema: options.schema, serializeWrites });
    this.vectorUpdates = new KyselyVectorUpdateStore(db, {
      schema: options.schema,
      serializeWrites,
    });
    this.interactions = new KyselyInteractionStore(db, {
      schema: options.schema,
      serializeWrites,
    });
    this.featureRegistry = new KyselyFeatureRegistry(db, {
      schema: options.schema,
      serializeWrites,
    });
    // Its reservations are transactions that must hold SQLite's write lock from their first read
    // (this dialect begins them IMMEDIATE), so they queue with the file's other writes.
    this.privacyLedger = new KyselyPrivacyLedger(db, { schema: options.schema, serializeWrites });
    this.workflows = new KyselyWorkflowStore(db, {
      schema: options.schema,
      // Read at each write: `sqlite()` sets the key after construction. Workflow writes share the
      // migrations' per-file queue, because a createRun transaction left open across an await
      // would otherwise make another store's write on the same file block the event loop.
      serializeWrites,
    });
  }

  /**
   * A store in a SQLite file (created if missing) or, with `':memory:'`, in memory (private to
   * this store, gone at `close()`). Files use WAL so that readers are not blocked by the writer.
   * Nothing is opened until the first query.
   */
  static sqlite(path: string): KyselyMetadataStore {
    requireText('path', path);
    const dialect = new LockingSqliteDialect({ database: async () => openSqlite(path) });
    const store = new KyselyMetadataStore(new Kysely<MetadataDatabase>({ dialect }));
    if (path !== ':memory:') store.#migrationQueueKey = resolve(path);
    return store;
  }

  /**
   * A store in PostgreSQL, e.g. `postgres://postgres@127.0.0.1:5432/kiban`, over a connection
   * pool. Nothing connects until the first query.
   */
  static postgres(url: string, options: PostgresMetadataStoreOptions = {}): KyselyMetadataStore {
    if (!/^postgres(ql)?:\/\//.test(requireText('url', url))) {
      // Only the scheme is quoted back: the rest of a URL may hold a password.
      throw new InvalidArgumentError(
        'url',
        `must start with postgres:// or postgresql://, got "${url.split('//')[0]}//…"`,
      );
    }
    // `??` rather than spreading, so that an explicit `schema: undefined` still gets the default.
    const opts = Object.freeze({
      schema: options.schema ?? DEFAULT_POSTGRES_METADATA_OPTIONS.schema,
      maxConnections: options.maxConnections ?? DEFAULT_POSTGRES_METADATA_OPTIONS.maxConnections,
    });
    if (!Number.isInteger(opts.maxConnections) || opts.maxConnections < 1) {
      throw new InvalidArgumentError(
        'maxConnections',
        `must be an integer ≥ 1, got ${opts.maxConnections}`,
      );
    }
    // The driver loads on the first query, so a process that never touches PostgreSQL never loads `pg`.
    const pool = async () => {
      const { default: pg } = await import('pg');
      const created = new pg.Pool({ connectionString: url, max: opts.maxConnections });
      // An idle pooled connection that the server drops emits 'error' on the pool, and an
      // unhandled 'error' event would kill the process; the pool discards that connection and the
      // next query reports any lasting failure to its caller.
      created.on('error', () => {});
      return created;
    };
    const db = new Kysely<MetadataDatabase>({ dialect: new PostgresDialect({ pool }) });
    return new KyselyMetadataStore(db, { schema: opts.schema });
  }

  /**
   * Creates or upgrades the schema (and the PostgreSQL schema itself when one is configured).
   * Idempotent, and safe to call concurrently from this store, other stores or other processes:
   * PostgreSQL serialises migrators with an advisory lock, SQLite with its write lock (see
   * `sqlite-migration-lock.ts`). Throws a `KibanError` with code `INTERNAL` naming the failed
   * migration. Resolves to the names of the migrations this call applied, in order (empty when
   * another call or process had already applied them).
   */
  async migrate(): Promise<readonly string[]> {
    const key = this.#migrationQueueKey;
    return key === undefined ? this.#migrate() : serializeByKey(key, () => this.#migrate());
  }

  async #migrate(): Promise<readonly string[]> {
    const migrator = new Migrator({
      db: this.#db,
      provider: new MetadataMigrationProvider({ schema: this.#schema }),
      migrationTableName: METADATA_MIGRATION_TABLE,
      migrationLockTableName: METADATA_MIGRATION_LOCK_TABLE,
      migrationTableSchema: this.#schema,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      const where = failed === undefined ? 'before any migration ran' : `in migration "${failed}"`;
      throw new KibanError(
        'INTERNAL',
        `metadata store migration failed ${where}: ${messageOf(error)}`,
        { cause: error },
      );
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }

  /** Records a model. Throws `InvalidArgumentError` (field `model.id`) when the id is taken. */
  async insertModel(model: ModelRecord): Promise<void> {
    const row = {
      id: requireText('model.id', model.id),
      kind: requireText('model.kind', model.kind),
      params: toJsonText('model.params', model.params),
      data_snapshot: toJsonText('model.dataSnapshot', model.dataSnapshot),
      metrics: toNumbersJsonText('model.metrics', model.metrics),
      artifact_path: requireText('model.artifactPath', model.artifactPath),
      created_at_ms: requireDate('model.createdAt', model.createdAt),
    };
    // `on conflict do nothing` + a row count is portable, unlike parsing each driver's error codes.
    const result = await this.#q
      .insertInto('kiban_models')
      .values(row)
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0) {
      throw new InvalidArgumentError(
        'model.id',
        `a model with id "${row.id}" is already recorded; model ids must be unique`,
      );
    }
  }

  /** The model with this id, or null. */
  async getModel(id: string): Promise<ModelRecord | null> {
    const row = await this.#q
      .selectFrom('kiban_models')
      .selectAll()
      .where('id', '=', requireText('id', id))
      .executeTakeFirst();
    return row === undefined ? null : toModel(row);
  }

  /** Models newest first (by `createdAt`, ties by id descending), optionally of one kind. */
  async listModels(options: { limit?: number; kind?: string } = {}): Promise<ModelRecord[]> {
    const limit = requireLimit('limit', options.limit, DEFAULT_LIST_LIMIT);
    const kind = optionalText('kind', options.kind);
    let query = this.#q.selectFrom('kiban_models').selectAll();
    if (kind !== undefined) query = query.where('kind', '=', kind);
    const rows = await query
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toModel);
  }

  /** Closes the database (connection pool or file). Idempotent; the store is unusable afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.destroy();
  }
}

function openSqlite(path: string): SqliteDatabase.Database {
  // A statement meeting another process's write lock waits this long (ms) rather than failing at
  // once; it applies from the first statement, including the switch to WAL below.
  const db = new SqliteDatabase(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  // WAL lets readers (the dashboard, `kiban runs`) proceed while a pipeline writes; an in-memory
  // database ignores the request, which is fine since nobody else can see it.
  enableWal(db, SQLITE_BUSY_TIMEOUT_MS);
  // In WAL mode NORMAL syncs at checkpoints rather than at every commit: a killed process loses
  // nothing (the WAL is in the OS's hands), only a power cut may lose the last commits. Workflow
  // state is written several times per task, and FULL's fsync per commit cost ~1 ms each.
  db.pragma('synchronous = NORMAL');
  // SQLite leaves foreign keys unenforced unless asked, per connection; PostgreSQL always enforces them.
  db.pragma('foreign_keys = ON');
  cachePreparedStatements(db);
  return db;
}

/** Distinct SQL texts kept prepared per connection; queries are built from a few dozen shapes. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Makes `db.prepare` reuse statements by SQL text. Kysely's SQLite driver prepares every query
 * afresh, which cost as much as running it when the workflow engine writes task states; the
 * texts repeat (values are bound parameters), so a small cache removes that cost. better-sqlite3
 * runs statements synchronously, so one statement is never in use twice at once.
 */
function cachePreparedStatements(db: SqliteDatabase.Database): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, SqliteDatabase.Statement>();
  db.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement === undefined) {
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
      statement = prepare(source);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof db.prepare;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
