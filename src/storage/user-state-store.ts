/**
 * Per-user online state of one service (issue 22): items a user hid, and items a user has just
 * seen (written back by the events route), which the recommendation routes leave out at once,
 * before the next batch. Backends: memory, SQLite and Redis, each in its service's namespace.
 *
 * TODO(issue 22): the interface is a first cut; its owner extends it with the backends.
 */
export interface UserStateStore {
  /** Hides `item` from `user`'s recommendations until {@link UserStateStore.unhide}. Idempotent. */
  hide(user: string, item: string): Promise<void>;
  /** Shows `item` to `user` again. Idempotent. */
  unhide(user: string, item: string): Promise<void>;
  /** The items `user` hid. */
  hidden(user: string): Promise<ReadonlySet<string>>;
  close(): Promise<void>;
}
