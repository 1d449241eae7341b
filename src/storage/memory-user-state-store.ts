import {
  checkSeenCap,
  checkStateId,
  seenOrder,
  type UserExclusions,
  type UserStateStore,
  type UserStateStoreOptions,
} from './user-state-store.js';

/**
 * A {@link UserStateStore} in this process's memory (the `memory:` serving URL's): gone with the
 * process, shared by nothing else.
 */
export class MemoryUserStateStore implements UserStateStore {
  readonly #hidden = new Map<string, Set<string>>();
  /** Per user, the seen items in insertion order, the newest last. */
  readonly #seen = new Map<string, Set<string>>();
  readonly #cap: number;

  /** @throws InvalidArgumentError naming `seenCap` when it is not an integer ≥ 1. */
  constructor(options: UserStateStoreOptions = {}) {
    this.#cap = checkSeenCap(options);
  }

  async hide(user: string, item: string): Promise<void> {
    checkStateId('user', user);
    checkStateId('item', item);
    let set = this.#hidden.get(user);
    if (set === undefined) this.#hidden.set(user, (set = new Set()));
    set.add(item);
  }

  async unhide(user: string, item: string): Promise<void> {
    checkStateId('user', user);
    checkStateId('item', item);
    const set = this.#hidden.get(user);
    set?.delete(item);
    if (set?.size === 0) this.#hidden.delete(user);
  }

  async hidden(user: string): Promise<ReadonlySet<string>> {
    return new Set(this.#hidden.get(user));
  }

  async markSeen(user: string, items: readonly string[]): Promise<void> {
    checkStateId('user', user);
    const ordered = seenOrder(items);
    if (ordered.length === 0) return;
    let set = this.#seen.get(user);
    if (set === undefined) this.#seen.set(user, (set = new Set()));
    for (const item of ordered) {
      set.delete(item);
      set.add(item);
    }
    for (const oldest of set) {
      if (set.size <= this.#cap) break;
      set.delete(oldest);
    }
  }

  async seen(user: string): Promise<string[]> {
    return [...(this.#seen.get(user) ?? [])].reverse();
  }

  async exclusions(user: string): Promise<UserExclusions> {
    return { hidden: await this.hidden(user), seen: await this.seen(user) };
  }

  async close(): Promise<void> {}
}
