import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProxyAuthenticator } from '../src/auth/proxy-authenticator.js';
import { InvalidArgumentError, UnauthenticatedError } from '../src/core/errors.js';
import {
  startOidcProvider,
  TEST_SERVICE_CLIENT,
  type TestOidcProvider,
} from './fixtures/oidc-provider.js';

const ISSUER = 'https://cloud.google.com/iap';
const AUDIENCE = '/projects/42/global/backendServices/7';
const HEADER = 'x-goog-iap-jwt-assertion';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;
let proxyKeys: Keys;
let attackerKeys: Keys;
let idp: TestOidcProvider;

beforeAll(async () => {
  proxyKeys = await generateKeyPair('ES256', { extractable: true });
  attackerKeys = await generateKeyPair('ES256', { extractable: true });
  idp = await startOidcProvider();
});
afterAll(async () => {
  await idp?.stop();
});

/** An IAP-style assertion for ada@example.com, signed with `keys`. */
function assertion(keys: Keys, claims: { aud?: string; iss?: string } = {}): Promise<string> {
  return new SignJWT({ email: 'ada@example.com', hd: 'example.com' })
    .setProtectedHeader({ alg: 'ES256', kid: 'proxy-1' })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject('accounts.google.com:1234')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(keys.privateKey);
}

async function iap() {
  return buildProxyAuthenticator({
    trustedCidrs: ['10.1.0.0/16', '::1'],
    issuer: ISSUER,
    audience: AUDIENCE,
    publicKeyPem: await exportSPKI(proxyKeys.publicKey),
    rules: [{ emailDomain: 'example.com', scopes: ['recs:read', 'experiments:read'] }],
  });
}

const from = (ip: string, value: string) => ({ headers: { [HEADER]: value }, ip });

describe('ProxyAuthenticator', () => {
  it('accepts a verified assertion from a trusted proxy address', async () => {
    const auth = await iap();
    const principal = await auth.authenticate(from('10.1.2.3', await assertion(proxyKeys)));
    expect(principal).toMatchObject({
      kind: 'developer',
      id: `${ISSUER}|accounts.google.com:1234`,
      name: 'ada@example.com',
      method: 'proxy',
    });
    expect([...(principal?.scopes ?? [])].sort()).toEqual(['experiments:read', 'recs:read']);
    // An IPv4 peer on a dual-stack socket, and an IPv6 proxy.
    expect(
      await auth.authenticate(from('::ffff:10.1.9.9', await assertion(proxyKeys))),
    ).not.toBeNull();
    expect(await auth.authenticate(from('::1', await assertion(proxyKeys)))).not.toBeNull();
  });

  it('ignores the header from an address that is not a configured proxy, even a valid one', async () => {
    const auth = await iap();
    const valid = await assertion(proxyKeys);
    expect(await auth.authenticate(from('10.2.0.1', valid))).toBeNull();
    expect(await auth.authenticate(from('127.0.0.1', valid))).toBeNull();
    // A forwarded-for header does not make the peer a proxy.
    expect(
      await auth.authenticate({
        headers: { [HEADER]: valid, 'x-forwarded-for': '10.1.0.1' },
        ip: '192.0.2.1',
      }),
    ).toBeNull();
    expect(await auth.authenticate({ headers: {}, ip: '10.1.0.1' })).toBeNull();
  });

  it('answers 401 for a forged or misdirected assertion from a trusted address', async () => {
    const auth = await iap();
    const reasons: string[] = [];
    for (const token of [
      await assertion(attackerKeys),
      await assertion(proxyKeys, { aud: '/projects/42/global/backendServices/8' }),
      await assertion(proxyKeys, { iss: 'https://evil.example' }),
      'garbage',
    ]) {
      const error = await auth.authenticate(from('10.1.0.1', token)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthenticatedError);
      reasons.push((error as Error).message);
    }
    expect(reasons).toEqual([
      `${HEADER} header: bad signature`,
      `${HEADER} header: wrong audience`,
      `${HEADER} header: wrong issuer`,
      `${HEADER} header: malformed token`,
    ]);
  });

  it('verifies against a JWKS URL and a configured header', async () => {
    const auth = buildProxyAuthenticator({
      header: 'X-Auth-Request-Assertion',
      trustedCidrs: ['127.0.0.0/8'],
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUri: `${idp.issuer}/jwks`,
      rules: [{ claim: 'client_id', equals: TEST_SERVICE_CLIENT.id, scopes: ['recs:read'] }],
    });
    const token = await idp.serviceToken();
    const principal = await auth.authenticate({
      headers: { 'x-auth-request-assertion': token },
      ip: '127.0.0.1',
    });
    expect(principal).toMatchObject({
      kind: 'service',
      name: TEST_SERVICE_CLIENT.id,
      method: 'proxy',
    });
    expect(principal?.scopes.has('recs:read')).toBe(true);
  });

  it('names the bad proxy address in the configuration', () => {
    const build = (cidr: string) => () =>
      buildProxyAuthenticator({
        trustedCidrs: ['10.0.0.0/8', cidr],
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: 'https://x.example/jwks',
      });
    expect(build('10.0.0.0/33')).toThrow(InvalidArgumentError);
    expect(build('10.0.0.0/33')).toThrow('auth.proxy.trustedCidrs[1]');
    expect(build('proxy.internal')).toThrow('is not an address or CIDR');
  });
});
