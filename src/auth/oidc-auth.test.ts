import { describe, expect, it } from 'vitest';
import { buildOidcAuth } from './oidc-auth.js';

const oidc = { issuer: 'https://idp.example.com', audience: 'kiban' };
const proxy = {
  trustedCidrs: ['10.0.0.0/8'],
  issuer: 'https://cloud.google.com/iap',
  audience: '/projects/1/global/backendServices/2',
  jwksUri: 'https://www.gstatic.com/iap/verify/public_key-jwk',
};

describe('buildOidcAuth', () => {
  it('builds nothing without auth.oidc and auth.proxy', () => {
    expect(buildOidcAuth({})).toEqual({ authenticators: [], warnings: [] });
  });

  it('adds bearer JWTs, and the session and login only with a client id', () => {
    expect(buildOidcAuth({ oidc }).authenticators.map((a) => a.name)).toEqual(['jwt']);
    const withLogin = buildOidcAuth({ oidc: { ...oidc, clientId: 'dash' }, proxy });
    expect(withLogin.authenticators.map((a) => a.name)).toEqual(['jwt', 'session', 'proxy']);
    expect(withLogin.login).toBeDefined();
    expect(withLogin.warnings.join('\n')).toContain('auth.oidc.sessionSecret is not set');
    expect(withLogin.login?.secureCookies).toBeUndefined();
    const behindTls = buildOidcAuth({ oidc: { ...oidc, clientId: 'dash', secureCookies: true } });
    expect(behindTls.login?.secureCookies).toBe(true);
  });

  it('names the key at fault', () => {
    expect(() => buildOidcAuth({ oidc: { ...oidc, issuer: 'idp' } })).toThrow(/issuer/);
    expect(() => buildOidcAuth({ proxy: { ...proxy, publicKeyPem: 'x' } })).toThrow(
      /exactly one of jwksUri or publicKeyPem/,
    );
  });
});
