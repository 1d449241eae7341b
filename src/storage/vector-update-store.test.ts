import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeVectorUpdateStore } from '../../test/contracts/vector-update-store-contract.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from '../../test/fixtures/postgres.js';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import {
  METADATA_MIGRATION_LOCK_TABLE,
  METADATA_MIGRATION_TABLE,
  MetadataMigrationProvider,
} from './metadata-migrations.js';

async function migrated(store: KyselyMetadataStore): Promise<KyselyMetadataStore> {
  await store.migrate();
  return store;
}

describeVectorUpdateStore('SQLite :memory:', () =>
  migrated(KyselyMetadataStore.sqlite(':memory:')),
);

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

// Not skipped when PostgreSQL is missing: the updates must be proven on both engines.
describe(`vector updates on PostgreSQL (${TEST_POSTGRES_URL})`, () => {
  const schemas: string[] = [];
  afterAll(async () => {
    if (postgresProblem === null) await dropSchemas(schemas);
  });
  it('is reachable', () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
  });
  describeVectorUpdateStore('PostgreSQL', () => {
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }));
  });
});

describe('migration 0009_vector_update_folding on a store with changes', () => {
  const tmp = useTempDir('kiban-vector-updates-upgrade-');

  it('numbers the changes made before it 1, so versions that folded nothing still apply them', async () => {
    const file = join(tmp.path, 'meta.db');
    const Database = (await import('better-sqlite3')).default;
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(file) }) });
    const migrator = new Migrator({
      db: old,
      provider: new MetadataMigrationProvider(),
      migrationTableName: METADATA_MIGRATION_TABLE,
      migrationLockTableName: METADATA_MIGRATION_LOCK_TABLE,
    });
    expect((await migrator.migrateTo('0008_vector_updates')).error).toBeUndefined();
    await old
      .insertInto('kiban_vector_updates')
      .values({ index_name: 'items', item_id: 'kept', dim: 1, vector: 'AACAPw==', at_ms: 1 })
      .execute();
    await old.destroy();

    const store = await migrated(KyselyMetadataStore.sqlite(file));
    try {
      expect(await store.vectorUpdates.list('items')).toEqual([
        { id: 'kept', vector: new Float32Array([1]), attributes: null, at: new Date(1), seq: 1 },
      ]);
      expect(await store.vectorUpdates.list('items', { after: 1 })).toEqual([]);
      expect(
        await store.vectorUpdates.upsert('items', 'new', new Float32Array([2]), new Date()),
      ).toBe(2);
    } finally {
      await store.close();
    }
  });
});
