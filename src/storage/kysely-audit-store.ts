import type { Kysely, QueryCreator, Selectable } from 'kysely';
import {
  type AuditEntry,
  type AuditListOptions,
  type AuditMethod,
  type AuditPage,
  type AuditRecord,
  type AuditStore,
  DEFAULT_AUDIT_LIST_LIMIT,
  MAX_AUDIT_LIST_LIMIT,
} from '../auth/audit-store.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { AuditLogTable, MetadataDatabase } from './metadata-tables.js';
import {
  describe,
  isPlainObject,
  optionalText,
  requireDate,
  requireLimit,
  requireText,
} from './metadata-validation.js';

/** Options of {@link KyselyAuditStore}. */
export interface KyselyAuditStoreOptions {
  /** PostgreSQL schema holding the table; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /** Queues writes behind other writes to the same SQLite file (see `KyselyWorkflowStoreOptions`). @defaultValue run at once */
  serializeWrites?: WriteQueue;
}

const METHODS: ReadonlySet<string> = new Set<AuditMethod>([
  'api-key',
  'jwt',
  'session',
  'proxy',
  'dev',
  'none',
]);

/**
 * A cursor is the decimal sequence number of the last entry of the previous page; 15 digits keep
 * it exact as a JavaScript number.
 */
const CURSOR = /^[1-9][0-9]{0,14}$/;

/**
 * The {@link AuditStore} over the metadata store's database (`kiban_audit_log`, created by
 * migration `0007_audit_log`). It borrows the Kysely instance of a `KyselyMetadataStore` and
 * never closes it. Entries are listed by their database-assigned sequence number, newest first,
 * so a cursor (the last sequence number seen) pages stably while new entries are appended.
 */
export class KyselyAuditStore implements AuditStore {
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyAuditStoreOptions = {}) {
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  async record(entry: AuditRecord): Promise<void> {
    const row = toRow(entry);
    await this.#write(() => this.#q.insertInto('kiban_audit_log').values(row).execute());
  }

  async list(options: AuditListOptions = {}): Promise<AuditPage> {
    const limit = requireLimit('limit', options.limit, DEFAULT_AUDIT_LIST_LIMIT);
    if (limit > MAX_AUDIT_LIST_LIMIT)
      throw new InvalidArgumentError(
        'limit',
        `must be at most ${MAX_AUDIT_LIST_LIMIT}, got ${limit}`,
      );
    const from = options.from === undefined ? undefined : requireDate('from', options.from);
    const to = options.to === undefined ? undefined : requireDate('to', options.to);
    if (from !== undefined && to !== undefined && from > to)
      throw new InvalidArgumentError('from', 'must not be after to');
    const principal = optionalText('principal', options.principal);
    const cursor = optionalText('cursor', options.cursor);
    if (cursor !== undefined && !CURSOR.test(cursor))
      throw new InvalidArgumentError('cursor', 'must be a nextCursor returned by a previous page');

    let query = this.#q.selectFrom('kiban_audit_log').selectAll();
    if (from !== undefined) query = query.where('at_ms', '>=', from);
    if (to !== undefined) query = query.where('at_ms', '<', to);
    if (principal !== undefined) query = query.where('principal_id', '=', principal);
    if (cursor !== undefined) query = query.where('seq', '<', Number(cursor));
    // One more than asked says whether another page follows.
    const rows = await query
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit).map(toEntry);
    return {
      entries: page,
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  }
}

function toRow(entry: AuditRecord) {
  if (!isPlainObject(entry))
    throw new InvalidArgumentError('entry', `must be an object, got ${describe(entry)}`);
  const principalId = nullableText('principalId', entry.principalId);
  const principalName = nullableText('principalName', entry.principalName);
  if (!METHODS.has(entry.method as string))
    throw new InvalidArgumentError(
      'method',
      `must be one of ${[...METHODS].join(', ')}, got ${describe(entry.method)}`,
    );
  if (!isPlainObject(entry.target))
    throw new InvalidArgumentError('target', `must be an object, got ${describe(entry.target)}`);
  for (const [key, value] of Object.entries(entry.target)) {
    if (typeof value !== 'string')
      throw new InvalidArgumentError(`target.${key}`, `must be a string, got ${describe(value)}`);
  }
  if (!Number.isInteger(entry.status) || entry.status < 100 || entry.status > 599)
    throw new InvalidArgumentError(
      'status',
      `must be an HTTP status (an integer 100–599), got ${describe(entry.status)}`,
    );
  return {
    at_ms: requireDate('at', entry.at),
    principal_id: principalId,
    principal_name: principalName,
    method: entry.method,
    action: requireText('action', entry.action),
    target: JSON.stringify(entry.target),
    status: entry.status,
    ip: requireText('ip', entry.ip),
    request_id: requireText('requestId', entry.requestId),
  };
}

function nullableText(field: string, value: unknown): string | null {
  return value === null ? null : requireText(field, value);
}

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: String(row.seq),
    at: new Date(Number(row.at_ms)),
    principalId: row.principal_id,
    principalName: row.principal_name,
    method: row.method as AuditMethod,
    action: row.action,
    target: JSON.parse(row.target) as Record<string, string>,
    status: Number(row.status),
    ip: row.ip,
    requestId: row.request_id,
  };
}
