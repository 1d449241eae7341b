/**
 * Per-user online state of one service (issue 22): items a user hid, and items a user has just
 * seen (written back by the events route), which the recommendation routes leave out at once,
 * before the next batch. Backends: memory, SQLite and Redis, each in its service's namespace.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';

/** What a recommendation request leaves out for one user, read in one go. */
export interface UserExclusions {
  /** The items the user hid. */
  hidden: ReadonlySet<string>;
  /** The items the user has seen lately, newest first (at most the store's `seenCap`). */
  seen: readonly string[];
}

/** Longest user or item id the stores take, in characters (as interactions). */
export const MAX_USER_STATE_ID_LENGTH = 256;

/** Default most seen items kept per user (older ones drop out). */
export const DEFAULT_SEEN_CAP = 500;

/**
 * Per-user hidden and seen items of one service.
 *
 * Hidden items stay hidden until unhidden. Seen items are capped per user (`seenCap`, default
 * {@link DEFAULT_SEEN_CAP}): marking one more drops the oldest; marking an item seen again makes
 * it the newest.
 */
export interface UserStateStore {
  /**
   * Hides `item` from `user`'s recommendations until {@link UserStateStore.unhide}. Idempotent.
   * @throws InvalidArgumentError naming `user` or `item` for an empty or over-long id.
   */
  hide(user: string, item: string): Promise<void>;
  /** Shows `item` to `user` again. Idempotent. */
  unhide(user: string, item: string): Promise<void>;
  /** The items `user` hid. */
  hidden(user: string): Promise<ReadonlySet<string>>;
  /**
   * Records that `user` has just seen `items` (in event order, the last the newest), keeping the
   * newest `seenCap` of the user's seen items. An empty list does nothing.
   * @throws InvalidArgumentError naming `user` or `items[i]` for an empty or over-long id.
   */
  markSeen(user: string, items: readonly string[]): Promise<void>;
  /** The items `user` has seen lately, newest first. */
  seen(user: string): Promise<string[]>;
  /** Hidden and seen items of `user` at once (one round trip on Redis). */
  exclusions(user: string): Promise<UserExclusions>;
  close(): Promise<void>;
}

/** Options every backend takes. */
export interface UserStateStoreOptions {
  /** Most seen items kept per user. @defaultValue {@link DEFAULT_SEEN_CAP} */
  seenCap?: number;
}

/** Validates an id a store is given; returns it. */
export function checkStateId(field: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_USER_STATE_ID_LENGTH)
    throw new InvalidArgumentError(
      field,
      `must be a non-empty string of at most ${MAX_USER_STATE_ID_LENGTH} characters`,
    );
  return id;
}

/** Validates `seenCap`; returns it (or the default). */
export function checkSeenCap(options: UserStateStoreOptions | undefined): number {
  const cap = options?.seenCap ?? DEFAULT_SEEN_CAP;
  if (!Number.isSafeInteger(cap) || cap < 1)
    throw new InvalidArgumentError('seenCap', `must be an integer ≥ 1, got ${cap}`);
  return cap;
}

/** `items` checked, with only the last occurrence of each kept (in order): what markSeen stores. */
export function seenOrder(items: readonly string[]): string[] {
  items.forEach((item, i) => checkStateId(`items[${i}]`, item));
  const last = new Map<string, number>();
  items.forEach((item, i) => last.set(item, i));
  return items.filter((item, i) => last.get(item) === i);
}
