import type { AuthMethod } from './principal.js';

/** How a caller was authenticated, or `none` for an anonymous one (auth off, or a public route). */
export type AuditMethod = AuthMethod | 'none';

/** One write to the HTTP API, as the audit log records it after the answer is sent. */
export interface AuditRecord {
  /** When the request arrived. */
  at: Date;
  /** The principal's stable id (`Principal.id`); null for an anonymous caller. */
  principalId: string | null;
  /** The principal's readable name (`Principal.name`); null for an anonymous caller. */
  principalName: string | null;
  method: AuditMethod;
  /** The HTTP method and the route's pattern, e.g. `POST /v1/experiments/:name/start`. */
  action: string;
  /** The route's path parameters, e.g. `{ name: 'homepage' }` (never the body). */
  target: Readonly<Record<string, string>>;
  /** The HTTP status answered. */
  status: number;
  /** The peer address the request came from. */
  ip: string;
  /** The request's id (fastify's `request.id`), to find its log entries. */
  requestId: string;
}

/** An {@link AuditRecord} as read back, with the id the store gave it. */
export interface AuditEntry extends AuditRecord {
  /** Assigned by the store; ids grow in the order entries were recorded. */
  id: string;
}

/** What {@link AuditStore.list} returns: newest first, and where the next page starts. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  nextCursor: string | null;
}

/** Filters and paging of {@link AuditStore.list}. */
export interface AuditListOptions {
  /** Only entries at or after this time. */
  from?: Date;
  /** Only entries before this time. */
  to?: Date;
  /** Only entries of this principal id. */
  principal?: string;
  /** Page size, 1 to {@link MAX_AUDIT_LIST_LIMIT}. @defaultValue {@link DEFAULT_AUDIT_LIST_LIMIT} */
  limit?: number;
  /** A previous page's `nextCursor`: continue after its last entry. */
  cursor?: string;
}

/** Entries per page when no limit is given. */
export const DEFAULT_AUDIT_LIST_LIMIT = 100;

/** The largest page {@link AuditStore.list} returns. */
export const MAX_AUDIT_LIST_LIMIT = 1000;

/**
 * The audit log: who wrote what through the HTTP API, when and from where. Append-only; every
 * method is safe to call concurrently.
 */
export interface AuditStore {
  /**
   * Appends one entry. Throws `InvalidArgumentError` naming the field when the record is
   * malformed (empty action, a status outside 100–599, a target value that is not a string…).
   */
  record(entry: AuditRecord): Promise<void>;
  /**
   * Entries newest recorded first, filtered and paged. Throws `InvalidArgumentError` naming the
   * field for a bad limit, a malformed cursor or `from` after `to`.
   */
  list(options?: AuditListOptions): Promise<AuditPage>;
}
