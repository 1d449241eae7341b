/**
 * Issue 17's "done means" for API keys, against the real serve role: every route the app
 * registers (enumerated from the app, so a new route is covered without editing this file)
 * answers 401 without credentials, 403 with a key of another scope and, with a key of its
 * scope, the status the same request gets with auth off; revoked and expired keys are 401s; on
 * SQLite and on PostgreSQL metadata. And a key rotated through `kiban keys rotate` while a
 * client loop is running costs no failed request.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { openMetadataStore } from '../src/app/open-stores.js';
import { startServeRole, type ServeRole } from '../src/app/roles/serve.js';
import { createApiKey, revokeApiKey } from '../src/auth/api-keys.js';
import { SCOPES, type Scope } from '../src/auth/principal.js';
import { routeAuthDeclarations } from '../src/serving/auth-plugin.js';
import type { MetadataStore } from '../src/storage/metadata-store.js';
import { dropSchemas, probePostgres, TEST_POSTGRES_URL } from './fixtures/postgres.js';

const MAIN = resolve('src/cli/main.ts');
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;
const PEPPER = randomBytes(32).toString('hex');

const dirs: string[] = [];
const schemas: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  if (schemas.length > 0) await dropSchemas(schemas);
});

interface Server {
  role: ServeRole;
  base: string;
  metadataUrl: string;
  close(): Promise<void>;
}

/** The serve role over fresh stores in a new directory, listening on a free loopback port. */
async function startServer(
  mode: 'required' | 'off',
  metadata: 'sqlite' | 'postgres',
): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-auth-e2e-'));
  dirs.push(dir);
  await mkdir(join(dir, 'workflows'));
  let metadataUrl = `sqlite:${join(dir, 'meta.db')}`;
  if (metadata === 'postgres') {
    const schema = `kiban_test_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    metadataUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  }
  const flag = (key: string, value: unknown) => ({ key, value, flag: key });
  const config = await loadKibanConfig({
    env: { KIBAN_AUTH: mode, KIBAN_AUTH_PEPPER: PEPPER },
    flags: [
      flag('stores.serving', `sqlite:${join(dir, 'serving.db')}`),
      flag('stores.metadata', metadataUrl),
      flag('stores.artifacts', join(dir, 'models')),
      flag('stores.work', join(dir, 'work')),
      flag('serve.workflows', join(dir, 'workflows')),
      flag('serve.banditLog', join(dir, 'bandit-logs')),
      flag('serve.dataRoot', dir),
    ],
  });
  const role = await startServeRole(config);
  expect(role.auth.mode).toBe(mode);
  await role.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = role.app.server.address() as { port: number };
  return {
    role,
    base: `http://127.0.0.1:${port}`,
    metadataUrl,
    async close() {
      await role.app.close();
      await role.close();
    },
  };
}

interface Probe {
  method: string;
  url: string;
  scopes: readonly Scope[];
  public: boolean;
}

/** One request per registered route (HEAD aside): path parameters filled, `{}` as a body. */
function probes(server: Server): Probe[] {
  return routeAuthDeclarations(server.role.app)
    .filter((r) => r.method !== 'HEAD')
    .map((r) => ({
      method: r.method,
      url: r.url.replace(/:[A-Za-z0-9_]+/g, 'probe').replace('*', 'probe'),
      scopes: r.scopes,
      public: r.public,
    }));
}

async function send(base: string, probe: Pick<Probe, 'method' | 'url'>, key?: string) {
  const withBody = probe.method === 'POST' || probe.method === 'PUT';
  const response = await fetch(`${base}${probe.url}`, {
    method: probe.method,
    headers: {
      ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      ...(withBody ? { 'content-type': 'application/json' } : {}),
    },
    ...(withBody ? { body: '{}' } : {}),
  });
  const text = await response.text();
  return { status: response.status, text };
}

/** A key per scope (`admin` included) in the server's metadata store. */
async function keysPerScope(store: MetadataStore): Promise<Map<Scope, string>> {
  const keys = new Map<Scope, string>();
  for (const scope of SCOPES) {
    const { key } = await createApiKey(store.apiKeys, PEPPER, {
      name: `only-${scope}`,
      scopes: [scope],
      createdBy: 'test',
    });
    keys.set(scope, key);
  }
  return keys;
}

async function routeByRoute(metadata: 'sqlite' | 'postgres'): Promise<void> {
  const off = await startServer('off', metadata);
  const on = await startServer('required', metadata);
  const store = await openMetadataStore(on.metadataUrl);
  try {
    const keys = await keysPerScope(store);
    const offProbes = probes(off);
    const onProbes = probes(on);
    expect(onProbes.map((p) => `${p.method} ${p.url}`)).toEqual(
      offProbes.map((p) => `${p.method} ${p.url}`),
    );
    // Every area is mounted: workflows, bandits, experiments, the dashboard.
    expect(onProbes.length).toBeGreaterThan(30);
    for (const [i, probe] of onProbes.entries()) {
      const name = `${probe.method} ${probe.url}`;
      const expected = await send(off.base, offProbes[i]!);
      if (probe.public) {
        expect((await send(on.base, probe)).status, name).toBe(expected.status);
        continue;
      }
      const anonymous = await send(on.base, probe);
      expect(anonymous.status, `${name} without credentials`).toBe(401);
      expect(JSON.parse(anonymous.text).code).toBe('UNAUTHENTICATED');
      // A route any scope may call (GET /v1/me) has no wrong scope to try.
      const wrong = SCOPES.find((s) => s !== 'admin' && !probe.scopes.includes(s));
      if (wrong !== undefined) {
        const forbidden = await send(on.base, probe, keys.get(wrong));
        expect(forbidden.status, `${name} with ${wrong}`).toBe(403);
        expect(JSON.parse(forbidden.text).message).toContain(probe.scopes[0]);
      }
      const right = await send(on.base, probe, keys.get(probe.scopes[0]!));
      // GET /v1/me answers who the caller is: with auth off there is no one (401), with a key the key.
      const status = name === 'GET /v1/me' ? 200 : expected.status;
      expect(right.status, `${name} with ${probe.scopes[0]}`).toBe(status);
    }

    const models = { method: 'GET', url: '/v1/models' };
    const { key: revoked, record } = await createApiKey(store.apiKeys, PEPPER, {
      name: 'revoked',
      scopes: ['models:read'],
      createdBy: 'test',
    });
    await revokeApiKey(store.apiKeys, record.id);
    const revokedAnswer = await send(on.base, models, revoked);
    expect(revokedAnswer.status).toBe(401);
    expect(revokedAnswer.text).toContain('was revoked');
    expect(revokedAnswer.text).not.toContain(revoked.slice(17));
    const { key: expired } = await createApiKey(store.apiKeys, PEPPER, {
      name: 'expired',
      scopes: ['models:read'],
      createdBy: 'test',
      expiresAt: new Date(Date.now() - 1000),
    });
    const expiredAnswer = await send(on.base, models, expired);
    expect(expiredAnswer.status).toBe(401);
    expect(expiredAnswer.text).toContain('expired at');
    const xApiKey = await fetch(`${on.base}/v1/models`, {
      headers: { 'x-api-key': keys.get('models:read')! },
    });
    expect(xApiKey.status).toBe(503);
  } finally {
    await store.close();
    await on.close();
    await off.close();
  }
}

const postgresProblem = await probePostgres(TEST_POSTGRES_URL);

describe('every route against the real serve role, auth required', () => {
  it('on SQLite: 401 without credentials, 403 with another scope, as with auth off with its scope', async () => {
    await routeByRoute('sqlite');
  }, 120_000);

  // Not skipped without PostgreSQL: the issue asks for both engines.
  it(`on PostgreSQL metadata (${TEST_POSTGRES_URL})`, async () => {
    expect(postgresProblem, `PostgreSQL at ${TEST_POSTGRES_URL} is required`).toBeNull();
    await routeByRoute('postgres');
  }, 120_000);
});

describe('key rotation under load', () => {
  it('a client loop switching to the key kiban keys rotate prints has zero failed requests', async () => {
    const server = await startServer('required', 'sqlite');
    const store = await openMetadataStore(server.metadataUrl);
    try {
      const { key: first, record } = await createApiKey(store.apiKeys, PEPPER, {
        name: 'svc-loop',
        scopes: ['experiments:read'],
        createdBy: 'test',
      });
      let current = first;
      let rotated: string | null = null;
      const answers: { status: number; key: string }[] = [];
      let startRotation: () => void = () => {};
      const enoughBefore = new Promise<void>((ok) => (startRotation = ok));
      const worker = async () => {
        let afterSwitch = 0;
        while (afterSwitch < 25) {
          const key = current;
          const { status } = await send(
            server.base,
            { method: 'GET', url: '/v1/experiments' },
            key,
          );
          answers.push({ status, key });
          if (answers.length >= 40) startRotation();
          if (rotated !== null && key === rotated) afterSwitch += 1;
        }
      };
      const rotation = (async () => {
        await enoughBefore;
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [
            '--import',
            TSX,
            MAIN,
            'keys',
            'rotate',
            record.id,
            '--grace',
            '1h',
            '--json',
            '--metadata',
            server.metadataUrl,
          ],
          { env: { ...process.env, KIBAN_AUTH_PEPPER: PEPPER } },
        );
        const printed = JSON.parse(stdout.trim().split('\n').at(-1)!) as { key: string };
        expect(printed.key).toMatch(/^kbn_[0-9a-f]{12}_/);
        rotated = printed.key;
        current = printed.key;
      })();
      await Promise.all([worker(), worker(), worker(), worker(), rotation]);
      const failed = answers.filter((a) => a.status < 200 || a.status >= 300);
      expect(failed).toEqual([]);
      expect(answers.filter((a) => a.key === first).length).toBeGreaterThanOrEqual(40);
      expect(answers.filter((a) => a.key === rotated).length).toBeGreaterThanOrEqual(100);
      // In the grace period both keys work; the old one expires at its end.
      expect(
        (await send(server.base, { method: 'GET', url: '/v1/experiments' }, first)).status,
      ).toBe(200);
      const old = await store.apiKeys.get(record.id);
      expect(old?.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    } finally {
      await store.close();
      await server.close();
    }
  }, 120_000);
});
