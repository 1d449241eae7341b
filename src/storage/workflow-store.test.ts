import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeWorkflowStore,
  sampleDefinition,
} from '../../test/contracts/workflow-store-contract.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import {
  dropSchemas,
  IN_CI,
  probePostgres,
  TEST_POSTGRES_URL,
} from '../../test/fixtures/postgres.js';

const POSTGRES_URL = TEST_POSTGRES_URL;

const postgresProblem = await probePostgres(POSTGRES_URL);

describeWorkflowStore('SQLite :memory:', () => ({ store: KyselyMetadataStore.sqlite(':memory:') }));

describe('SQLite file', () => {
  const dirs: string[] = [];
  const tempFile = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-wf-'));
    dirs.push(dir);
    return join(dir, 'meta.db');
  };
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  describeWorkflowStore('SQLite file', async () => {
    const path = await tempFile();
    return {
      store: KyselyMetadataStore.sqlite(path),
      another: () => KyselyMetadataStore.sqlite(path),
    };
  });

  it('keeps runs, tasks and logs across close and reopen', async () => {
    const path = await tempFile();
    const first = KyselyMetadataStore.sqlite(path);
    await first.migrate();
    const definition = sampleDefinition();
    await first.workflows.createRun({
      id: 'kept',
      workflow: 'recommend',
      logicalDate: '2026-11-25T00:00:00.000Z',
      trigger: 'manual',
      params: {},
      definition,
      owner: 'o',
      createdAt: new Date(7),
    });
    await first.workflows.appendLogs('kept', 'train', 1, [
      { at: new Date(8), stream: 'log', line: 'x' },
    ]);
    await first.close();

    const second = KyselyMetadataStore.sqlite(path);
    await second.migrate();
    expect((await second.workflows.getRun('kept'))?.definition).toEqual(definition);
    expect((await second.workflows.getTasks('kept')).map((t) => t.task)).toEqual([
      'aggregate',
      'train',
      'publish',
    ]);
    // Sequence numbers continue rather than restart.
    const [before] = await second.workflows.readLogs('kept', 'train');
    await second.workflows.appendLogs('kept', 'train', 1, [
      { at: new Date(9), stream: 'log', line: 'y' },
    ]);
    const after = await second.workflows.readLogs('kept', 'train', { afterSeq: before.seq });
    expect(after.map((l) => l.line)).toEqual(['y']);
    await second.close();
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

  describeWorkflowStore('PostgreSQL', () => {
    const schema = newSchema();
    return {
      store: KyselyMetadataStore.postgres(POSTGRES_URL, { schema }),
      another: () => KyselyMetadataStore.postgres(POSTGRES_URL, { schema }),
    };
  });

  it('creates the workflow tables inside the store schema, with bigint timestamps and an identity log sequence', async () => {
    const schema = newSchema();
    const store = KyselyMetadataStore.postgres(POSTGRES_URL, { schema });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = $1 and table_name like 'kiban\\_wf\\_%' order by table_name`,
        [schema],
      );
      expect(rows.map((r) => r.table_name)).toEqual([
        'kiban_wf_attempts',
        'kiban_wf_logs',
        'kiban_wf_runs',
        'kiban_wf_tasks',
      ]);
      const seq = await client.query<{ data_type: string; is_identity: string }>(
        `select data_type, is_identity from information_schema.columns where table_schema = $1 and table_name = 'kiban_wf_logs' and column_name = 'seq'`,
        [schema],
      );
      expect(seq.rows[0]).toEqual({ data_type: 'bigint', is_identity: 'YES' });
    } finally {
      await client.end();
    }
  });
});
