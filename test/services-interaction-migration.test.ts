/**
 * Migration `0012_interaction_services` over a database that already holds interactions (issue
 * 22), on SQLite (where the table is rebuilt) and PostgreSQL (altered in place): every row
 * becomes the default service's with its seq kept, new rows continue the seq, the same event id
 * may then be stored once per service, and migrating down keeps the default's rows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { KyselyInteractionStore } from '../src/storage/kysely-interaction-store.js';
import {
  METADATA_MIGRATION_LOCK_TABLE,
  METADATA_MIGRATION_TABLE,
  MetadataMigrationProvider,
} from '../src/storage/metadata-migrations.js';
import type { MetadataDatabase } from '../src/storage/metadata-tables.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from './fixtures/postgres.js';

const dirs: string[] = [];
const schemas: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  if (schemas.length > 0) await dropSchemas(schemas);
});

async function openSqlite(): Promise<Kysely<MetadataDatabase>> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-migrate-'));
  dirs.push(dir);
  const { default: Database } = await import('better-sqlite3');
  return new Kysely<MetadataDatabase>({
    dialect: new SqliteDialect({ database: new Database(join(dir, 'meta.db')) }),
  });
}

async function openPostgres(): Promise<{ db: Kysely<MetadataDatabase>; schema: string }> {
  const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  const { default: pg } = await import('pg');
  const db = new Kysely<MetadataDatabase>({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: TEST_POSTGRES_URL, max: 2 }),
    }),
  });
  await sql`create schema ${sql.id(schema)}`.execute(db);
  return { db, schema };
}

async function migrateTo(
  db: Kysely<MetadataDatabase>,
  schema: string | undefined,
  target?: string,
) {
  const migrator = new Migrator({
    db,
    provider: new MetadataMigrationProvider(schema === undefined ? {} : { schema }),
    migrationTableName: METADATA_MIGRATION_TABLE,
    migrationLockTableName: METADATA_MIGRATION_LOCK_TABLE,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error } =
    target === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  if (error !== undefined) throw error;
}

async function exercise(db: Kysely<MetadataDatabase>, schema: string | undefined): Promise<void> {
  await migrateTo(db, schema, '0011_feature_registry');
  const q = schema === undefined ? db : db.withSchema(schema);
  await q
    .insertInto('kiban_interactions')
    .values([
      { event_id: 'e1', user_id: 'u1', item_id: 'i1', at_ms: 1000, weight: 1 },
      { event_id: null, user_id: 'u1', item_id: 'i2', at_ms: 2000, weight: 2 },
    ])
    .execute();
  await migrateTo(db, schema);
  const store = new KyselyInteractionStore(db, { schema });
  const old = await store.list();
  expect(old.map((e) => [e.seq, e.id, e.item, e.weight])).toEqual([
    [old[0].seq, 'e1', 'i1', 1],
    [old[0].seq + 1, null, 'i2', 2],
  ]);
  expect(await store.forService('booth').list()).toEqual([]);
  // The same id: a duplicate in default, a new event in booth, whose seq continues the log's.
  expect(await store.append([{ id: 'e1', user: 'u1', item: 'x', at: new Date(3000) }])).toEqual({
    accepted: 0,
    duplicates: 1,
  });
  const booth = store.forService('booth');
  expect(await booth.append([{ id: 'e1', user: 'u1', item: 'b1', at: new Date(3000) }])).toEqual({
    accepted: 1,
    duplicates: 0,
  });
  const [added] = await booth.list();
  expect(added.seq).toBeGreaterThan(old[1].seq);
  expect((await booth.forUser('u1')).map((e) => e.item)).toEqual(['b1']);
  // Down again: only the default service's events fit the older table.
  await migrateTo(db, schema, '0011_feature_registry');
  const rows = await q
    .selectFrom('kiban_interactions')
    .select(['event_id', 'item_id'])
    .orderBy('seq')
    .execute();
  expect(rows).toEqual([
    { event_id: 'e1', item_id: 'i1' },
    { event_id: null, item_id: 'i2' },
  ]);
  await migrateTo(db, schema);
  expect((await store.list()).map((e) => e.item)).toEqual(['i1', 'i2']);
}

describe('migration 0012_interaction_services over stored interactions', () => {
  it('on SQLite', async () => {
    const db = await openSqlite();
    try {
      await exercise(db, undefined);
    } finally {
      await db.destroy();
    }
  });

  it(`on PostgreSQL (${TEST_POSTGRES_URL})`, async () => {
    expect(await probePostgres(TEST_POSTGRES_URL), 'PostgreSQL is required').toBeNull();
    const { db, schema } = await openPostgres();
    try {
      await exercise(db, schema);
    } finally {
      await db.destroy();
    }
  });
});
