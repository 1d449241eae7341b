import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { describeFeatureRegistry } from '../../test/contracts/feature-registry-contract.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from '../../test/fixtures/postgres.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';

async function migrated(store: KyselyMetadataStore): Promise<KyselyMetadataStore> {
  await store.migrate();
  return store;
}

describeFeatureRegistry('SQLite :memory:', () => migrated(KyselyMetadataStore.sqlite(':memory:')));

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

// Not skipped when PostgreSQL is missing: the registry must be proven on both engines.
describe(`feature registry on PostgreSQL (${TEST_POSTGRES_URL})`, () => {
  const schemas: string[] = [];
  afterAll(async () => {
    if (postgresProblem === null) await dropSchemas(schemas);
  });
  it('is reachable', () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
  });
  describeFeatureRegistry('PostgreSQL', () => {
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }));
  });
});
