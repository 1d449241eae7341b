import { describe, expect, it } from 'vitest';
import { principalFromClaims, scopesFromClaims } from './jwt-claims.js';
import { OidcConfigSchema, ScopeRuleSchema, type ScopeRule } from './oidc-config.js';

const rules: ScopeRule[] = [
  { emailDomain: 'Example.com', scopes: ['recs:read'] },
  { group: 'ml-team', scopes: ['workflows:run', 'recs:read'] },
  { claim: 'azp', equals: 'svc-x', scopes: ['events:write'] },
];

describe('claims → scopes', () => {
  it('unions the scopes of every matching rule', () => {
    const scopes = scopesFromClaims(
      { email: 'ada@EXAMPLE.com', groups: ['ml-team', 'other'], azp: 'svc-x' },
      rules,
      'groups',
    );
    expect([...scopes].sort()).toEqual(['events:write', 'recs:read', 'workflows:run']);
  });

  it('does not trust an email the issuer says is unverified, nor a look-alike domain', () => {
    expect(
      scopesFromClaims({ email: 'ada@example.com', email_verified: false }, rules, 'groups').size,
    ).toBe(0);
    expect(scopesFromClaims({ email: 'ada@notexample.com' }, rules, 'groups').size).toBe(0);
    expect(scopesFromClaims({ email: 'ada@example.com.evil.io' }, rules, 'groups').size).toBe(0);
  });

  it('reads groups from the configured claim, as a list or a single string', () => {
    expect(scopesFromClaims({ roles: 'ml-team' }, rules, 'roles').has('workflows:run')).toBe(true);
    expect(scopesFromClaims({ groups: ['ml-team'] }, rules, 'roles').size).toBe(0);
  });

  it('makes a developer of a token with an email, a service otherwise', () => {
    const options = { rules, groupsClaim: 'groups', method: 'jwt' as const };
    const dev = principalFromClaims(
      { iss: 'https://idp', sub: 'u1', email: 'ada@example.com' },
      options,
    );
    expect(dev).toMatchObject({ kind: 'developer', id: 'https://idp|u1', name: 'ada@example.com' });
    const svc = principalFromClaims({ iss: 'https://idp', sub: 's1', azp: 'svc-x' }, options);
    expect(svc).toMatchObject({ kind: 'service', id: 'https://idp|s1', name: 'svc-x' });
    expect([...svc.scopes]).toEqual(['events:write']);
  });
});

describe('auth.oidc schema', () => {
  it('fills in the defaults', () => {
    const config = OidcConfigSchema.parse({ issuer: 'https://idp.example.com', audience: 'kiban' });
    expect(config).toMatchObject({
      clockToleranceSec: 60,
      algorithms: ['RS256', 'ES256'],
      rules: [],
    });
  });

  it('names what is wrong with a rule', () => {
    expect(
      ScopeRuleSchema.safeParse({ group: 'a', emailDomain: 'b', scopes: ['admin'] }).success,
    ).toBe(false);
    expect(ScopeRuleSchema.safeParse({ claim: 'azp', scopes: ['admin'] }).success).toBe(false);
    const unknown = ScopeRuleSchema.safeParse({ group: 'a', scopes: ['root'] });
    expect(unknown.success).toBe(false);
    expect(unknown.error?.issues[0]?.path).toEqual(['scopes', 0]);
    expect(unknown.error?.issues[0]?.message).toMatch(/^unknown scope "root" \(known: recs:read, /);
    // A service's scopes (issue 22) may be granted by a rule too; a malformed one may not.
    expect(
      ScopeRuleSchema.parse({ group: 'booth-team', scopes: ['recs:read', 'service:booth'] }).scopes,
    ).toEqual(['recs:read', 'service:booth']);
    expect(ScopeRuleSchema.safeParse({ group: 'a', scopes: ['service:Booth!'] }).success).toBe(
      false,
    );
    expect(
      OidcConfigSchema.safeParse({ issuer: 'x', audience: 'kiban' }).error?.issues[0]?.path,
    ).toEqual(['issuer']);
    expect(
      OidcConfigSchema.safeParse({ issuer: 'https://i', audience: 'k', clockToleranceSec: 3600 })
        .success,
    ).toBe(false);
  });
});
