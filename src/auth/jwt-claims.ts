import type { ScopeRule } from './oidc-config.js';
import type { AuthMethod, Principal, Scope } from './principal.js';

/** A verified token's claims, as `jose` gives them. */
export type Claims = Readonly<Record<string, unknown>>;

/** Whether `value` is `wanted`, or an array containing it. */
function holds(value: unknown, wanted: string): boolean {
  if (typeof value === 'string') return value === wanted;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value) === wanted;
  return Array.isArray(value) && value.some((v) => v === wanted);
}

/** Whether one rule matches the claims (see `ScopeRuleSchema`). */
function matches(rule: ScopeRule, claims: Claims, groupsClaim: string): boolean {
  if (rule.emailDomain !== undefined) {
    const email = claims.email;
    if (typeof email !== 'string' || claims.email_verified === false) return false;
    return email.toLowerCase().endsWith(`@${rule.emailDomain.toLowerCase()}`);
  }
  if (rule.group !== undefined) return holds(claims[groupsClaim], rule.group);
  if (rule.claim !== undefined && rule.equals !== undefined)
    return holds(claims[rule.claim], rule.equals);
  return false;
}

/**
 * The scopes `claims` earn: the union of the scopes of every rule they match, in
 * {@link ScopeRule} order; empty when none matches.
 */
export function scopesFromClaims(
  claims: Claims,
  rules: readonly ScopeRule[],
  groupsClaim: string,
): Set<Scope> {
  const scopes = new Set<Scope>();
  for (const rule of rules)
    if (matches(rule, claims, groupsClaim)) for (const scope of rule.scopes) scopes.add(scope);
  return scopes;
}

/**
 * The principal of a verified token: a developer when it carries an `email`, else a service;
 * id `iss|sub`; name the email, else the authorised party (`azp`, `client_id`), else `sub`.
 */
export function principalFromClaims(
  claims: Claims,
  options: { rules: readonly ScopeRule[]; groupsClaim: string; method: AuthMethod },
): Principal {
  const email = typeof claims.email === 'string' ? claims.email : undefined;
  const sub = String(claims.sub ?? '');
  const party =
    typeof claims.azp === 'string'
      ? claims.azp
      : typeof claims.client_id === 'string'
        ? claims.client_id
        : undefined;
  return {
    kind: email === undefined ? 'service' : 'developer',
    id: `${String(claims.iss ?? '')}|${sub}`,
    name: email ?? party ?? sub,
    scopes: scopesFromClaims(claims, options.rules, options.groupsClaim),
    method: options.method,
  };
}
