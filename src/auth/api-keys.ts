/**
 * API keys (issue 17): the key format, how a secret is hashed and checked, the
 * {@link ApiKeyStore} seam the metadata store implements, and creating, rotating and revoking
 * keys over it.
 *
 * A key reads `kbn_<prefix>_<secret>`: `prefix` is 12 lower-case hex digits, public, stored, and
 * used to find the key's record; `secret` is 32 random bytes in base64url, shown once and never
 * stored. The store keeps `HMAC-SHA-256(pepper, secret)` in hex, where the pepper is a server
 * secret kept outside the database (`auth.pepper`, `KIBAN_AUTH_PEPPER` or `.kiban/auth-pepper`):
 * a stolen database alone cannot check guesses.
 *
 * **Why HMAC, not scrypt or argon2.** A key is checked on every request, and its secret is 256
 * random bits, so a slow password hash buys nothing against guessing while costing every
 * request: measured on this project's 2-core machine (`bench/api-key-hash.ts`), checking a
 * secret with HMAC-SHA-256 takes 1.9 µs at the median, one scrypt (N=16384, r=8, p=1, Node's
 * default) 44 ms, over 20 000 times as much: more than 2 000 times the ≤ 20 µs per-request
 * budget of issue 17. Hashes are compared in constant time.
 *
 * @module
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { isScope, SCOPES, type Scope } from './principal.js';

/** Every kiban API key starts with this. */
export const API_KEY_PREFIX = 'kbn_';

const KEY_PATTERN = /^kbn_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** How long a rotated key keeps working by default: 24 hours. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

/** An API key as the store keeps it: never the secret, only its HMAC. */
export interface ApiKeyRecord {
  /** Stable id, e.g. `key_3f9a…`; what `kiban keys revoke` and the audit log name. */
  id: string;
  /** For people: which service holds it, e.g. `svc-pixiv`. */
  name: string;
  /** The public part of the key after `kbn_`, unique; how a presented key finds its record. */
  prefix: string;
  /** `HMAC-SHA-256(pepper, secret)` in lower-case hex. */
  hash: string;
  scopes: readonly Scope[];
  /** Who created it (a user name, a principal id). */
  createdBy: string;
  createdAt: Date;
  /** When it stops working; null: never. */
  expiresAt: Date | null;
  /** Last successful use, recorded at most about once a minute per key; null: never used. */
  lastUsedAt: Date | null;
  /** When it was revoked; null: live. */
  revokedAt: Date | null;
}

/**
 * Where API keys are kept: the metadata store (`metadata.apiKeys`, Kysely on SQLite and
 * PostgreSQL, migration `0006_api_keys`). Every method is safe to call concurrently.
 */
export interface ApiKeyStore {
  /** Records a new key. Throws `InvalidArgumentError` when its id or prefix is taken. */
  insert(record: ApiKeyRecord): Promise<void>;
  /** The key with this id, or null. */
  get(id: string): Promise<ApiKeyRecord | null>;
  /** The key with this prefix, or null. */
  getByPrefix(prefix: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, newest first. */
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked at `at` (a revoked key stays revoked: the first time is kept). Returns false when there is no such key. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Sets the key's expiry. Returns false when there is no such key. */
  setExpiry(id: string, expiresAt: Date | null): Promise<boolean>;
  /** Records a use at `at` unless one at or after `at - minIntervalMs` is recorded already. */
  touch(id: string, at: Date, minIntervalMs: number): Promise<void>;
}

/** A key's parts, as {@link parseApiKey} reads them. */
export interface ParsedApiKey {
  prefix: string;
  secret: string;
}

/** The prefix and secret of `key`, or null when it is not in kiban's key format. */
export function parseApiKey(key: string): ParsedApiKey | null {
  const match = KEY_PATTERN.exec(key);
  return match === null ? null : { prefix: match[1]!, secret: match[2]! };
}

/** `HMAC-SHA-256(pepper, secret)` in lower-case hex: what the store keeps of a key. */
export function hashApiKeySecret(pepper: string | Buffer, secret: string): string {
  return createHmac('sha256', pepper).update(secret).digest('hex');
}

/** Whether `secret` hashes to `hash` under `pepper`, compared in constant time. */
export function verifyApiKeySecret(pepper: string | Buffer, secret: string, hash: string): boolean {
  const expected = Buffer.from(hash, 'hex');
  const actual = createHmac('sha256', pepper).update(secret).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Checks a list of scope names; throws `InvalidArgumentError` naming the first unknown one. */
export function parseScopes(field: string, names: readonly string[]): Scope[] {
  const scopes: Scope[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === '') continue;
    if (!isScope(name))
      throw new InvalidArgumentError(
        field,
        `unknown scope "${name}" (known: ${SCOPES.join(', ')}, and service:NAME or service:* for a service's routes)`,
      );
    if (!scopes.includes(name)) scopes.push(name);
  }
  if (scopes.length === 0) throw new InvalidArgumentError(field, 'must name at least one scope');
  return scopes;
}

/** What {@link createApiKey} needs. */
export interface CreateApiKeyOptions {
  name: string;
  scopes: readonly Scope[];
  createdBy: string;
  /** @defaultValue null: never expires */
  expiresAt?: Date | null;
  /** @defaultValue `new Date()` */
  now?: Date;
}

/** A new key: its record and the key itself, which is shown once and never stored. */
export interface CreatedApiKey {
  record: ApiKeyRecord;
  key: string;
}

/**
 * Makes a key, stores its record and returns the key (the only time it exists in the clear).
 *
 * @example
 * const { key, record } = await createApiKey(metadata.apiKeys, pepper, { name: 'svc-pixiv', scopes: ['recs:read'], createdBy: 'alice' });
 */
export async function createApiKey(
  store: ApiKeyStore,
  pepper: string | Buffer,
  options: CreateApiKeyOptions,
): Promise<CreatedApiKey> {
  const name = options.name.trim();
  if (name === '') throw new InvalidArgumentError('name', 'must not be empty');
  if (options.scopes.length === 0)
    throw new InvalidArgumentError('scopes', 'must name at least one scope');
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: ApiKeyRecord = {
    id: `key_${randomUUID().replaceAll('-', '').slice(0, 16)}`,
    name,
    prefix,
    hash: hashApiKeySecret(pepper, secret),
    scopes: [...options.scopes],
    createdBy: options.createdBy,
    createdAt: options.now ?? new Date(),
    expiresAt: options.expiresAt ?? null,
    lastUsedAt: null,
    revokedAt: null,
  };
  await store.insert(record);
  return { record, key: `${API_KEY_PREFIX}${prefix}_${secret}` };
}

/**
 * Rotates key `id`: creates a new key with the same name and scopes, and makes the old one
 * expire `graceMs` from now (or sooner, if it already expired sooner), so a service can switch
 * to the new key without a failed request. Throws `NotFoundError` for an unknown id and
 * `InvalidArgumentError` for a revoked key.
 */
export async function rotateApiKey(
  store: ApiKeyStore,
  pepper: string | Buffer,
  id: string,
  options: { graceMs?: number; createdBy: string; now?: Date },
): Promise<CreatedApiKey & { previous: ApiKeyRecord }> {
  const graceMs = options.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0)
    throw new InvalidArgumentError('grace', `must be a duration ≥ 0, got ${graceMs}`);
  const old = await store.get(id);
  if (old === null) throw new NotFoundError(`API key "${id}"`);
  if (old.revokedAt !== null)
    throw new InvalidArgumentError('id', `API key "${id}" is revoked; create a new key instead`);
  const now = options.now ?? new Date();
  const created = await createApiKey(store, pepper, {
    name: old.name,
    scopes: old.scopes,
    createdBy: options.createdBy,
    expiresAt: old.expiresAt,
    now,
  });
  const graceEnd = new Date(now.getTime() + graceMs);
  const expiresAt =
    old.expiresAt !== null && old.expiresAt.getTime() < graceEnd.getTime()
      ? old.expiresAt
      : graceEnd;
  await store.setExpiry(id, expiresAt);
  return { ...created, previous: { ...old, expiresAt } };
}

/** Revokes key `id` at once (within the authenticators' cache time). Throws `NotFoundError` for an unknown id. */
export async function revokeApiKey(
  store: ApiKeyStore,
  id: string,
  now = new Date(),
): Promise<void> {
  if (!(await store.revoke(id, now))) throw new NotFoundError(`API key "${id}"`);
}

/**
 * Reads a duration such as `90d`, `24h`, `30m`, `45s` or `500ms` into milliseconds; throws
 * `InvalidArgumentError` naming `field`.
 */
export function parseDuration(field: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null)
    throw new InvalidArgumentError(
      field,
      `must be a duration such as 90d, 24h, 30m or 45s, got "${text}"`,
    );
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}
