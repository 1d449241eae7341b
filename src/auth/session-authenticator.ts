import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, UnauthenticatedError } from '../core/errors.js';
import { principalFromClaims, type Claims } from './jwt-claims.js';
import type { ScopeRule } from './oidc-config.js';
import type { AuthRequest, Authenticator, Principal } from './principal.js';
import { CSRF_HEADER, parseCookies, SESSION_COOKIE } from './session-cookies.js';
import type { Sealer } from './session-seal.js';

/** What a session cookie holds (sealed): the identity claims of the login and its CSRF token. */
export interface SessionData {
  /** The ID token's identity claims (`iss`, `sub`, `email`, `name`, groups, claims the rules read). */
  claims: Claims;
  /** The CSRF token, also sent as the readable `kiban_csrf` cookie. */
  csrf: string;
}

/** Options of {@link SessionAuthenticator}. */
export interface SessionAuthenticatorOptions {
  sealer: Sealer;
  /** Claims → scopes, read at every request (so a rule change applies to running sessions). */
  rules: readonly ScopeRule[];
  groupsClaim: string;
  /** How long a session lasts, in seconds. */
  ttlSec: number;
}

/** Methods that change nothing: no CSRF token needed. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The first value of a header. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The `session` way in: the dashboard's login session, a `kiban_session` cookie sealed by a
 * {@link Sealer} (AES-256-GCM: the browser holds it but can neither read nor change it; every
 * serve process with the same secret accepts it, with no session table). A request that carries
 * `Authorization` or `X-API-Key` is left to those authenticators (`null`), as is one without the
 * cookie. An expired or altered cookie is a 401.
 *
 * CSRF: a cookie-authenticated request whose method is not GET, HEAD or OPTIONS (or is unknown)
 * must carry an `X-CSRF-Token` header equal to the session's token (the readable `kiban_csrf`
 * cookie), else a 403; requests with a bearer token or API key are never subject to it.
 */
export class SessionAuthenticator implements Authenticator {
  readonly name = 'session';
  readonly #options: Readonly<SessionAuthenticatorOptions>;

  constructor(options: SessionAuthenticatorOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** A new session for verified ID-token `claims`: the sealed cookie value and its CSRF token. */
  createSession(claims: Claims): { cookie: string; csrf: string; maxAge: number } {
    const csrf = randomBytes(24).toString('base64url');
    const data: SessionData = { claims, csrf };
    const { sealer, ttlSec } = this.#options;
    return { cookie: sealer.seal('session', data, ttlSec), csrf, maxAge: ttlSec };
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const { headers } = request;
    if (headers.authorization !== undefined || headers['x-api-key'] !== undefined) return null;
    const cookie =
      request.cookies?.[SESSION_COOKIE] ?? parseCookies(headers.cookie)[SESSION_COOKIE];
    if (cookie === undefined || cookie === '') return null;
    const session = this.#options.sealer.unseal<SessionData>('session', cookie);
    if (session === null)
      throw new UnauthenticatedError(
        `${SESSION_COOKIE} cookie: expired or not valid; log in again at /auth/login`,
      );
    if (!SAFE_METHODS.has((request.method ?? '').toUpperCase())) {
      const sent = headerValue(headers[CSRF_HEADER]);
      const expected = Buffer.from(session.csrf);
      if (
        sent === undefined ||
        Buffer.byteLength(sent) !== expected.length ||
        !timingSafeEqual(Buffer.from(sent), expected)
      )
        throw new ForbiddenError(
          `${CSRF_HEADER} header: ${sent === undefined ? 'missing' : 'does not match the session'}; a write authenticated by the session cookie must echo the kiban_csrf cookie in X-CSRF-Token`,
        );
    }
    const principal = principalFromClaims(session.claims, {
      rules: this.#options.rules,
      groupsClaim: this.#options.groupsClaim,
      method: 'session',
    });
    return { ...principal, kind: 'developer' };
  }
}
