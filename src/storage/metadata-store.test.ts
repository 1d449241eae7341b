import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeMetadataStore,
  sampleModel,
} from '../../test/contracts/metadata-store-contract.js';
import { InvalidArgumentError, KibanError } from '../core/errors.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import {
  METADATA_MIGRATION_LOCK_TABLE,
  METADATA_MIGRATION_TABLE,
  MetadataMigrationProvider,
} from './metadata-migrations.js';
import {
  dropSchemas,
  IN_CI,
  probePostgres,
  TEST_POSTGRES_URL,
} from '../../test/fixtures/postgres.js';

const POSTGRES_URL = TEST_POSTGRES_URL;

const postgresProblem = await probePostgres(POSTGRES_URL);

describeMetadataStore('SQLite :memory:', () => KyselyMetadataStore.sqlite(':memory:'));

describe('SQLite file', () => {
  const dirs: string[] = [];
  const tempFile = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-meta-'));
    dirs.push(dir);
    return join(dir, 'meta.db');
  };
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  describeMetadataStore('SQLite file', async () => KyselyMetadataStore.sqlite(await tempFile()));

  it('keeps records across close and reopen, in WAL mode', async () => {
    const path = await tempFile();
    const first = KyselyMetadataStore.sqlite(path);
    await first.migrate();
    await first.insertModel(sampleModel('kept'));
    expect(existsSync(`${path}-wal`)).toBe(true);
    await first.close();
    await first.close();

    const second = KyselyMetadataStore.sqlite(path);
    await second.migrate();
    expect(await second.getModel('kept')).toEqual(sampleModel('kept'));
    await second.close();
  });

  it('lets two stores of one file migrate it one after the other and at once', async () => {
    for (const together of [false, true]) {
      const path = await tempFile();
      const a = KyselyMetadataStore.sqlite(path);
      const b = KyselyMetadataStore.sqlite(path);
      if (together) await Promise.all([a.migrate(), b.migrate()]);
      else {
        await a.migrate();
        await b.migrate();
      }
      await a.insertModel(sampleModel('shared'));
      expect((await b.getModel('shared'))?.id).toBe('shared');
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('lets several processes migrate one fresh file at the same moment', async () => {
    const path = await tempFile();
    const script = join(path, '..', 'migrate.mts');
    const storeModule = fileURLToPath(new URL('./kysely-metadata-store.ts', import.meta.url));
    // Each child loads first, then all start migrating at one agreed instant, to maximise overlap.
    await writeFile(
      script,
      [
        `import { KyselyMetadataStore } from ${JSON.stringify(storeModule)};`,
        'const store = KyselyMetadataStore.sqlite(process.argv[2]);',
        'await new Promise((r) => setTimeout(r, Number(process.argv[3]) - Date.now()));',
        'try { await store.migrate(); } finally { await store.close(); }',
      ].join('\n'),
    );
    const startAt = String(Date.now() + 3000);
    const run = promisify(execFile);
    await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', script, path, startAt]),
      ),
    );
    const store = KyselyMetadataStore.sqlite(path);
    await store.migrate();
    await store.insertModel(sampleModel('after'));
    expect((await store.listModels()).map((m) => m.id)).toEqual(['after']);
    await store.close();
  });

  it('rolls a failed migration back whole and names it', async () => {
    const path = await tempFile();
    // A stray table that migration 0002 wants to create makes it fail after 0001 has run.
    const raw = new SqliteDatabase(path);
    raw.exec('create table kiban_runs (x integer)');
    raw.close();
    const store = KyselyMetadataStore.sqlite(path);
    const failure = store.migrate();
    await expect(failure).rejects.toThrow(KibanError);
    await expect(store.migrate()).rejects.toThrow(
      /^metadata store migration failed in migration "0002_runs": .*kiban_runs/,
    );
    await store.close();
    const check = new SqliteDatabase(path, { readonly: true });
    const tables = check
      .prepare(
        `select name from sqlite_master where type = 'table' and name like 'kiban%' order by name`,
      )
      .pluck()
      .all();
    const ran = check.prepare('select name from kiban_migration').pluck().all();
    check.close();
    // Migrations share one transaction: 0001's table went with 0002's failure.
    expect(tables).toEqual(['kiban_migration', 'kiban_migration_lock', 'kiban_runs']);
    expect(ran).toEqual([]);
  });

  it('drops the old pipeline run tables of a database migrated before 0005, keeping its models', async () => {
    const path = await tempFile();
    const old = new Kysely<any>({
      dialect: new SqliteDialect({ database: new SqliteDatabase(path) }),
    });
    const migrator = new Migrator({
      db: old,
      provider: new MetadataMigrationProvider(),
      migrationTableName: METADATA_MIGRATION_TABLE,
      migrationLockTableName: METADATA_MIGRATION_LOCK_TABLE,
    });
    expect((await migrator.migrateTo('0004_experiments')).error).toBeUndefined();
    await old
      .insertInto('kiban_runs')
      .values({ id: 'r', pipeline: 'demo', status: 'running', config: '{}', started_at_ms: 0 })
      .execute();
    await old.destroy();
    const store = KyselyMetadataStore.sqlite(path);
    await store.insertModel(sampleModel('kept'));
    await store.migrate();
    expect(await store.getModel('kept')).toEqual(sampleModel('kept'));
    await store.close();
    const check = new SqliteDatabase(path, { readonly: true });
    const tables = check
      .prepare(`select name from sqlite_master where type = 'table' and name like 'kiban_run%'`)
      .pluck()
      .all();
    const ran = check.prepare('select name from kiban_migration order by name').pluck().all();
    check.close();
    expect(tables).toEqual([]);
    expect(ran).toContain('0005_drop_runs');
  });
});

describe('KyselyMetadataStore constructors', () => {
  it('refuse bad arguments with the field named', () => {
    expect(() => KyselyMetadataStore.sqlite('')).toThrow(/^path: /);
    expect(() => KyselyMetadataStore.postgres('mysql://x')).toThrow(/^url: /);
    expect(() => KyselyMetadataStore.postgres('mysql://kiban:s3cret@db/kiban')).not.toThrow(
      /s3cret/,
    );
    expect(() => KyselyMetadataStore.postgres(POSTGRES_URL, { schema: 'Bad-Name; drop' })).toThrow(
      InvalidArgumentError,
    );
    expect(() => KyselyMetadataStore.postgres(POSTGRES_URL, { maxConnections: 0 })).toThrow(
      /^maxConnections: /,
    );
  });
});

const describePostgres = postgresProblem !== null && !IN_CI ? describe.skip : describe;

describePostgres(`PostgreSQL (${POSTGRES_URL})`, () => {
  const schemas: string[] = [];
  const newSchema = (): string => {
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return schema;
  };
  afterAll(async () => {
    if (postgresProblem !== null) return;
    await dropSchemas(schemas);
  });

  it('reaches the server', () => {
    expect(postgresProblem, `PostgreSQL at ${POSTGRES_URL} is required in CI`).toBeNull();
  });

  describeMetadataStore('PostgreSQL', () =>
    KyselyMetadataStore.postgres(POSTGRES_URL, { schema: newSchema() }),
  );

  it('migrates from two stores at once and keeps every table inside its schema', async () => {
    const schema = newSchema();
    const a = KyselyMetadataStore.postgres(POSTGRES_URL, { schema });
    const b = KyselyMetadataStore.postgres(POSTGRES_URL, { schema });
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      await a.insertModel(sampleModel('shared'));
      expect(await b.getModel('shared')).toEqual(sampleModel('shared'));

      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ table_schema: string; table_name: string }>(
          `select table_schema, table_name from information_schema.tables where table_name like 'kiban\\_%' and table_schema = $1 order by table_name`,
          [schema],
        );
        expect(rows.map((r) => r.table_name)).toEqual([
          'kiban_ab_events',
          'kiban_ab_experiments',
          'kiban_api_keys',
          'kiban_audit_log',
          'kiban_feature_registry',
          'kiban_interactions',
          'kiban_migration',
          'kiban_migration_lock',
          'kiban_models',
          'kiban_privacy_releases',
          'kiban_vector_updates',
          'kiban_wf_attempts',
          'kiban_wf_logs',
          'kiban_wf_runs',
          'kiban_wf_tasks',
        ]);
        const columns = await client.query<{ data_type: string }>(
          `select data_type from information_schema.columns where table_schema = $1 and table_name = 'kiban_models' and column_name = 'created_at_ms'`,
          [schema],
        );
        expect(columns.rows[0]?.data_type).toBe('bigint');
      } finally {
        await client.end();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('rolls a failed migration back whole and names it', async () => {
    const schema = newSchema();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`create schema "${schema}"`);
      await client.query(`create table "${schema}".kiban_runs (x integer)`);
      const store = KyselyMetadataStore.postgres(POSTGRES_URL, { schema });
      try {
        await expect(store.migrate()).rejects.toThrow(
          /^metadata store migration failed in migration "0002_runs": .*kiban_runs/,
        );
      } finally {
        await store.close();
      }
      const { rows } = await client.query<{ table_name: string }>(
        'select table_name from information_schema.tables where table_schema = $1 order by table_name',
        [schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        'kiban_migration',
        'kiban_migration_lock',
        'kiban_runs',
      ]);
    } finally {
      await client.end();
    }
  });

  it('isolates stores in different schemas', async () => {
    const a = KyselyMetadataStore.postgres(POSTGRES_URL, { schema: newSchema() });
    const b = KyselyMetadataStore.postgres(POSTGRES_URL, { schema: newSchema() });
    try {
      await a.migrate();
      await b.migrate();
      await a.insertModel(sampleModel('only-in-a'));
      expect(await b.getModel('only-in-a')).toBeNull();
      await b.insertModel(sampleModel('only-in-a'));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
