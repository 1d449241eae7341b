import { UnauthenticatedError } from '../core/errors.js';
import {
  API_KEY_PREFIX,
  type ApiKeyRecord,
  type ApiKeyStore,
  parseApiKey,
  verifyApiKeySecret,
} from './api-keys.js';
import type { AuthRequest, Authenticator, Principal } from './principal.js';

/** Options of {@link ApiKeyAuthenticator}. */
export interface ApiKeyAuthenticatorOptions {
  store: ApiKeyStore;
  /** The server secret the key hashes were made with (`auth.pepper`). Never logged. */
  pepper: string | Buffer;
  /**
   * How long a key record read from the store is reused before it is read again. A revoked key
   * (or a changed expiry) takes effect within this time on each server. @defaultValue 10 000 (10 s)
   */
  cacheTtlMs?: number;
  /** Most key records kept; the oldest read goes first. @defaultValue 1000 */
  cacheSize?: number;
  /** Least time between two recordings of one key's last use. @defaultValue 60 000 (1 min) */
  touchIntervalMs?: number;
  /** Receives a failure to record a key's last use (the request still succeeds). @defaultValue ignored */
  onTouchError?: (error: unknown) => void;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

/** The defaults of {@link ApiKeyAuthenticatorOptions}. */
export const API_KEY_CACHE_DEFAULTS = Object.freeze({
  cacheTtlMs: 10_000,
  cacheSize: 1000,
  touchIntervalMs: 60_000,
});

interface CacheEntry {
  record: ApiKeyRecord;
  principal: Principal;
  readAtMs: number;
}

/**
 * Authenticates `Authorization: Bearer kbn_…` or `X-API-Key: kbn_…` against the {@link ApiKeyStore}.
 * A bearer token that is not a kiban key is left to the next authenticator (a JWT); a kiban key
 * that is malformed, unknown, wrong, revoked or expired is a 401 saying which (never repeating
 * the secret). The principal is a `service` with the key's id, name and scopes.
 *
 * Each verified key's record is kept in a small in-process cache (bounded, `cacheTtlMs`), so a
 * request makes no database query; a key not seen within the cache time costs one HMAC (about
 * 2 µs), and one presented again is found by the whole key in a map of verified keys (no HMAC:
 * 20% of the recommendations route's throughput, bench/auth.ts). Expiry is checked on every
 * request, so only a revocation made elsewhere waits for the cache time (10 s by default) to
 * take effect. Last use is written
 * at most once a `touchIntervalMs` per key, in the background.
 *
 * @example
 * const auth = new ApiKeyAuthenticator({ store: metadata.apiKeys, pepper });
 * const principal = await auth.authenticate({ headers: { 'x-api-key': key }, ip: '127.0.0.1' });
 */
export class ApiKeyAuthenticator implements Authenticator {
  readonly name = 'api-key';
  readonly #store: ApiKeyStore;
  readonly #pepper: string | Buffer;
  readonly #ttlMs: number;
  readonly #size: number;
  readonly #touchIntervalMs: number;
  readonly #onTouchError: (error: unknown) => void;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  /**
   * Keys whose secret was verified, by the whole key, with the cache entry they were verified
   * against: a key presented again within the cache time skips the HMAC (found by the map's
   * hash, never by comparing secrets character by character). Bounded like {@link #cache}.
   */
  readonly #verified = new Map<string, CacheEntry>();
  readonly #touchedAt = new Map<string, number>();

  constructor(options: ApiKeyAuthenticatorOptions) {
    this.#store = options.store;
    this.#pepper = options.pepper;
    this.#ttlMs = options.cacheTtlMs ?? API_KEY_CACHE_DEFAULTS.cacheTtlMs;
    this.#size = options.cacheSize ?? API_KEY_CACHE_DEFAULTS.cacheSize;
    this.#touchIntervalMs = options.touchIntervalMs ?? API_KEY_CACHE_DEFAULTS.touchIntervalMs;
    this.#onTouchError = options.onTouchError ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  async authenticate(request: AuthRequest): Promise<Principal | null> {
    const presented = presentedKey(request);
    if (presented === null) return null;
    const now = this.#now();
    const known = this.#verified.get(presented.key);
    if (known !== undefined && now - known.readAtMs < this.#ttlMs)
      return this.#admit(known, presented.header, now);
    const parsed = parseApiKey(presented.key);
    if (parsed === null)
      throw new UnauthenticatedError(
        `${presented.header}: not a kiban API key (expected ${API_KEY_PREFIX}<prefix>_<secret>)`,
      );
    let entry = this.#cache.get(parsed.prefix);
    if (entry === undefined || now - entry.readAtMs >= this.#ttlMs) {
      const record = await this.#store.getByPrefix(parsed.prefix);
      if (record === null) {
        this.#cache.delete(parsed.prefix);
        throw new UnauthenticatedError(`${presented.header}: unknown API key`);
      }
      entry = { record, principal: principalOf(record), readAtMs: now };
      this.#cache.delete(parsed.prefix);
      if (this.#cache.size >= this.#size) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
      this.#cache.set(parsed.prefix, entry);
    }
    const { record } = entry;
    if (!verifyApiKeySecret(this.#pepper, parsed.secret, record.hash))
      throw new UnauthenticatedError(`${presented.header}: wrong secret for API key ${record.id}`);
    if (this.#verified.size >= this.#size) {
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
    this.#verified.set(presented.key, entry);
    return this.#admit(entry, presented.header, now);
  }

  /** The principal of a verified key, unless it is revoked or expired; records its use. */
  #admit(entry: CacheEntry, header: string, now: number): Principal {
    const { record } = entry;
    if (record.revokedAt !== null)
      throw new UnauthenticatedError(
        `${header}: API key ${record.id} ("${record.name}") was revoked at ${record.revokedAt.toISOString()}`,
      );
    if (record.expiresAt !== null && record.expiresAt.getTime() <= now)
      throw new UnauthenticatedError(
        `${header}: API key ${record.id} ("${record.name}") expired at ${record.expiresAt.toISOString()}`,
      );
    this.#touch(record.id, now);
    return entry.principal;
  }

  /** Forgets every cached key (the next request of each reads the store). */
  clearCache(): void {
    this.#cache.clear();
    this.#verified.clear();
  }

  async close(): Promise<void> {
    this.#cache.clear();
    this.#verified.clear();
    this.#touchedAt.clear();
  }

  #touch(id: string, now: number): void {
    const last = this.#touchedAt.get(id);
    if (last !== undefined && now - last < this.#touchIntervalMs) return;
    if (this.#touchedAt.size >= this.#size * 4) this.#touchedAt.clear();
    this.#touchedAt.set(id, now);
    this.#store.touch(id, new Date(now), this.#touchIntervalMs).catch(this.#onTouchError);
  }
}

/** The key a request presents and the header it came in, or null when it presents none. */
function presentedKey(request: AuthRequest): { key: string; header: string } | null {
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey !== '')
    return { key: apiKey.trim(), header: 'X-API-Key' };
  if (Array.isArray(apiKey))
    throw new UnauthenticatedError('X-API-Key: sent more than once; send one key');
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (match === null || !match[1]!.startsWith(API_KEY_PREFIX)) return null;
  return { key: match[1]!, header: 'Authorization' };
}

function principalOf(record: ApiKeyRecord): Principal {
  return {
    kind: 'service',
    id: record.id,
    name: record.name,
    scopes: new Set(record.scopes),
    method: 'api-key',
  };
}
