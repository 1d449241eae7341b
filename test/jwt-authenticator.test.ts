import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildJwtAuthenticator } from '../src/auth/jwt-authenticator.js';
import type { Principal } from '../src/auth/principal.js';
import { type KibanError, UnauthenticatedError } from '../src/core/errors.js';
import { STATUS_BY_CODE } from '../src/serving/error-status.js';
import {
  startOidcProvider,
  TEST_SERVICE_CLIENT,
  type TestOidcProvider,
} from './fixtures/oidc-provider.js';

let idp: TestOidcProvider;
beforeAll(async () => {
  idp = await startOidcProvider({ alg: 'ES256' });
});
afterAll(async () => {
  await idp?.stop();
});

const bearer = (token: string) => ({
  headers: { authorization: `Bearer ${token}` },
  ip: '127.0.0.1',
});

function authenticator(overrides: Record<string, unknown> = {}, extras = {}) {
  return buildJwtAuthenticator(
    {
      issuer: idp.issuer,
      audience: idp.audience,
      algorithms: ['ES256'],
      rules: [
        {
          claim: 'client_id',
          equals: TEST_SERVICE_CLIENT.id,
          scopes: ['recs:read', 'events:write'],
        },
        { group: 'ml-team', scopes: ['admin'] },
      ],
      ...overrides,
    },
    extras,
  );
}

/** The 401 `authenticate` throws for `token`, checked to be one that never repeats the token. */
async function rejection(
  auth: ReturnType<typeof authenticator>,
  token: string,
): Promise<KibanError> {
  const error = await auth.authenticate(bearer(token)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthenticatedError);
  const kiban = error as KibanError;
  expect(STATUS_BY_CODE[kiban.code as keyof typeof STATUS_BY_CODE]).toBe(401);
  expect(kiban.message).not.toContain(token.slice(-20));
  return kiban;
}

describe('JwtAuthenticator against a real OIDC provider', () => {
  it('maps a valid service token to the scopes its claims earn', async () => {
    const auth = authenticator();
    const principal = (await auth.authenticate(bearer(await idp.serviceToken()))) as Principal;
    expect(principal).not.toBeNull();
    expect(principal.kind).toBe('service');
    expect(principal.id).toBe(`${idp.issuer}|${TEST_SERVICE_CLIENT.id}`);
    expect(principal.name).toBe(TEST_SERVICE_CLIENT.id);
    expect(principal.method).toBe('jwt');
    expect([...principal.scopes].sort()).toEqual(['events:write', 'recs:read']);
  });

  it('gives a verified token that matches no rule a principal without scopes (403, not 401)', async () => {
    const auth = authenticator({ rules: [{ emailDomain: 'example.com', scopes: ['admin'] }] });
    const principal = await auth.authenticate(bearer(await idp.serviceToken()));
    expect(principal?.scopes.size).toBe(0);
  });

  it('leaves API keys and requests without a bearer to the other authenticators', async () => {
    const auth = authenticator();
    expect(await auth.authenticate(bearer('kbn_abc123_secret'))).toBeNull();
    expect(await auth.authenticate({ headers: {}, ip: '127.0.0.1' })).toBeNull();
    expect(
      await auth.authenticate({
        headers: { authorization: 'Basic dXNlcjpwYXNz' },
        ip: '127.0.0.1',
      }),
    ).toBeNull();
  });

  it('rejects an expired token, beyond the clock tolerance only', async () => {
    const token = await idp.serviceToken(); // 600 s lifetime
    const later = (seconds: number) => () => new Date(Date.now() + seconds * 1000);
    const lenient = authenticator({ clockToleranceSec: 120 }, { now: later(650) });
    expect(await lenient.authenticate(bearer(token))).not.toBeNull();
    const error = await rejection(
      authenticator({ clockToleranceSec: 60 }, { now: later(700) }),
      token,
    );
    expect(error.message).toBe('Authorization bearer token: expired');
  });

  it('remembers a verified token only until it expires', async () => {
    const token = await idp.serviceToken(); // 600 s lifetime
    let now = Date.now();
    // Remembered for an hour at most: the token's own exp must still end it.
    const auth = authenticator(
      { clockToleranceSec: 0 },
      { now: () => new Date(now), tokenCacheTtlMs: 3_600_000 },
    );
    expect(await auth.authenticate(bearer(token))).not.toBeNull();
    now += 300_000;
    expect(await auth.authenticate(bearer(token))).not.toBeNull();
    now += 301_000;
    const error = await rejection(auth, token);
    expect(error.message).toBe('Authorization bearer token: expired');
  });

  it('rejects a token for another audience', async () => {
    const error = await rejection(authenticator(), await idp.serviceToken(idp.otherAudience));
    expect(error.message).toContain('wrong audience');
  });

  it('rejects a token from another issuer', async () => {
    const auth = authenticator({
      issuer: `${idp.issuer}/elsewhere`,
      jwksUri: `${idp.issuer}/jwks`,
    });
    const error = await rejection(auth, await idp.serviceToken());
    expect(error.message).toContain('wrong issuer');
  });

  it('rejects a tampered signature and a tampered payload', async () => {
    const auth = authenticator();
    const [header, payload, signature] = (await idp.serviceToken()).split('.') as [
      string,
      string,
      string,
    ];
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    expect((await rejection(auth, `${header}.${payload}.${flipped}`)).message).toContain(
      'bad signature',
    );
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const forged = Buffer.from(JSON.stringify({ ...claims, client_id: 'someone-else' })).toString(
      'base64url',
    );
    expect((await rejection(auth, `${header}.${forged}.${signature}`)).message).toContain(
      'bad signature',
    );
    expect((await rejection(auth, 'not-a-jwt')).message).toContain('malformed token');
  });

  it('rejects an algorithm that is not allowed', async () => {
    const error = await rejection(
      authenticator({ algorithms: ['RS256'] }),
      await idp.serviceToken(),
    );
    expect(error.message).toContain('algorithm not allowed');
  });

  it('picks up a key rotation at the provider (an unknown kid refetches the JWKS)', async () => {
    const auth = authenticator({}, { jwksCooldownMs: 0 });
    const before = await idp.serviceToken();
    expect(await auth.authenticate(bearer(before))).not.toBeNull();
    const kid = await idp.rotateKeys();
    const after = await idp.serviceToken();
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
    expect((await auth.authenticate(bearer(after)))?.scopes.has('recs:read')).toBe(true);
    // The old key is still published: tokens signed before the rotation keep working.
    expect(await auth.authenticate(bearer(before))).not.toBeNull();
  });

  it('refuses an unknown key while the refetch cooldown lasts', async () => {
    const auth = authenticator({}, { jwksCooldownMs: 3_600_000 });
    expect(await auth.authenticate(bearer(await idp.serviceToken()))).not.toBeNull();
    await idp.rotateKeys();
    const error = await rejection(auth, await idp.serviceToken());
    expect(error.message).toContain('unknown signing key');
  });
});
