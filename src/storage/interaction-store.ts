/**
 * User–item interactions written through the API (`POST /v1/interactions`) between batches: the
 * serving side re-embeds a user from them at once, and the next batch aggregates them with the
 * event log (see {@link InteractionStore.list}).
 */

/** One interaction as written. */
export interface InteractionEvent {
  /**
   * The caller's id of the event: an event whose id is stored already is skipped (first write
   * wins), so a retried request adds nothing. @defaultValue none: every write is a new event
   */
  id?: string;
  /** The external user id. */
  user: string;
  /** The external item id. */
  item: string;
  /** When it happened. */
  at: Date;
  /** Its weight (a rating, a count; 1 for a click). @defaultValue 1 */
  weight?: number;
}

/** One stored interaction. */
export interface StoredInteraction {
  /** Commit order, ascending from 1; pages of {@link InteractionStore.list} follow it. */
  seq: number;
  id: string | null;
  user: string;
  item: string;
  at: Date;
  weight: number;
}

/** What {@link InteractionStore.append} did. */
export interface AppendedInteractions {
  /** Events stored. */
  accepted: number;
  /** Events skipped because their id was stored already (or came twice in the call). */
  duplicates: number;
}

/** Most events in one {@link InteractionStore.append}. */
export const MAX_INTERACTIONS_PER_APPEND = 1000;
/** Default and largest `limit` of the reads. */
export const DEFAULT_INTERACTION_LIMIT = 1000;
export const MAX_INTERACTION_LIMIT = 10_000;
/** Longest user id, item id and event id, in characters. */
export const MAX_INTERACTION_ID_LENGTH = 256;

/** The service of a store that was not scoped with {@link InteractionStore.forService}. */
export const DEFAULT_INTERACTION_SERVICE = 'default';

/**
 * A service name as the interaction log accepts it: `auth/principal.ts`'s `SERVICE_NAME`
 * (lower-case letters, digits and `-`, starting with a letter, at most 32), repeated here because
 * storage does not depend on auth.
 */
export const INTERACTION_SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The interactions seam (`metadata.interactions`): an append-only log of user–item events in the
 * metadata store's database (SQLite or PostgreSQL, migrations `0010_interactions` and
 * `0012_interaction_services`).
 *
 * Every event belongs to one service (issue 22): `metadata.interactions` is the
 * {@link DEFAULT_INTERACTION_SERVICE}'s log, and {@link InteractionStore.forService} gives
 * another service's. A view reads and writes only its own service's events; event ids are unique
 * per service (the same id in two services is two events); `seq` is shared, so it still ascends
 * in commit order within each service.
 */
export interface InteractionStore {
  /** The service whose events this view reads and writes. */
  readonly service: string;
  /**
   * The same log seen as service `service`'s: a view over the same database (nothing to close).
   * @throws InvalidArgumentError naming `service` when it is not a service name
   *   ({@link INTERACTION_SERVICE_NAME})
   */
  forService(service: string): InteractionStore;
  /**
   * Stores `events` in one transaction, skipping those whose `id` is stored already.
   * @throws InvalidArgumentError naming `events[i].<field>` (before anything is written) for an
   *   empty or over-long id, a date that is not a valid `Date`, or a weight that is not finite.
   */
  append(events: readonly InteractionEvent[]): Promise<AppendedInteractions>;
  /**
   * The newest `limit` interactions of `user` stored after `seq` `after` (0, the default: all),
   * oldest first (by `at`, then `seq`). `after` is commit order, not event time, so an event
   * sent late with an old `at` still counts as newer than a batch that had not read it.
   */
  forUser(user: string, options?: { after?: number; limit?: number }): Promise<StoredInteraction[]>;
  /**
   * A page of every stored interaction in commit order: those with `seq` above `after` (0: from
   * the first), at most `limit`; how the next batch reads what arrived since it last looked.
   */
  list(options?: { after?: number; limit?: number }): Promise<StoredInteraction[]>;
}
