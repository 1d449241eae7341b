/**
 * The serve role with `auth.oidc` and `auth.proxy` in kiban.yaml: bearer JWTs from the test OIDC
 * provider are accepted with the scopes the rules give, the dashboard login is mounted, the client
 * and session secrets come from the environment, and a bad key is named.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKibanConfig } from '../src/app/config.js';
import { startServeRole, type ServeRole } from '../src/app/roles/serve.js';
import {
  startOidcProvider,
  TEST_DASHBOARD_CLIENT,
  TEST_SERVICE_CLIENT,
  type TestOidcProvider,
} from './fixtures/oidc-provider.js';

let idp: TestOidcProvider;
let dir: string;
let role: ServeRole;
let base: string;

function yaml(issuer: string, audience: string): string {
  return `auth:
  oidc:
    issuer: ${issuer}
    audience: ${audience}
    algorithms: [ES256]
    clientId: ${TEST_DASHBOARD_CLIENT.id}
    rules:
      - { claim: client_id, equals: ${TEST_SERVICE_CLIENT.id}, scopes: [models:read] }
      - { emailDomain: example.com, scopes: [recs:read] }
  proxy:
    trustedCidrs: [10.0.0.0/8]
    issuer: https://cloud.google.com/iap
    audience: /projects/1/global/backendServices/2
    jwksUri: https://www.gstatic.com/iap/verify/public_key-jwk
`;
}

async function config(file: string) {
  const flag = (key: string, value: unknown) => ({ key, value, flag: key });
  return loadKibanConfig({
    file,
    env: {
      KIBAN_AUTH: 'required',
      KIBAN_AUTH_PEPPER: 'p'.repeat(32),
      KIBAN_OIDC_CLIENT_SECRET: TEST_DASHBOARD_CLIENT.secret,
      KIBAN_SESSION_SECRET: 's'.repeat(40),
    },
    flags: [
      flag('stores.serving', `sqlite:${join(dir, 'serving.db')}`),
      flag('stores.metadata', `sqlite:${join(dir, 'meta.db')}`),
      flag('stores.artifacts', join(dir, 'models')),
      flag('stores.work', join(dir, 'work')),
      flag('serve.workflows', join(dir, 'workflows')),
      flag('serve.banditLog', join(dir, 'bandit-logs')),
      flag('serve.dataRoot', dir),
    ],
  });
}

beforeAll(async () => {
  idp = await startOidcProvider();
  dir = await mkdtemp(join(tmpdir(), 'kiban-serve-oidc-'));
  await mkdir(join(dir, 'workflows'));
  await writeFile(join(dir, 'kiban.yaml'), yaml(idp.issuer, idp.audience));
  const loaded = await config(join(dir, 'kiban.yaml'));
  expect(loaded.auth.oidc?.clientSecret).toBe(TEST_DASHBOARD_CLIENT.secret);
  role = await startServeRole(loaded);
  await role.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = role.app.server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await role?.app.close();
  await role?.close();
  await idp?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('kiban serve with auth.oidc and auth.proxy', () => {
  it('accepts a bearer JWT with the scopes its claims earn, and only those', async () => {
    const authorization = `Bearer ${await idp.serviceToken()}`;
    const me = await fetch(`${base}/v1/me`, { headers: { authorization } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      kind: 'service',
      name: TEST_SERVICE_CLIENT.id,
      method: 'jwt',
      scopes: ['models:read'],
    });
    expect((await fetch(`${base}/v1/models`, { headers: { authorization } })).status).toBe(503);
    const recs = await fetch(`${base}/v1/users/u1/recommendations`, { headers: { authorization } });
    expect(recs.status).toBe(403);
    expect((await fetch(`${base}/v1/models`)).status).toBe(401);
    const expired = await fetch(`${base}/v1/models`, {
      headers: { authorization: `Bearer ${await idp.serviceToken(idp.otherAudience)}` },
    });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { message: string }).message).toBe(
      'Authorization bearer token: wrong audience',
    );
  });

  it('mounts the dashboard login with the client from the configuration', async () => {
    const login = await fetch(`${base}/auth/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const to = new URL(login.headers.get('location') ?? '');
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get('client_id')).toBe(TEST_DASHBOARD_CLIENT.id);
    expect(to.searchParams.get('redirect_uri')).toBe(`${base}/auth/callback`);
  });

  it('ignores a proxy assertion from an address that is not the proxy', async () => {
    const response = await fetch(`${base}/v1/models`, {
      headers: { 'x-goog-iap-jwt-assertion': 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { message: string }).message).toContain('no credentials');
  });

  it('names the configuration key at fault', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, yaml('not-a-url', 'kiban'));
    await expect(config(bad)).rejects.toThrow(/auth\.oidc\.issuer/);
  });
});
