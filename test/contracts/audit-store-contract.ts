import { afterEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/auth/audit-store.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');

/** An audit record as the audit plugin would write it; `k` varies the time and the target. */
export function sampleAuditRecord(k: number, overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: new Date(T0 + k * 1000),
    principalId: 'key_1',
    principalName: 'svc-pixiv ✓',
    method: 'api-key',
    action: 'POST /v1/experiments/:name/start',
    target: { name: `exp-${k}` },
    status: 200,
    ip: '127.0.0.1',
    requestId: `req-${k}`,
    ...overrides,
  };
}

/**
 * The conformance suite of the {@link AuditStore} every metadata store backend carries: entries
 * round-trip, newest first; filters by time and principal; cursor pages that cover every entry
 * once while more are appended; concurrent appends all kept; malformed records and options
 * refused naming the field. `create` returns a new, migrated, empty store.
 */
export function describeAuditStore(name: string, create: () => Promise<MetadataStore>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async () => {
      store = await create();
      return store.audit;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('records entries and lists them newest first, exactly as written', async () => {
      const s = await open();
      expect(await s.list()).toEqual({ entries: [], nextCursor: null });
      const a = sampleAuditRecord(1);
      const b = sampleAuditRecord(2, {
        principalId: null,
        principalName: null,
        method: 'none',
        action: 'DELETE /v1/bandits/:name',
        target: {},
        status: 404,
        ip: '::1',
      });
      await s.record(a);
      await s.record(b);
      const { entries, nextCursor } = await s.list();
      expect(nextCursor).toBeNull();
      expect(entries.map(({ id, ...rest }) => rest)).toEqual([b, a]);
      expect(Number(entries[0]!.id)).toBeGreaterThan(Number(entries[1]!.id));
    });

    it('filters by time (from inclusive, to exclusive) and by principal', async () => {
      const s = await open();
      for (let k = 0; k < 6; k++)
        await s.record(sampleAuditRecord(k, { principalId: k % 2 === 0 ? 'even' : 'odd' }));
      const ks = (page: { entries: { requestId: string }[] }) =>
        page.entries.map((e) => Number(e.requestId.slice(4)));
      expect(ks(await s.list({ from: new Date(T0 + 2000), to: new Date(T0 + 5000) }))).toEqual([
        4, 3, 2,
      ]);
      expect(ks(await s.list({ principal: 'odd' }))).toEqual([5, 3, 1]);
      expect(ks(await s.list({ principal: 'even', from: new Date(T0 + 1000) }))).toEqual([4, 2]);
      expect(ks(await s.list({ principal: 'nobody' }))).toEqual([]);
    });

    it('pages with a cursor: every entry once, in order, even while entries are appended', async () => {
      const s = await open();
      for (let k = 0; k < 7; k++) await s.record(sampleAuditRecord(k));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await s.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        pages++;
        seen.push(...page.entries.map((e) => e.requestId));
        // A newer entry appended mid-listing belongs before the first page, not in a later one.
        if (pages === 1) await s.record(sampleAuditRecord(99));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(['req-6', 'req-5', 'req-4', 'req-3', 'req-2', 'req-1', 'req-0']);
      // An exact multiple of the page size ends with a null cursor, not an empty page.
      const first = await s.list({ limit: 4 });
      const second = await s.list({ limit: 4, cursor: first.nextCursor! });
      expect(second.entries).toHaveLength(4);
      expect(second.nextCursor).toBeNull();
    });

    it('keeps every one of many concurrent appends', async () => {
      const s = await open();
      await Promise.all(Array.from({ length: 40 }, (_, k) => s.record(sampleAuditRecord(k))));
      const { entries } = await s.list({ limit: 1000 });
      expect(new Set(entries.map((e) => e.requestId)).size).toBe(40);
      expect(new Set(entries.map((e) => e.id)).size).toBe(40);
    });

    it('refuses malformed records and options, naming the field', async () => {
      const s = await open();
      const field = async (p: Promise<unknown>) => {
        const error = await p.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        return (error as InvalidArgumentError).field;
      };
      expect(await field(s.record(sampleAuditRecord(0, { action: '' })))).toBe('action');
      expect(await field(s.record(sampleAuditRecord(0, { status: 1000 })))).toBe('status');
      expect(await field(s.record(sampleAuditRecord(0, { at: new Date(Number.NaN) })))).toBe('at');
      expect(
        await field(
          s.record(sampleAuditRecord(0, { method: 'password' as AuditRecord['method'] })),
        ),
      ).toBe('method');
      expect(
        await field(
          s.record(sampleAuditRecord(0, { target: { n: 1 } as unknown as Record<string, string> })),
        ),
      ).toBe('target.n');
      expect(await field(s.record(sampleAuditRecord(0, { ip: '' })))).toBe('ip');
      expect(await field(s.list({ limit: 0 }))).toBe('limit');
      expect(await field(s.list({ limit: 1001 }))).toBe('limit');
      expect(await field(s.list({ cursor: '1; drop table kiban_audit_log' }))).toBe('cursor');
      expect(await field(s.list({ from: new Date(T0 + 1), to: new Date(T0) }))).toBe('from');
      expect((await s.list()).entries).toEqual([]);
    });
  });
}
