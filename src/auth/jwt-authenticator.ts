import type { z } from 'zod';
import { principalFromClaims } from './jwt-claims.js';
import { JwtVerifier } from './jwt-verifier.js';
import { OidcConfigSchema, type OidcConfig } from './oidc-config.js';
import type { AuthRequest, Authenticator, Principal } from './principal.js';

/** The prefix of kiban's API keys: such a bearer is left to the API-key authenticator. */
const API_KEY_PREFIX = 'kbn_';

/** The bearer credential of `Authorization`, or undefined when there is none. */
export function bearerToken(request: AuthRequest): string | undefined {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** Options of {@link JwtAuthenticator} beyond `auth.oidc`: knobs for tests and operators. */
export interface JwtAuthenticatorExtras {
  /** Least time between JWKS refetches on an unknown `kid`. @defaultValue 30000 */
  jwksCooldownMs?: number;
  /** The clock. @defaultValue `() => new Date()` */
  now?: () => Date;
  /** How long a verified token is remembered (never past its `exp`). @defaultValue 60000 */
  tokenCacheTtlMs?: number;
}

/**
 * The `jwt` way in: `Authorization: Bearer <JWT>` from the configured OIDC issuer (a bearer
 * starting with `kbn_` is an API key: `null`, for the API-key authenticator). The token is
 * verified by a {@link JwtVerifier} (JWKS from the issuer's discovery document, cached, refetched
 * on an unknown `kid`; `iss`, `aud`, `exp`, `nbf`, algorithms, bounded clock skew) and its claims
 * mapped to scopes by `rules`. The principal is a developer when the token has an `email`, else a
 * service; its id is `iss|sub`. A token that verifies but matches no rule gives a principal
 * without scopes (the route answers 403, not 401).
 *
 * @example
 * const jwt = buildJwtAuthenticator({ issuer: 'https://idp.example.com', audience: 'kiban', rules: [{ emailDomain: 'example.com', scopes: ['recs:read'] }] });
 */
export class JwtAuthenticator implements Authenticator {
  readonly name = 'jwt';
  readonly #config: OidcConfig;
  readonly #verifier: JwtVerifier;
  /** The principal of each claims object the verifier remembers; goes when the verifier forgets it. */
  readonly #principals = new WeakMap<object, Principal>();

  constructor(config: OidcConfig, extras: JwtAuthenticatorExtras = {}) {
    this.#config = config;
    this.#verifier = new JwtVerifier({
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      keys: config.jwksUri === undefined ? { discovery: true } : { jwksUri: config.jwksUri },
      clockToleranceSec: config.clockToleranceSec,
      label: 'Authorization bearer token',
      ...extras,
    });
  }

  /** The verifier, shared with the login's ID-token check. */
  get verifier(): JwtVerifier {
    return this.#verifier;
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const token = bearerToken(request);
    if (token === undefined || token.startsWith(API_KEY_PREFIX)) return null;
    const claims = await this.#verifier.verify(token);
    // A remembered token comes back as the same claims object: map its claims to scopes once.
    let principal = this.#principals.get(claims);
    if (principal === undefined) {
      principal = principalFromClaims(claims, {
        rules: this.#config.rules,
        groupsClaim: this.#config.groupsClaim,
        method: 'jwt',
      });
      this.#principals.set(claims, principal);
    }
    return principal;
  }
}

/**
 * A {@link JwtAuthenticator} from `auth.oidc` as written in the configuration (parsed here with
 * {@link OidcConfigSchema}, so defaults apply and a bad key throws zod's error naming it).
 */
export function buildJwtAuthenticator(
  options: z.input<typeof OidcConfigSchema>,
  extras: JwtAuthenticatorExtras = {},
): JwtAuthenticator {
  return new JwtAuthenticator(OidcConfigSchema.parse(options), extras);
}
