import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from './kysely-metadata-store.js';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator.js';
import { createApiKey, parseDuration, parseScopes, revokeApiKey } from '../auth/api-keys.js';

const pepper = randomBytes(32);

describe('ApiKeyAuthenticator', () => {
  let store: KyselyMetadataStore | null = null;
  afterEach(async () => {
    await store?.close();
    store = null;
  });
  async function setup(cacheTtlMs: number) {
    store = KyselyMetadataStore.sqlite(':memory:');
    await store.migrate();
    let now = Date.parse('2026-12-01T00:00:00Z');
    const auth = new ApiKeyAuthenticator({
      store: store.apiKeys,
      pepper,
      cacheTtlMs,
      now: () => now,
    });
    const { key, record } = await createApiKey(store.apiKeys, pepper, {
      name: 'svc',
      scopes: ['recs:read'],
      createdBy: 't',
    });
    return { auth, key, record, advance: (ms: number) => (now += ms) };
  }

  it('takes the key from Authorization: Bearer or X-API-Key, and leaves other bearer tokens alone', async () => {
    const { auth, key, record } = await setup(1000);
    const bearer = await auth.authenticate({
      headers: { authorization: `Bearer ${key}` },
      ip: '::1',
    });
    expect(bearer?.id).toBe(record.id);
    expect((await auth.authenticate({ headers: { 'x-api-key': key }, ip: '::1' }))?.id).toBe(
      record.id,
    );
    expect(
      await auth.authenticate({ headers: { authorization: 'Bearer eyJhbGciOi.x.y' }, ip: '::1' }),
    ).toBeNull();
    expect(await auth.authenticate({ headers: {}, ip: '::1' })).toBeNull();
    await expect(
      auth.authenticate({ headers: { 'x-api-key': 'hunter2' }, ip: '::1' }),
    ).rejects.toThrow(/^X-API-Key: not a kiban API key/);
    await expect(
      auth.authenticate({
        headers: { authorization: 'Bearer kbn_000000000000_' + 'x'.repeat(43) },
        ip: '::1',
      }),
    ).rejects.toThrow(/^Authorization: unknown API key$/);
  });

  it('serves a verified key from its cache until the TTL ends, so a revocation takes effect within it', async () => {
    const { auth, key, record, advance } = await setup(10_000);
    const request = { headers: { 'x-api-key': key }, ip: '::1' };
    expect((await auth.authenticate(request))?.id).toBe(record.id);
    await revokeApiKey(store!.apiKeys, record.id);
    advance(9_999);
    expect((await auth.authenticate(request))?.id).toBe(record.id);
    advance(1);
    await expect(auth.authenticate(request)).rejects.toThrow(/was revoked/);
  });

  it('records last use at most once a minute', async () => {
    const { auth, key, record, advance } = await setup(0);
    const request = { headers: { 'x-api-key': key }, ip: '::1' };
    await auth.authenticate(request);
    const used = async () => (await store!.apiKeys.get(record.id))?.lastUsedAt?.getTime();
    await expect.poll(used).toBe(Date.parse('2026-12-01T00:00:00Z'));
    advance(30_000);
    await auth.authenticate(request);
    advance(31_000);
    await auth.authenticate(request);
    await expect.poll(used).toBe(Date.parse('2026-12-01T00:01:01Z'));
  });
});

describe('parseScopes and parseDuration', () => {
  it('name the field and the unknown scope or bad duration', () => {
    expect(parseScopes('--scopes', ['recs:read', ' events:write', 'recs:read'])).toEqual([
      'recs:read',
      'events:write',
    ]);
    expect(() => parseScopes('--scopes', ['recs:read', 'recs:write'])).toThrow(
      '--scopes: unknown scope "recs:write"',
    );
    expect(parseDuration('--expires', '90d')).toBe(90 * 86_400_000);
    expect(parseDuration('--grace', '30s')).toBe(30_000);
    expect(() => parseDuration('--grace', 'soon')).toThrow(/^--grace: must be a duration/);
  });
});

describe('ApiKeyAuthenticator: keys presented again', () => {
  it("still refuse a wrong secret under a cached key's prefix, and the cached key once it expires", async () => {
    const store = KyselyMetadataStore.sqlite(':memory:');
    try {
      await store.migrate();
      let now = Date.parse('2026-12-01T00:00:00Z');
      const auth = new ApiKeyAuthenticator({
        store: store.apiKeys,
        pepper,
        cacheTtlMs: 1000,
        now: () => now,
      });
      const { key, record } = await createApiKey(store.apiKeys, pepper, {
        name: 'svc',
        scopes: ['recs:read'],
        createdBy: 't',
        expiresAt: new Date(now + 5000),
      });
      const first = await auth.authenticate({ headers: { 'x-api-key': key }, ip: '::1' });
      expect(first?.id).toBe(record.id);
      // A wrong secret under the same public prefix: still an HMAC check, still refused.
      const forged =
        `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
      await expect(
        auth.authenticate({ headers: { 'x-api-key': forged }, ip: '::1' }),
      ).rejects.toThrow(/wrong secret/);
      // Presented again: the same principal, until expiry, which is checked on every request.
      expect(
        await auth.authenticate({ headers: { authorization: `Bearer ${key}` }, ip: '::1' }),
      ).toBe(first);
      now += 5000;
      await expect(auth.authenticate({ headers: { 'x-api-key': key }, ip: '::1' })).rejects.toThrow(
        /expired/,
      );
    } finally {
      await store.close();
    }
  });
});
