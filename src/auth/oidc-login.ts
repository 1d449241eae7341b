import * as client from 'openid-client';
import { NotReadyError, UnauthenticatedError } from '../core/errors.js';
import type { Claims } from './jwt-claims.js';
import { JwtVerifier } from './jwt-verifier.js';
import type { OidcConfig } from './oidc-config.js';
import { LOGIN_COOKIE } from './session-cookies.js';
import type { Sealer } from './session-seal.js';

/** How long a login may take between `/auth/login` and `/auth/callback`, in seconds. */
export const LOGIN_TTL_SEC = 600;

/** What the login cookie holds (sealed) between the redirect to the issuer and the callback. */
interface LoginTransaction {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  returnTo: string;
}

/** Claims a session keeps of the ID token besides the groups claim and the claims rules name. */
const IDENTITY_CLAIMS = ['iss', 'sub', 'email', 'email_verified', 'name', 'preferred_username'];

/** `returnTo` when it is a path of this site (`/x`), else `/`: never an open redirect. */
export function safeReturnTo(returnTo: string | undefined): string {
  if (returnTo === undefined || !returnTo.startsWith('/')) return '/';
  if (returnTo.startsWith('//') || returnTo.startsWith('/\\') || /[\r\n]/.test(returnTo))
    return '/';
  return returnTo;
}

/** Options of {@link OidcLogin}. */
export interface OidcLoginOptions {
  /** Seals the login transaction cookie. */
  sealer: Sealer;
  /** Least time between JWKS refetches on an unknown `kid`. @defaultValue 30000 */
  jwksCooldownMs?: number;
}

/**
 * The dashboard's developer login: the authorization-code flow with PKCE (`openid-client`)
 * against `auth.oidc.issuer` with `auth.oidc.clientId`. {@link begin} makes the issuer's
 * authorization URL and a sealed transaction (state, nonce, PKCE verifier) for an HttpOnly cookie;
 * {@link complete} checks the callback against it, exchanges the code and verifies the ID token's
 * signature with the issuer's keys (`jose`), audience the client id, returning its identity
 * claims for a session. Plain-HTTP issuers are accepted only on loopback addresses (tests, local
 * identity providers).
 *
 * @example
 * const login = new OidcLogin(config, { sealer });
 * const { url, transaction } = await login.begin('https://kiban.example.com/auth/callback', '/');
 */
export class OidcLogin {
  readonly #config: OidcConfig;
  readonly #clientId: string;
  readonly #sealer: Sealer;
  readonly #idTokens: JwtVerifier;
  #discovered: Promise<client.Configuration> | undefined;

  constructor(config: OidcConfig, options: OidcLoginOptions) {
    if (config.clientId === undefined)
      throw new NotReadyError('auth.oidc.clientId: needed for the dashboard login');
    this.#config = config;
    this.#clientId = config.clientId;
    this.#sealer = options.sealer;
    this.#idTokens = new JwtVerifier({
      issuer: config.issuer,
      audience: config.clientId,
      algorithms: config.algorithms,
      keys: config.jwksUri === undefined ? { discovery: true } : { jwksUri: config.jwksUri },
      clockToleranceSec: config.clockToleranceSec,
      label: 'ID token',
      ...(options.jwksCooldownMs === undefined ? {} : { jwksCooldownMs: options.jwksCooldownMs }),
    });
  }

  /** The configured callback URL, if any (else the routes derive it from the request). */
  get redirectUri(): string | undefined {
    return this.#config.redirectUri;
  }

  /**
   * Where to send the browser to log in, and the sealed transaction to set as the
   * {@link LOGIN_COOKIE} cookie for {@link LOGIN_TTL_SEC} seconds.
   */
  async begin(
    redirectUri: string,
    returnTo: string,
  ): Promise<{ url: string; transaction: string }> {
    const configuration = await this.#configuration();
    const verifier = client.randomPKCECodeVerifier();
    const transaction: LoginTransaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier,
      redirectUri,
      returnTo: safeReturnTo(returnTo),
    };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: this.#config.loginScope,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return {
      url: url.href,
      transaction: this.#sealer.seal('login', transaction, LOGIN_TTL_SEC),
    };
  }

  /**
   * Completes a login: `query` is the callback's query string, `transaction` the
   * {@link LOGIN_COOKIE} cookie. Returns the verified ID token's identity claims and where to send
   * the browser. Throws `UnauthenticatedError` naming what failed (no or expired transaction, the
   * issuer's error, a state or nonce mismatch, a bad ID token).
   */
  async complete(
    query: URLSearchParams,
    transaction: string | undefined,
  ): Promise<{ claims: Claims; returnTo: string }> {
    const login =
      transaction === undefined
        ? null
        : this.#sealer.unseal<LoginTransaction>('login', transaction);
    if (login === null)
      throw new UnauthenticatedError(
        `${LOGIN_COOKIE} cookie: missing or expired; start again at /auth/login`,
      );
    const error = query.get('error');
    if (error !== null)
      throw new UnauthenticatedError(
        `login: the identity provider answered ${error.replace(/[^\w.-]/g, '').slice(0, 64)}`,
      );
    const configuration = await this.#configuration();
    const callback = new URL(login.redirectUri);
    callback.search = query.toString();
    let idToken: string | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      idToken = tokens.id_token;
    } catch (cause) {
      const what = cause instanceof Error ? cause.message.slice(0, 200) : 'failed';
      throw new UnauthenticatedError(`login: code exchange: ${what}`, { cause });
    }
    if (idToken === undefined) throw new UnauthenticatedError('login: no ID token');
    const verified = await this.#idTokens.verify(idToken);
    if (verified.nonce !== login.nonce) throw new UnauthenticatedError('ID token: nonce mismatch');
    return { claims: this.#identity(verified), returnTo: login.returnTo };
  }

  /** The claims a session keeps: identity, groups and whatever the rules read. */
  #identity(claims: Claims): Claims {
    const keep = new Set([...IDENTITY_CLAIMS, this.#config.groupsClaim]);
    for (const rule of this.#config.rules) if (rule.claim !== undefined) keep.add(rule.claim);
    const kept: Record<string, unknown> = {};
    for (const name of keep) if (claims[name] !== undefined) kept[name] = claims[name];
    return kept;
  }

  #configuration(): Promise<client.Configuration> {
    if (this.#discovered === undefined) {
      const attempt = this.#discover();
      this.#discovered = attempt;
      attempt.catch(() => {
        if (this.#discovered === attempt) this.#discovered = undefined;
      });
    }
    return this.#discovered;
  }

  async #discover(): Promise<client.Configuration> {
    const issuer = new URL(this.#config.issuer);
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(issuer.hostname);
    const secret = this.#config.clientSecret;
    try {
      return await client.discovery(
        issuer,
        this.#clientId,
        undefined,
        secret === undefined ? client.None() : client.ClientSecretBasic(secret),
        issuer.protocol === 'http:' && loopback ? { execute: [client.allowInsecureRequests] } : {},
      );
    } catch (cause) {
      throw new NotReadyError(`auth.oidc.issuer: discovery of ${issuer.href} failed`, { cause });
    }
  }
}
