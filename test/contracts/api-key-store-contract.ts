import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator } from '../../src/auth/api-key-authenticator.js';
import {
  createApiKey,
  parseApiKey,
  revokeApiKey,
  rotateApiKey,
  type ApiKeyStore,
} from '../../src/auth/api-keys.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

const PEPPER = randomBytes(32);

/**
 * The conformance suite of the {@link ApiKeyStore} every metadata store backend carries: records
 * round-trip (times to the millisecond, scopes in order) and hold no secret; lookup by prefix;
 * a taken id or prefix refused; revoke, expiry and last-use updates; rotation leaves both keys
 * working until the grace ends; and keys made on one store authenticate through
 * {@link ApiKeyAuthenticator}. `create` returns a new, migrated, empty store.
 */
export function describeApiKeyStore(name: string, create: () => Promise<MetadataStore>): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async (): Promise<ApiKeyStore> => {
      store = await create();
      return store.apiKeys;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('keeps a created key without its secret and finds it by id and prefix', async () => {
      const keys = await open();
      const expiresAt = new Date('2027-03-01T12:00:00.123Z');
      const { key, record } = await createApiKey(keys, PEPPER, {
        name: 'svc-pixiv ✓',
        scopes: ['recs:read', 'events:write'],
        createdBy: 'alice',
        expiresAt,
      });
      const parsed = parseApiKey(key);
      expect(parsed?.prefix).toBe(record.prefix);
      expect(key.startsWith('kbn_')).toBe(true);
      const stored = await keys.get(record.id);
      expect(stored).toEqual(record);
      expect(stored?.expiresAt?.toISOString()).toBe('2027-03-01T12:00:00.123Z');
      expect(JSON.stringify(stored)).not.toContain(parsed!.secret);
      expect(await keys.getByPrefix(record.prefix)).toEqual(record);
      expect(await keys.get('key_missing')).toBeNull();
      expect(await keys.getByPrefix('000000000000')).toBeNull();
    });

    it('refuses a taken id or prefix, naming the field', async () => {
      const keys = await open();
      const { record } = await createApiKey(keys, PEPPER, {
        name: 'a',
        scopes: ['admin'],
        createdBy: 't',
      });
      await expect(keys.insert(record)).rejects.toThrow(/^apiKey\.id: /);
      await expect(keys.insert({ ...record, id: 'key_other' })).rejects.toThrow(/already recorded/);
      await expect(
        keys.insert({ ...record, id: 'key_x', prefix: 'abcdefabcdef', scopes: ['nope' as never] }),
      ).rejects.toThrow(/^apiKey\.scopes: unknown scope "nope"/);
    });

    it('lists newest first, revokes once, sets expiry and records use at most once an interval', async () => {
      const keys = await open();
      const t0 = Date.parse('2026-12-01T00:00:00.000Z');
      const first = await createApiKey(keys, PEPPER, {
        name: 'first',
        scopes: ['recs:read'],
        createdBy: 't',
        now: new Date(t0),
      });
      const second = await createApiKey(keys, PEPPER, {
        name: 'second',
        scopes: ['tags:read'],
        createdBy: 't',
        now: new Date(t0 + 1000),
      });
      expect((await keys.list()).map((k) => k.name)).toEqual(['second', 'first']);

      await revokeApiKey(keys, first.record.id, new Date(t0 + 5000));
      await revokeApiKey(keys, first.record.id, new Date(t0 + 9000));
      expect((await keys.get(first.record.id))?.revokedAt?.getTime()).toBe(t0 + 5000);
      await expect(revokeApiKey(keys, 'key_missing')).rejects.toThrow(
        /API key "key_missing" not found/,
      );

      expect(await keys.setExpiry(second.record.id, new Date(t0 + 7000))).toBe(true);
      expect((await keys.get(second.record.id))?.expiresAt?.getTime()).toBe(t0 + 7000);
      expect(await keys.setExpiry('key_missing', null)).toBe(false);

      await keys.touch(second.record.id, new Date(t0 + 10_000), 60_000);
      await keys.touch(second.record.id, new Date(t0 + 30_000), 60_000);
      expect((await keys.get(second.record.id))?.lastUsedAt?.getTime()).toBe(t0 + 10_000);
      await keys.touch(second.record.id, new Date(t0 + 70_000), 60_000);
      expect((await keys.get(second.record.id))?.lastUsedAt?.getTime()).toBe(t0 + 70_000);
    });

    it('authenticates its keys; rotated keys both work until the grace ends; revoked and expired keys fail', async () => {
      const keys = await open();
      let now = Date.parse('2026-12-01T00:00:00.000Z');
      const auth = new ApiKeyAuthenticator({
        store: keys,
        pepper: PEPPER,
        cacheTtlMs: 0,
        now: () => now,
      });
      const headers = (key: string) => ({ headers: { 'x-api-key': key }, ip: '127.0.0.1' });
      const old = await createApiKey(keys, PEPPER, {
        name: 'svc',
        scopes: ['recs:read'],
        createdBy: 't',
        now: new Date(now),
      });
      const principal = await auth.authenticate(headers(old.key));
      expect(principal).toMatchObject({
        kind: 'service',
        id: old.record.id,
        name: 'svc',
        method: 'api-key',
      });
      expect([...principal!.scopes]).toEqual(['recs:read']);

      const rotated = await rotateApiKey(keys, PEPPER, old.record.id, {
        graceMs: 60_000,
        createdBy: 't',
        now: new Date(now),
      });
      expect(rotated.record.scopes).toEqual(['recs:read']);
      expect((await auth.authenticate(headers(old.key)))?.id).toBe(old.record.id);
      expect((await auth.authenticate(headers(rotated.key)))?.id).toBe(rotated.record.id);
      now += 60_000;
      await expect(auth.authenticate(headers(old.key))).rejects.toThrow(/expired at/);
      expect((await auth.authenticate(headers(rotated.key)))?.id).toBe(rotated.record.id);

      await revokeApiKey(keys, rotated.record.id, new Date(now));
      await expect(auth.authenticate(headers(rotated.key))).rejects.toThrow(/was revoked/);
      await expect(
        rotateApiKey(keys, PEPPER, rotated.record.id, { createdBy: 't' }),
      ).rejects.toThrow(/is revoked/);

      const wrong = `kbn_${old.record.prefix}_${'A'.repeat(43)}`;
      await expect(auth.authenticate(headers(wrong))).rejects.toThrow(/wrong secret/);
      const error = await auth.authenticate(headers(wrong)).catch((e: Error) => e);
      expect(String(error)).not.toContain('A'.repeat(43));
    });
  });
}
