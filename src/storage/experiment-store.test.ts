import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { describeExperimentStore } from '../../test/contracts/experiment-store-contract.js';
import {
  dropSchemas,
  IN_CI,
  probePostgres,
  TEST_POSTGRES_URL,
} from '../../test/fixtures/postgres.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';

async function migrated(store: KyselyMetadataStore): Promise<KyselyMetadataStore> {
  await store.migrate();
  return store;
}

describeExperimentStore('SQLite :memory:', () => migrated(KyselyMetadataStore.sqlite(':memory:')));

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);
const describePostgres = postgresProblem !== null && !IN_CI ? describe.skip : describe;

describePostgres(`experiments on PostgreSQL (${TEST_POSTGRES_URL})`, () => {
  const schemas: string[] = [];
  afterAll(async () => {
    if (postgresProblem === null) await dropSchemas(schemas);
  });
  it('is reachable (required in CI)', () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required in CI`).toBeNull();
  });
  describeExperimentStore('PostgreSQL', () => {
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }));
  });
});
