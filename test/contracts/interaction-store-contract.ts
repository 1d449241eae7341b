import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { MetadataStore } from '../../src/storage/metadata-store.js';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

/**
 * The conformance suite of the {@link InteractionStore} every metadata store backend carries
 * (`metadata.interactions`): events round-trip, an id is stored once however often it is sent,
 * reads by user and by commit order page as documented, bad events are refused by field before
 * anything is written, and each service's view (`forService`) sees only its own events. `create` returns a new, migrated, empty store.
 */
export function describeInteractionStore(name: string, create: () => Promise<MetadataStore>): void {
  describe(`InteractionStore contract: ${name}`, () => {
    let store: MetadataStore | null = null;
    const open = async () => {
      store = await create();
      return store.interactions;
    };
    afterEach(async () => {
      await store?.close();
      store = null;
    });

    it('stores events once per id and reads them back by user and in commit order', async () => {
      const log = await open();
      expect(
        await log.append([
          { id: 'e1', user: 'u1', item: 'i1', at: at(2), weight: 2.5 },
          { user: 'u1', item: 'i2', at: at(1) },
          { user: 'ユーザー', item: '007', at: at(3) },
        ]),
      ).toEqual({ accepted: 3, duplicates: 0 });
      // A retried request, with its id, adds nothing; the same id twice in one call counts once.
      expect(
        await log.append([
          { id: 'e1', user: 'u1', item: 'other', at: at(9) },
          { id: 'e2', user: 'u1', item: 'i3', at: at(4) },
          { id: 'e2', user: 'u1', item: 'i3', at: at(4) },
        ]),
      ).toEqual({ accepted: 1, duplicates: 2 });
      const mine = await log.forUser('u1');
      expect(mine.map((e) => [e.item, e.weight, e.at.getTime()])).toEqual([
        ['i2', 1, at(1).getTime()],
        ['i1', 2.5, at(2).getTime()],
        ['i3', 1, at(4).getTime()],
      ]);
      expect(mine[1].id).toBe('e1');
      expect(mine[0].id).toBeNull();
      // Stored after a seq (commit order, not event time), and the newest `limit` (oldest first).
      const first = mine[1].seq;
      expect((await log.forUser('u1', { after: first })).map((e) => e.item)).toEqual(['i2', 'i3']);
      expect((await log.forUser('u1', { limit: 2 })).map((e) => e.item)).toEqual(['i1', 'i3']);
      expect(await log.forUser('nobody')).toEqual([]);
      // Commit order pages for the next batch.
      const all = await log.list();
      expect(all.map((e) => e.item)).toEqual(['i1', 'i2', '007', 'i3']);
      expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
      const page = await log.list({ after: all[1].seq, limit: 1 });
      expect(page.map((e) => [e.user, e.item])).toEqual([['ユーザー', '007']]);
    });

    it('keeps each service to its own events, ids and reads (issue 22)', async () => {
      const log = await open();
      expect(log.service).toBe('default');
      const booth = log.forService('booth');
      const shop = log.forService('shop');
      expect(booth.service).toBe('booth');
      expect(log.forService('default').service).toBe('default');
      expect(booth.forService('booth')).toBe(booth);
      expect(await log.append([{ id: 'e1', user: 'u1', item: 'd1', at: at(1) }])).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      // The same caller id in another service is another event, not a duplicate.
      expect(
        await booth.append([
          { id: 'e1', user: 'u1', item: 'b1', at: at(2) },
          { user: 'u2', item: 'b2', at: at(3) },
        ]),
      ).toEqual({ accepted: 2, duplicates: 0 });
      expect(await booth.append([{ id: 'e1', user: 'u1', item: 'again', at: at(4) }])).toEqual({
        accepted: 0,
        duplicates: 1,
      });
      expect((await log.forUser('u1')).map((e) => e.item)).toEqual(['d1']);
      expect((await booth.forUser('u1')).map((e) => e.item)).toEqual(['b1']);
      expect(await shop.forUser('u1')).toEqual([]);
      expect((await log.list()).map((e) => e.item)).toEqual(['d1']);
      const boothAll = await booth.list();
      expect(boothAll.map((e) => e.item)).toEqual(['b1', 'b2']);
      expect(await shop.list()).toEqual([]);
      // seq is shared, so it still ascends within a service, and `after` pages within it.
      expect(boothAll[0].seq).toBeLessThan(boothAll[1].seq);
      expect((await booth.list({ after: boothAll[0].seq })).map((e) => e.item)).toEqual(['b2']);
      // A view obtained from another view sees the same service's events.
      expect((await booth.forService('default').list()).map((e) => e.item)).toEqual(['d1']);
    });

    it('refuses a service that is not a service name', async () => {
      const log = await open();
      for (const bad of ['', 'Booth', '1booth', 'a'.repeat(33), 'bo oth', 'booth:x']) {
        let error: unknown = null;
        try {
          log.forService(bad);
        } catch (e) {
          error = e;
        }
        expect(error, bad).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe('service');
      }
    });

    it('refuses bad events by field before writing any', async () => {
      const log = await open();
      const refused = async (promise: Promise<unknown>, field: string) => {
        const error = await promise.then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect((error as InvalidArgumentError).field).toBe(field);
      };
      const good = { user: 'u', item: 'i', at: at(0) };
      await refused(log.append([good, { ...good, user: '' }]), 'events[1].user');
      await refused(log.append([good, { ...good, item: 'x'.repeat(257) }]), 'events[1].item');
      await refused(log.append([{ ...good, at: new Date(Number.NaN) }]), 'events[0].at');
      await refused(
        log.append([{ ...good, weight: Number.POSITIVE_INFINITY }]),
        'events[0].weight',
      );
      await refused(log.append([{ ...good, id: '' }]), 'events[0].id');
      await refused(log.forUser(''), 'user');
      await refused(log.list({ limit: 0 }), 'limit');
      await refused(log.list({ after: -1 }), 'after');
      await refused(log.forUser('u', { after: 0.5 }), 'after');
      expect(await log.list()).toEqual([]);
    });
  });
}
