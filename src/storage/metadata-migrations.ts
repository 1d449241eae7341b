import { SqliteAdapter, sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';

/**
 * Name of the table where Kysely's `Migrator` records the migrations it has run. Not Kysely's
 * default (`kysely_migration`) so that kiban can share a database with another Kysely user.
 * Never change it: a renamed table would make the migrator run every migration again.
 */
export const METADATA_MIGRATION_TABLE = 'kiban_migration';

/** Name of the migrator's lock table; same caveat as {@link METADATA_MIGRATION_TABLE}. */
export const METADATA_MIGRATION_LOCK_TABLE = 'kiban_migration_lock';

/** Where the migrations create their tables. */
export interface MetadataMigrationOptions {
  /** PostgreSQL schema to create the tables in; undefined means the connection's default. */
  schema?: string;
}

/**
 * The metadata schema as a list of named migrations, applied in name order. Append new
 * migrations with a larger number; never edit or rename one that has shipped, since databases
 * record the names they have run.
 *
 * Column conventions, chosen to behave the same on SQLite and PostgreSQL:
 * - timestamps are `bigint` epoch milliseconds (`*_at_ms`): exact to the millisecond on both,
 *   and they sort numerically, with no time-zone or text-format questions;
 * - JSON is `text`, parsed and serialised by the store.
 */
export function metadataMigrations(
  options: MetadataMigrationOptions = {},
): Record<string, Migration> {
  // Migrations take `Kysely<any>` on purpose: they must keep compiling unchanged when the
  // current table types move on.
  const schemaOf = (db: Kysely<any>) =>
    options.schema === undefined ? db.schema : db.schema.withSchema(options.schema);
  const migrations: Record<string, Migration> = {
    '0001_models': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_models')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('params', 'text', (c) => c.notNull())
          .addColumn('data_snapshot', 'text', (c) => c.notNull())
          .addColumn('metrics', 'text', (c) => c.notNull())
          .addColumn('artifact_path', 'text', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .execute();
        // Ascending indexes serve `order by … desc` too (both engines scan them backwards); the
        // trailing id matches the tie-break of the listing query so no sort step is needed.
        await s
          .createIndex('kiban_models_created_idx')
          .on('kiban_models')
          .columns(['created_at_ms', 'id'])
          .execute();
        await s
          .createIndex('kiban_models_kind_created_idx')
          .on('kiban_models')
          .columns(['kind', 'created_at_ms', 'id'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_models').execute();
      },
    },
    '0002_runs': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('pipeline', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('config', 'text', (c) => c.notNull())
          .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('finished_at_ms', 'bigint')
          .addColumn('error', 'text')
          // No foreign key to kiban_models: a model may be recorded after (or without) the run
          // that names it, and deleting old models must not be blocked by run history.
          .addColumn('model_id', 'text')
          .addCheckConstraint(
            'kiban_runs_status_check',
            sql`status in ('running', 'succeeded', 'failed')`,
          )
          .execute();
        await s
          .createIndex('kiban_runs_started_idx')
          .on('kiban_runs')
          .columns(['started_at_ms', 'id'])
          .execute();
        await s
          .createIndex('kiban_runs_pipeline_started_idx')
          .on('kiban_runs')
          .columns(['pipeline', 'started_at_ms', 'id'])
          .execute();

        await s
          .createTable('kiban_run_steps')
          .addColumn('run_id', 'text', (c) =>
            c.notNull().references('kiban_runs.id').onDelete('cascade'),
          )
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('finished_at_ms', 'bigint')
          .addColumn('figures', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          // Steps are addressed by name within their run (finishStep takes a name), so the pair is the key;
          // it also serves "all steps of these runs" lookups.
          .addPrimaryKeyConstraint('kiban_run_steps_pk', ['run_id', 'name'])
          .addCheckConstraint(
            'kiban_run_steps_status_check',
            sql`status in ('running', 'succeeded', 'failed')`,
          )
          .execute();
      },
      async down(db) {
        const s = schemaOf(db);
        await s.dropTable('kiban_run_steps').execute();
        await s.dropTable('kiban_runs').execute();
      },
    },
    '0003_workflows': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_wf_runs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('workflow', 'text', (c) => c.notNull())
          .addColumn('logical_date', 'text', (c) => c.notNull())
          .addColumn('trigger', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('params', 'text', (c) => c.notNull())
          .addColumn('definition', 'text', (c) => c.notNull())
          // Unique but nullable: both engines let any number of rows hold null, so only scheduled
          // runs compete for a key, and the losing scheduler's insert is refused by the database.
          .addColumn('schedule_key', 'text', (c) => c.unique())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('finished_at_ms', 'bigint')
          .addColumn('error', 'text')
          .addColumn('owner', 'text')
          .addColumn('heartbeat_at_ms', 'bigint')
          // "trigger" is quoted: it is a keyword in both dialects.
          .addCheckConstraint(
            'kiban_wf_runs_trigger_check',
            sql`${sql.ref('trigger')} in ('manual', 'schedule', 'backfill')`,
          )
          .addCheckConstraint(
            'kiban_wf_runs_status_check',
            sql`status in ('running', 'succeeded', 'failed')`,
          )
          .execute();
        // Trailing id columns match the listings' tie-break, so newest-first pages need no sort.
        await s
          .createIndex('kiban_wf_runs_created_idx')
          .on('kiban_wf_runs')
          .columns(['created_at_ms', 'id'])
          .execute();
        await s
          .createIndex('kiban_wf_runs_workflow_created_idx')
          .on('kiban_wf_runs')
          .columns(['workflow', 'created_at_ms', 'id'])
          .execute();
        await s
          .createIndex('kiban_wf_runs_status_created_idx')
          .on('kiban_wf_runs')
          .columns(['status', 'created_at_ms', 'id'])
          .execute();

        await s
          .createTable('kiban_wf_tasks')
          .addColumn('run_id', 'text', (c) =>
            c.notNull().references('kiban_wf_runs.id').onDelete('cascade'),
          )
          .addColumn('task', 'text', (c) => c.notNull())
          // Position in the run's definition (topological order), which is how tasks are listed.
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('started_at_ms', 'bigint')
          .addColumn('finished_at_ms', 'bigint')
          .addColumn('next_attempt_at_ms', 'bigint')
          .addColumn('error', 'text')
          .addColumn('output', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('kiban_wf_tasks_pk', ['run_id', 'task'])
          .addCheckConstraint(
            'kiban_wf_tasks_status_check',
            sql`status in ('pending', 'running', 'retrying', 'succeeded', 'failed', 'upstream_failed')`,
          )
          .execute();

        await s
          .createTable('kiban_wf_attempts')
          .addColumn('run_id', 'text', (c) => c.notNull())
          .addColumn('task', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('finished_at_ms', 'bigint')
          .addColumn('error', 'text')
          .addColumn('worker', 'text')
          .addPrimaryKeyConstraint('kiban_wf_attempts_pk', ['run_id', 'task', 'attempt'])
          // The primary key's prefix (run_id, task) also indexes this key for cascading deletes.
          .addForeignKeyConstraint(
            'kiban_wf_attempts_task_fk',
            ['run_id', 'task'],
            'kiban_wf_tasks',
            ['run_id', 'task'],
            (fk) => fk.onDelete('cascade'),
          )
          .addCheckConstraint(
            'kiban_wf_attempts_status_check',
            sql`status in ('running', 'succeeded', 'failed', 'interrupted')`,
          )
          .execute();

        // The log's sequence number must be assigned by the database so that concurrent writers
        // never collide, and there is no auto-increment syntax that both dialects accept.
        // `autoincrement` (rather than a plain rowid alias) keeps SQLite from reusing numbers.
        const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
        await s
          .createTable('kiban_wf_logs')
          .addColumn('seq', sqlite ? 'integer' : 'bigint', (c) =>
            sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('run_id', 'text', (c) =>
            c.notNull().references('kiban_wf_runs.id').onDelete('cascade'),
          )
          .addColumn('task', 'text', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('stream', 'text', (c) => c.notNull())
          .addColumn('line', 'text', (c) => c.notNull())
          .addCheckConstraint(
            'kiban_wf_logs_stream_check',
            sql`stream in ('stdout', 'stderr', 'log')`,
          )
          .execute();
        await s
          .createIndex('kiban_wf_logs_task_seq_idx')
          .on('kiban_wf_logs')
          .columns(['run_id', 'task', 'seq'])
          .execute();
      },
      async down(db) {
        const s = schemaOf(db);
        await s.dropTable('kiban_wf_logs').execute();
        await s.dropTable('kiban_wf_attempts').execute();
        await s.dropTable('kiban_wf_tasks').execute();
        await s.dropTable('kiban_wf_runs').execute();
      },
    },
    '0004_experiments': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_ab_experiments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('definition', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('layer', 'text', (c) => c.notNull())
          .addColumn('range_start', 'integer', (c) => c.notNull())
          .addColumn('range_end', 'integer', (c) => c.notNull())
          .addColumn('start_at_ms', 'bigint')
          .addColumn('stop_at_ms', 'bigint')
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
          .addCheckConstraint(
            'kiban_ab_experiments_status_check',
            sql`status in ('draft', 'running', 'stopped')`,
          )
          .execute();
        await s
          .createIndex('kiban_ab_experiments_layer_idx')
          .on('kiban_ab_experiments')
          .columns(['layer', 'status'])
          .execute();
        // Events carry their experiment's name without a foreign key: events may arrive before
        // (or after) an experiment is defined, and nothing sent is dropped.
        await s
          .createTable('kiban_ab_events')
          .addColumn('event_id', 'text', (c) => c.primaryKey())
          .addColumn('experiment', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('unit', 'text', (c) => c.notNull())
          .addColumn('variant', 'text')
          .addColumn('metric', 'text')
          .addColumn('value', 'double precision')
          .addColumn('time_ms', 'bigint', (c) => c.notNull())
          .addColumn('received_at_ms', 'bigint', (c) => c.notNull())
          .addCheckConstraint(
            'kiban_ab_events_type_check',
            sql`type in ('exposure', 'conversion', 'value')`,
          )
          .execute();
        await s
          .createIndex('kiban_ab_events_exposure_idx')
          .on('kiban_ab_events')
          .columns(['experiment', 'type', 'unit'])
          .execute();
        await s
          .createIndex('kiban_ab_events_metric_idx')
          .on('kiban_ab_events')
          .columns(['experiment', 'metric', 'unit'])
          .execute();
      },
      async down(db) {
        const s = schemaOf(db);
        await s.dropTable('kiban_ab_events').execute();
        await s.dropTable('kiban_ab_experiments').execute();
      },
    },
    // Pipeline runs are workflow runs now (the built-in `recommend` workflow, recorded in
    // kiban_wf_*); the separate history that nothing read goes. Down recreates the empty tables.
    '0005_drop_runs': {
      async up(db) {
        const s = schemaOf(db);
        await s.dropTable('kiban_run_steps').ifExists().execute();
        await s.dropTable('kiban_runs').ifExists().execute();
      },
      async down(db) {
        await migrations['0002_runs'].up(db);
      },
    },
    // API keys (issue 17): only an HMAC of each key's secret is kept, found by the key's public
    // prefix; scopes are JSON text. Times are epoch ms; null expiry means never, null revoked_at
    // means live.
    '0006_api_keys': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('prefix', 'text', (c) => c.notNull().unique())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('scopes', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('expires_at_ms', 'bigint')
          .addColumn('last_used_at_ms', 'bigint')
          .addColumn('revoked_at_ms', 'bigint')
          .execute();
        await s
          .createIndex('kiban_api_keys_created_idx')
          .on('kiban_api_keys')
          .columns(['created_at_ms', 'id'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_api_keys').execute();
      },
    },
    // The audit log (issue 17): one row per write to the HTTP API, appended after the answer.
    // The sequence number is assigned by the database (as kiban_wf_logs does), so pages by
    // cursor are stable while rows are appended; the principal index serves the per-caller view.
    '0007_audit_log': {
      async up(db) {
        const s = schemaOf(db);
        const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
        await s
          .createTable('kiban_audit_log')
          .addColumn('seq', sqlite ? 'integer' : 'bigint', (c) =>
            sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('principal_id', 'text')
          .addColumn('principal_name', 'text')
          .addColumn('method', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('status', 'integer', (c) => c.notNull())
          .addColumn('ip', 'text', (c) => c.notNull())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .execute();
        await s
          .createIndex('kiban_audit_log_principal_idx')
          .on('kiban_audit_log')
          .columns(['principal_id', 'seq'])
          .execute();
        await s
          .createIndex('kiban_audit_log_at_idx')
          .on('kiban_audit_log')
          .columns(['at_ms', 'seq'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_audit_log').execute();
      },
    },
    // Incremental vector index changes (issue 18): the last change per (index, item id), applied
    // on top of each loaded version of the index. The vector is base64 of its little-endian
    // float32 bytes (text on both dialects, exact), null for a deletion; `dim` is its length.
    '0008_vector_updates': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_vector_updates')
          .addColumn('index_name', 'text', (c) => c.notNull())
          .addColumn('item_id', 'text', (c) => c.notNull())
          .addColumn('dim', 'integer')
          .addColumn('vector', 'text')
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('kiban_vector_updates_pk', ['index_name', 'item_id'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_vector_updates').execute();
      },
    },
    // Folding changes into builds: `seq` orders the changes in commit order (a build records the
    // highest one it folded), `attributes` carries the item's filterable attributes (JSON object
    // of strings, or null: leave them as they were). Rows from before this migration get seq 1,
    // so every version saved before it (which folded nothing: 0) still applies them.
    '0009_vector_update_folding': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .alterTable('kiban_vector_updates')
          .addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(1))
          .execute();
        await s.alterTable('kiban_vector_updates').addColumn('attributes', 'text').execute();
        await s
          .createIndex('kiban_vector_updates_seq')
          .on('kiban_vector_updates')
          .columns(['index_name', 'seq'])
          .execute();
      },
      async down(db) {
        const s = schemaOf(db);
        await s.dropIndex('kiban_vector_updates_seq').execute();
        await s.alterTable('kiban_vector_updates').dropColumn('attributes').execute();
        await s.alterTable('kiban_vector_updates').dropColumn('seq').execute();
      },
    },
    // User–item interactions written through the API (issue 19): the serving side re-embeds a
    // user from those newer than the published batch, the next batch reads them in `seq` order.
    // `event_id` is the caller's idempotency key (unique; several nulls allowed on both engines).
    '0010_interactions': {
      async up(db) {
        const s = schemaOf(db);
        const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
        await s
          .createTable('kiban_interactions')
          .addColumn('seq', sqlite ? 'integer' : 'bigint', (c) =>
            sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('event_id', 'text', (c) => c.unique())
          .addColumn('user_id', 'text', (c) => c.notNull())
          .addColumn('item_id', 'text', (c) => c.notNull())
          .addColumn('at_ms', 'bigint', (c) => c.notNull())
          .addColumn('weight', 'double precision', (c) => c.notNull())
          .execute();
        await s
          .createIndex('kiban_interactions_user_idx')
          .on('kiban_interactions')
          .columns(['user_id', 'at_ms', 'seq'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_interactions').execute();
      },
    },
    // The feature registry (issue 20): every applied version of each feature repository object
    // (entity, source, featureView, featureService). The current version of an object is its
    // highest; a null definition (and hash) records its removal.
    '0011_feature_registry': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_feature_registry')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('definition', 'text')
          .addColumn('content_hash', 'text')
          .addColumn('applied_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('applied_by', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('kiban_feature_registry_pk', ['kind', 'name', 'version'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_feature_registry').execute();
      },
    },
    // Services (issue 22): every interaction belongs to one service, rows from before to
    // `default`. Event ids become unique per service (the same caller id in two services is two
    // events), and the reads by user and by seq lead with the service. SQLite cannot change a
    // table's constraints, so there the table is rebuilt with its rows, seq values kept (and with
    // them the autoincrement counter).
    '0012_interaction_services': {
      async up(db) {
        const s = schemaOf(db);
        if (db.getExecutor().adapter instanceof SqliteAdapter) {
          await s
            .createTable('kiban_interactions_0012')
            .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
            .addColumn('service', 'text', (c) => c.notNull().defaultTo('default'))
            .addColumn('event_id', 'text')
            .addColumn('user_id', 'text', (c) => c.notNull())
            .addColumn('item_id', 'text', (c) => c.notNull())
            .addColumn('at_ms', 'bigint', (c) => c.notNull())
            .addColumn('weight', 'double precision', (c) => c.notNull())
            .addUniqueConstraint('kiban_interactions_service_event_uq', ['service', 'event_id'])
            .execute();
          await sql`insert into kiban_interactions_0012 (seq, service, event_id, user_id, item_id, at_ms, weight)
            select seq, 'default', event_id, user_id, item_id, at_ms, weight from kiban_interactions`.execute(
            db,
          );
          await s.dropTable('kiban_interactions').execute();
          await s.alterTable('kiban_interactions_0012').renameTo('kiban_interactions').execute();
        } else {
          await s
            .alterTable('kiban_interactions')
            .addColumn('service', 'text', (c) => c.notNull().defaultTo('default'))
            .execute();
          // The name PostgreSQL gave the column constraint of 0010's `event_id text unique`.
          await s
            .alterTable('kiban_interactions')
            .dropConstraint('kiban_interactions_event_id_key')
            .execute();
          await s
            .alterTable('kiban_interactions')
            .addUniqueConstraint('kiban_interactions_service_event_uq', ['service', 'event_id'])
            .execute();
          await s.dropIndex('kiban_interactions_user_idx').execute();
        }
        await s
          .createIndex('kiban_interactions_user_idx')
          .on('kiban_interactions')
          .columns(['service', 'user_id', 'at_ms', 'seq'])
          .execute();
        await s
          .createIndex('kiban_interactions_service_seq_idx')
          .on('kiban_interactions')
          .columns(['service', 'seq'])
          .execute();
      },
      async down(db) {
        // Only the default service's events fit the older table (ids unique across the log).
        const s = schemaOf(db);
        const t = options.schema === undefined ? db : db.withSchema(options.schema);
        await t.deleteFrom('kiban_interactions').where('service', '<>', 'default').execute();
        await s.dropIndex('kiban_interactions_service_seq_idx').execute();
        await s.dropIndex('kiban_interactions_user_idx').execute();
        if (db.getExecutor().adapter instanceof SqliteAdapter) {
          await s
            .createTable('kiban_interactions_0010')
            .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
            .addColumn('event_id', 'text', (c) => c.unique())
            .addColumn('user_id', 'text', (c) => c.notNull())
            .addColumn('item_id', 'text', (c) => c.notNull())
            .addColumn('at_ms', 'bigint', (c) => c.notNull())
            .addColumn('weight', 'double precision', (c) => c.notNull())
            .execute();
          await sql`insert into kiban_interactions_0010 (seq, event_id, user_id, item_id, at_ms, weight)
            select seq, event_id, user_id, item_id, at_ms, weight from kiban_interactions`.execute(
            db,
          );
          await s.dropTable('kiban_interactions').execute();
          await s.alterTable('kiban_interactions_0010').renameTo('kiban_interactions').execute();
        } else {
          await s
            .alterTable('kiban_interactions')
            .dropConstraint('kiban_interactions_service_event_uq')
            .execute();
          await s.alterTable('kiban_interactions').dropColumn('service').execute();
          await s
            .alterTable('kiban_interactions')
            .addUniqueConstraint('kiban_interactions_event_id_key', ['event_id'])
            .execute();
        }
        await s
          .createIndex('kiban_interactions_user_idx')
          .on('kiban_interactions')
          .columns(['user_id', 'at_ms', 'seq'])
          .execute();
      },
    },
    // The privacy-budget ledger (issue 23): one row per differentially private release of a
    // dataset to a recipient, counted against their budget from the moment it is reserved. The
    // spend columns are null when the release does not spend in that unit; the index serves both
    // the budget check (totals of one dataset × recipient) and the newest-first listing.
    '0013_privacy_releases': {
      async up(db) {
        const s = schemaOf(db);
        await s
          .createTable('kiban_privacy_releases')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('dataset', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('policy', 'text', (c) => c.notNull())
          .addColumn('mechanism', 'text', (c) => c.notNull())
          .addColumn('epsilon', 'double precision')
          .addColumn('rho', 'double precision')
          .addColumn('delta', 'double precision')
          .addColumn('params', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('output', 'text')
          .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
          .addColumn('published_at_ms', 'bigint')
          .execute();
        await s
          .createIndex('kiban_privacy_releases_dataset_recipient_idx')
          .on('kiban_privacy_releases')
          .columns(['dataset', 'recipient', 'created_at_ms', 'id'])
          .execute();
      },
      async down(db) {
        await schemaOf(db).dropTable('kiban_privacy_releases').execute();
      },
    },
  };
  return migrations;
}

/**
 * An in-code {@link MigrationProvider} for Kysely's `Migrator`: the migrations ship inside the
 * bundle, so no migration folder has to be found on disk at run time.
 */
export class MetadataMigrationProvider implements MigrationProvider {
  readonly #options: MetadataMigrationOptions;

  constructor(options: MetadataMigrationOptions = {}) {
    this.#options = Object.freeze({ ...options });
  }

  /** The migrations by name; see {@link metadataMigrations}. */
  async getMigrations(): Promise<Record<string, Migration>> {
    return metadataMigrations(this.#options);
  }
}
