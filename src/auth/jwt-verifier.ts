import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { InvalidArgumentError, NotReadyError, UnauthenticatedError } from '../core/errors.js';
import type { JwtAlgorithm } from './oidc-config.js';

/** Defaults of {@link JwtVerifierOptions}. */
export const JWT_VERIFIER_DEFAULTS = Object.freeze({
  clockToleranceSec: 60,
  /** jose's own: an unknown `kid` refetches the JWKS at most this often. */
  jwksCooldownMs: 30_000,
  /** How long a fetched JWKS is trusted before it is fetched again. */
  jwksMaxAgeMs: 10 * 60_000,
  fetchTimeoutMs: 5_000,
  /** How long a verified token is remembered (never past its `exp`): a repeat costs a map lookup. */
  tokenCacheTtlMs: 60_000,
  /** How many verified tokens are remembered; the oldest goes first. */
  tokenCacheMaxEntries: 10_000,
});

/** Where a {@link JwtVerifier}'s keys come from: exactly one of these. */
export type JwtKeySource =
  /** `<issuer>/.well-known/openid-configuration` names the JWKS. */
  { discovery: true } | { jwksUri: string } | { publicKeyPem: string };

/** Options of {@link JwtVerifier}. */
export interface JwtVerifierOptions {
  /** The exact `iss` tokens must carry (and, with discovery, the issuer whose keys are fetched). */
  issuer: string;
  /** The `aud` tokens must carry (any one, when a list). */
  audience: string | readonly string[];
  algorithms: readonly JwtAlgorithm[];
  keys: JwtKeySource;
  /** Skew allowed on `exp`, `nbf`, `iat`. @defaultValue 60 */
  clockToleranceSec?: number;
  /** Least time between two JWKS fetches triggered by an unknown `kid`. @defaultValue 30000 */
  jwksCooldownMs?: number;
  /** The clock, for tests. @defaultValue `() => new Date()` */
  now?: () => Date;
  /**
   * How long a verified token is remembered, so that a client sending the same token again is
   * not verified again (never past the token's `exp`; a key removed from the JWKS stops a
   * remembered token only after this). 0 remembers none. @defaultValue 60000
   */
  tokenCacheTtlMs?: number;
  /** Names the token in error messages, e.g. `Authorization bearer token`. */
  label: string;
}

/** The reason a verification failed, in words that never repeat the token. */
function reason(error: unknown): string | undefined {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong audience';
    if (error.claim === 'iss') return 'wrong issuer';
    if (error.claim === 'nbf') return 'not yet valid (nbf)';
    if (error.claim === 'iat') return 'issued in the future (iat)';
    return `claim ${error.claim}: ${error.reason}`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'unknown signing key';
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'ambiguous signing key';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'signing algorithm not allowed';
  if (error instanceof joseErrors.JOSENotSupported) return 'unsupported token';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return 'malformed token';
  return undefined;
}

/**
 * Verifies JWTs from one issuer: signature with the issuer's keys (a remote JWKS, cached and
 * refetched when a token names an unknown `kid` — key rotation — at most once per
 * `jwksCooldownMs`; or one static public key), one of the allowed algorithms, `iss`, `aud`,
 * `exp` (required) and `nbf` within the clock tolerance, and a `sub`. A verified token is
 * remembered (`tokenCacheTtlMs`, never past its `exp`), so a client repeating its token costs a
 * map lookup, not a signature check.
 *
 * @example
 * const verifier = new JwtVerifier({ issuer, audience: 'kiban', algorithms: ['RS256'], keys: { discovery: true }, label: 'bearer token' });
 * const claims = await verifier.verify(token);
 */
export class JwtVerifier {
  readonly #options: Readonly<JwtVerifierOptions>;
  #keys: Promise<JWTVerifyGetKey | KeyObject> | undefined;
  /** Verified tokens → their claims and until when (ms) they are trusted; insertion-ordered. */
  readonly #verified = new Map<string, { payload: JWTPayload; until: number }>();

  constructor(options: JwtVerifierOptions) {
    this.#options = Object.freeze({ ...options });
    if ('publicKeyPem' in options.keys) {
      const pem = options.keys.publicKeyPem;
      try {
        this.#keys = Promise.resolve(createPublicKey(pem));
      } catch (cause) {
        throw new InvalidArgumentError('publicKeyPem', 'is not a PEM public key', { cause });
      }
    }
  }

  /**
   * The verified claims of `token`. Throws `UnauthenticatedError` naming the reason (expired,
   * wrong audience, wrong issuer, unknown signing key, bad signature, …), and `NotReadyError`
   * (503) when the issuer's keys cannot be fetched.
   */
  async verify(token: string): Promise<JWTPayload> {
    const options = this.#options;
    const now = options.now?.().getTime() ?? Date.now();
    const remembered = this.#verified.get(token);
    if (remembered !== undefined) {
      if (remembered.until > now) return remembered.payload;
      this.#verified.delete(token);
    }
    const keys = await this.#keySet();
    try {
      const { payload } = await jwtVerify(token, keys as JWTVerifyGetKey, {
        issuer: options.issuer,
        audience: [
          ...(typeof options.audience === 'string' ? [options.audience] : options.audience),
        ],
        algorithms: [...options.algorithms],
        clockTolerance: options.clockToleranceSec ?? JWT_VERIFIER_DEFAULTS.clockToleranceSec,
        requiredClaims: ['exp', 'sub'],
        ...(options.now === undefined ? {} : { currentDate: new Date(now) }),
      });
      this.#remember(token, payload, now);
      return payload;
    } catch (error) {
      const why = reason(error);
      if (why !== undefined)
        throw new UnauthenticatedError(`${options.label}: ${why}`, { cause: error });
      throw new NotReadyError(
        `${options.label}: could not fetch the signing keys of ${options.issuer}`,
        { cause: error },
      );
    }
  }

  #remember(token: string, payload: JWTPayload, now: number): void {
    const ttl = this.#options.tokenCacheTtlMs ?? JWT_VERIFIER_DEFAULTS.tokenCacheTtlMs;
    if (ttl <= 0 || typeof payload.exp !== 'number') return;
    const until = Math.min(payload.exp * 1000, now + ttl);
    if (until <= now) return;
    if (this.#verified.size >= JWT_VERIFIER_DEFAULTS.tokenCacheMaxEntries) {
      const oldest = this.#verified.keys().next();
      if (oldest.done !== true) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, { payload, until });
  }

  #keySet(): Promise<JWTVerifyGetKey | KeyObject> {
    if (this.#keys === undefined) {
      const attempt = this.#remoteKeySet();
      this.#keys = attempt;
      // A failed discovery is retried by the next request instead of being remembered.
      attempt.catch(() => {
        if (this.#keys === attempt) this.#keys = undefined;
      });
    }
    return this.#keys;
  }

  async #remoteKeySet(): Promise<JWTVerifyGetKey> {
    const options = this.#options;
    const source = options.keys;
    const jwksUri = 'jwksUri' in source ? source.jwksUri : await discoverJwksUri(options.issuer);
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: options.jwksCooldownMs ?? JWT_VERIFIER_DEFAULTS.jwksCooldownMs,
      cacheMaxAge: JWT_VERIFIER_DEFAULTS.jwksMaxAgeMs,
      timeoutDuration: JWT_VERIFIER_DEFAULTS.fetchTimeoutMs,
    });
  }
}

/**
 * The `jwks_uri` of `issuer`'s discovery document (`/.well-known/openid-configuration`), whose
 * `issuer` must be `issuer` itself. Throws `NotReadyError` when it cannot be read.
 */
export async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(JWT_VERIFIER_DEFAULTS.fetchTimeoutMs),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as typeof document;
  } catch (cause) {
    throw new NotReadyError(`auth.oidc.issuer: could not read ${url}`, { cause });
  }
  if (document.issuer !== issuer)
    throw new NotReadyError(
      `auth.oidc.issuer: ${url} names the issuer ${JSON.stringify(document.issuer)}, not ${issuer}`,
    );
  if (typeof document.jwks_uri !== 'string')
    throw new NotReadyError(`auth.oidc.issuer: ${url} has no jwks_uri`);
  return document.jwks_uri;
}
