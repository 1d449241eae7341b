import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/core/errors.js';
import type { UserStateStore } from '../../src/storage/user-state-store.js';

/** Two handles onto one empty store (one object where the backend is one process), each with seenCap 3, and how to dispose of them. */
export interface UserStateStoreSpace {
  stores: [UserStateStore, UserStateStore];
  dispose(): Promise<void>;
}

/**
 * The conformance suite every {@link UserStateStore} runs: hide and unhide (idempotent, per
 * user), seen items newest first and capped at the store's `seenCap` (3 here: `create` must pass
 * it), both read at once by `exclusions`, what one handle writes seen by the other, and argument
 * errors naming the field. `create` must return a new, empty space.
 */
export function describeUserStateStore(
  name: string,
  create: () => Promise<UserStateStoreSpace>,
): void {
  describe(`UserStateStore contract: ${name}`, () => {
    let space: UserStateStoreSpace | null = null;
    const open = async (): Promise<[UserStateStore, UserStateStore]> => {
      space = await create();
      return space.stores;
    };
    afterEach(async () => {
      await space?.dispose();
      space = null;
    });

    it('hides and unhides items per user, idempotently', async () => {
      const [a, b] = await open();
      expect([...(await a.hidden('u1'))]).toEqual([]);
      await a.hide('u1', 'i1');
      await a.hide('u1', 'i1');
      await a.hide('u1', 'i2');
      await a.hide('u2', 'i3');
      expect([...(await b.hidden('u1'))].sort()).toEqual(['i1', 'i2']);
      expect([...(await b.hidden('u2'))]).toEqual(['i3']);
      await b.unhide('u1', 'i1');
      await b.unhide('u1', 'i1');
      await b.unhide('u1', 'never');
      expect([...(await a.hidden('u1'))]).toEqual(['i2']);
    });

    it('keeps seen items newest first, a repeat moving to the front', async () => {
      const [a, b] = await open();
      expect(await a.seen('u1')).toEqual([]);
      await a.markSeen('u1', ['i1', 'i2']);
      await a.markSeen('u1', []);
      expect(await b.seen('u1')).toEqual(['i2', 'i1']);
      await b.markSeen('u1', ['i1']);
      expect(await a.seen('u1')).toEqual(['i1', 'i2']);
      await a.markSeen('u1', ['i3', 'i2', 'i3']);
      expect(await a.seen('u1')).toEqual(['i3', 'i2', 'i1']);
      expect(await a.seen('u2')).toEqual([]);
    });

    it('caps seen items per user, dropping the oldest', async () => {
      const [a, b] = await open();
      await a.markSeen('u1', ['i1', 'i2', 'i3']);
      await b.markSeen('u1', ['i4']);
      expect(await a.seen('u1')).toEqual(['i4', 'i3', 'i2']);
      await a.markSeen('u1', ['i5', 'i6', 'i7', 'i8']);
      expect(await b.seen('u1')).toEqual(['i8', 'i7', 'i6']);
      await a.markSeen('u2', ['x']);
      expect(await a.seen('u2')).toEqual(['x']);
    });

    it('reads hidden and seen items at once', async () => {
      const [a, b] = await open();
      await a.hide('u1', 'h1');
      await a.markSeen('u1', ['s1', 's2']);
      const got = await b.exclusions('u1');
      expect([...got.hidden]).toEqual(['h1']);
      expect(got.seen).toEqual(['s2', 's1']);
      const none = await b.exclusions('nobody');
      expect([...none.hidden]).toEqual([]);
      expect(none.seen).toEqual([]);
    });

    it('keeps ids exactly as given', async () => {
      const [a] = await open();
      await a.hide('user:1 é', '007');
      await a.hide('user:1 é', '7');
      await a.markSeen('user:1 é', ['a b', 'a:b']);
      expect([...(await a.hidden('user:1 é'))].sort()).toEqual(['007', '7']);
      expect(await a.seen('user:1 é')).toEqual(['a:b', 'a b']);
      expect([...(await a.hidden('user:1'))]).toEqual([]);
    });

    it('refuses empty and over-long ids, naming the field', async () => {
      const [a] = await open();
      await expect(a.hide('', 'i')).rejects.toThrow(InvalidArgumentError);
      await expect(a.hide('', 'i')).rejects.toThrow('user');
      await expect(a.hide('u', '')).rejects.toThrow('item');
      await expect(a.unhide('u', 'x'.repeat(257))).rejects.toThrow('item');
      await expect(a.markSeen('u', ['ok', ''])).rejects.toThrow('items[1]');
      expect(await a.seen('u')).toEqual([]);
    });
  });
}
