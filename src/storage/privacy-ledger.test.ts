import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describePrivacyLedger,
  sampleRelease,
  uniqueName,
} from '../../test/contracts/privacy-ledger-contract.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from '../../test/fixtures/postgres.js';
import { PrivacyBudgetExceededError } from '../privacy/privacy-ledger.js';
import { KyselyMetadataStore } from './kysely-metadata-store.js';

async function migrated(store: KyselyMetadataStore): Promise<KyselyMetadataStore> {
  await store.migrate();
  return store;
}

/** Reserves 0.01 of a 0.1 ρ budget from each store in turn, all at once; resolves to how many passed. */
async function raceForBudget(stores: readonly KyselyMetadataStore[], dataset: string) {
  const outcomes = await Promise.allSettled(
    Array.from({ length: 20 }, (_, k) =>
      stores[k % stores.length]!.privacyLedger.reserve(
        sampleRelease({ dataset, spend: { rho: 0.01 } }),
        { rho: 0.1 },
      ),
    ),
  );
  for (const o of outcomes)
    if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(PrivacyBudgetExceededError);
  return outcomes.filter((o) => o.status === 'fulfilled').length;
}

describePrivacyLedger('SQLite :memory:', () => migrated(KyselyMetadataStore.sqlite(':memory:')));

describe('privacy ledger on a SQLite file', () => {
  const dirs: string[] = [];
  const tempFile = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'kiban-privacy-'));
    dirs.push(dir);
    return join(dir, 'meta.db');
  };
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  // One file for the whole suite, as a deployment has: the tests' datasets keep them apart.
  const shared = tempFile();
  describePrivacyLedger('SQLite file', async () =>
    migrated(KyselyMetadataStore.sqlite(await shared)),
  );

  it('never overspends when two stores of one file reserve at once', async () => {
    const path = await tempFile();
    const a = await migrated(KyselyMetadataStore.sqlite(path));
    const b = await migrated(KyselyMetadataStore.sqlite(path));
    try {
      const dataset = uniqueName('ds');
      expect(await raceForBudget([a, b], dataset)).toBe(10);
      expect((await b.privacyLedger.totals(dataset, 'partner')).releases).toBe(10);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  // In-process writes queue per file; this is what BEGIN IMMEDIATE alone has to make safe.
  it('never overspends when several processes reserve on one file at the same moment', async () => {
    const path = await tempFile();
    await (await migrated(KyselyMetadataStore.sqlite(path))).close();
    const script = join(path, '..', 'reserve.mts');
    const storeModule = fileURLToPath(new URL('./kysely-metadata-store.ts', import.meta.url));
    // Each child loads first, then all start reserving at one agreed instant, to maximise overlap.
    await writeFile(
      script,
      [
        `import { KyselyMetadataStore } from ${JSON.stringify(storeModule)};`,
        'const [path, startAt, dataset, tag] = process.argv.slice(2);',
        'const store = KyselyMetadataStore.sqlite(path);',
        'await new Promise((r) => setTimeout(r, Number(startAt) - Date.now()));',
        'let passed = 0;',
        'try {',
        '  for (let k = 0; k < 5; k++) {',
        '    const release = { id: `${tag}-${k}`, dataset, recipient: "partner", policy: "p", mechanism: "discrete-gaussian", spend: { rho: 0.01 }, params: {}, actor: tag };',
        '    try { await store.privacyLedger.reserve(release, { rho: 0.1 }); passed++; }',
        '    catch (e) { if (e.name !== "PrivacyBudgetExceededError") throw e; }',
        '  }',
        '} finally { await store.close(); }',
        'process.stdout.write(String(passed));',
      ].join('\n'),
    );
    const dataset = uniqueName('ds');
    const startAt = String(Date.now() + 3000);
    const run = promisify(execFile);
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, k) =>
        run(process.execPath, ['--import', 'tsx', script, path, startAt, dataset, `proc${k}`]),
      ),
    );
    expect(results.map((r) => Number(r.stdout)).reduce((x, y) => x + y, 0)).toBe(10);
    const store = KyselyMetadataStore.sqlite(path);
    try {
      expect((await store.privacyLedger.totals(dataset, 'partner')).releases).toBe(10);
    } finally {
      await store.close();
    }
  }, 30_000);
});

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

// Not skipped when PostgreSQL is missing: the ledger must be proven on both engines.
describe(`privacy ledger on PostgreSQL (${TEST_POSTGRES_URL})`, () => {
  const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    if (postgresProblem === null) await dropSchemas([schema]);
  });
  it('is reachable', () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
  });
  // One schema for the whole suite, so that the tests' datasets (not their schemas) keep them apart.
  describePrivacyLedger('PostgreSQL', () =>
    migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema })),
  );

  it('never overspends when two stores (two pools) of one schema reserve at once', async () => {
    const a = await migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }));
    const b = await migrated(KyselyMetadataStore.postgres(TEST_POSTGRES_URL, { schema }));
    try {
      // Several rounds: one lucky interleaving proves little.
      for (let round = 0; round < 3; round++) {
        const dataset = uniqueName('ds');
        expect(await raceForBudget([a, b], dataset)).toBe(10);
        expect((await a.privacyLedger.totals(dataset, 'partner')).releases).toBe(10);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
