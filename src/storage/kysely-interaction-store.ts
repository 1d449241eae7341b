import { type Kysely, type QueryCreator, type Selectable, SqliteAdapter, sql } from 'kysely';
import { InvalidArgumentError } from '../core/errors.js';
import {
  type AppendedInteractions,
  DEFAULT_INTERACTION_LIMIT,
  DEFAULT_INTERACTION_SERVICE,
  INTERACTION_SERVICE_NAME,
  type InteractionEvent,
  type InteractionStore,
  MAX_INTERACTION_ID_LENGTH,
  MAX_INTERACTION_LIMIT,
  MAX_INTERACTIONS_PER_APPEND,
  type StoredInteraction,
} from './interaction-store.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { InteractionsTable, MetadataDatabase } from './metadata-tables.js';
import { describe, requireDate, requireLimit } from './metadata-validation.js';

/** Options of {@link KyselyInteractionStore}. */
export interface KyselyInteractionStoreOptions {
  /** The PostgreSQL schema of the tables. @defaultValue the connection's search path */
  schema?: string | undefined;
  /** Runs each write in the store's write queue (SQLite: one writer per file). */
  serializeWrites?: WriteQueue;
  /**
   * The service whose events the store reads and writes (see {@link InteractionStore.forService}).
   * @defaultValue `'default'`
   */
  service?: string;
}

/** Key of the PostgreSQL advisory lock that makes `seq` order commit order. */
const SEQ_LOCK = 0x6b696e74; // "kint"

/**
 * The {@link InteractionStore} over the metadata store's database (`kiban_interactions`,
 * migrations `0010_interactions` and `0012_interaction_services`) on SQLite and PostgreSQL, one
 * service's events at a time (every query filters on `service`). An append is one multi-row
 * `INSERT … ON CONFLICT (service, event_id) DO NOTHING`: atomic, and an id stored already in the
 * service is skipped on both engines.
 *
 * `seq` is commit order, so that a batch that has read through `seq` N never meets a smaller one
 * later: SQLite runs one write at a time; on PostgreSQL (where an identity value is taken at
 * insert, and a smaller one could commit after a larger) each append holds a transaction-scoped
 * advisory lock from its insert to its commit.
 */
export class KyselyInteractionStore implements InteractionStore {
  /** See {@link InteractionStore.service}. */
  readonly service: string;
  readonly #db: Kysely<MetadataDatabase>;
  readonly #options: KyselyInteractionStoreOptions;
  readonly #schema: string | undefined;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;
  readonly #sqlite: boolean;

  /**
   * Wraps a Kysely instance that someone else owns (and closes).
   * @throws InvalidArgumentError naming `service` when `options.service` is not a service name
   */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyInteractionStoreOptions = {}) {
    this.service = checkService(options.service ?? DEFAULT_INTERACTION_SERVICE);
    // The same database, typed with the column migration 0012 added.
    this.#db = db as unknown as Kysely<MetadataDatabase>;
    this.#options = options;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? this.#db : this.#db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
    this.#sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  }

  /** See {@link InteractionStore.forService}. */
  forService(service: string): InteractionStore {
    if (service === this.service) return this;
    return new KyselyInteractionStore(this.#db as unknown as Kysely<MetadataDatabase>, {
      ...this.#options,
      service,
    });
  }

  /** See {@link InteractionStore.append}. */
  async append(events: readonly InteractionEvent[]): Promise<AppendedInteractions> {
    if (!Array.isArray(events))
      throw new InvalidArgumentError('events', `must be an array, got ${describe(events)}`);
    if (events.length > MAX_INTERACTIONS_PER_APPEND)
      throw new InvalidArgumentError(
        'events',
        `holds ${events.length} events, more than ${MAX_INTERACTIONS_PER_APPEND}`,
      );
    const rows = events.map((event, i) => ({ ...toRow(event, i), service: this.service }));
    if (rows.length === 0) return { accepted: 0, duplicates: 0 };
    const result = await this.#write(() =>
      this.#locked((q) =>
        q
          .insertInto('kiban_interactions')
          .values(rows)
          .onConflict((oc) => oc.columns(['service', 'event_id']).doNothing())
          .executeTakeFirst(),
      ),
    );
    const accepted = Number(result.numInsertedOrUpdatedRows ?? 0n);
    return { accepted, duplicates: rows.length - accepted };
  }

  /** See {@link InteractionStore.forUser}. */
  async forUser(
    user: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<StoredInteraction[]> {
    checkId('user', user);
    const limit = checkLimit(options.limit);
    const after = checkAfter(options.after);
    let query = this.#q
      .selectFrom('kiban_interactions')
      .selectAll()
      .where('service', '=', this.service)
      .where('user_id', '=', user);
    if (after > 0) query = query.where('seq', '>', after);
    // The newest `limit`, then turned oldest first.
    const rows = await query.orderBy('at_ms', 'desc').orderBy('seq', 'desc').limit(limit).execute();
    return rows.reverse().map(toInteraction);
  }

  /** See {@link InteractionStore.list}. */
  async list(options: { after?: number; limit?: number } = {}): Promise<StoredInteraction[]> {
    const after = checkAfter(options.after);
    const rows = await this.#q
      .selectFrom('kiban_interactions')
      .selectAll()
      .where('service', '=', this.service)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(checkLimit(options.limit))
      .execute();
    return rows.map(toInteraction);
  }

  /** Runs `write` as one statement (SQLite) or in a transaction holding the seq lock (PostgreSQL). */
  #locked<T>(write: (q: QueryCreator<MetadataDatabase>) => Promise<T>): Promise<T> {
    if (this.#sqlite) return write(this.#q);
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${SEQ_LOCK})`.execute(trx);
      return write(this.#schema === undefined ? trx : trx.withSchema(this.#schema));
    });
  }
}

function checkService(value: unknown): string {
  if (typeof value !== 'string' || !INTERACTION_SERVICE_NAME.test(value))
    throw new InvalidArgumentError(
      'service',
      `must be a service name (lower-case letters, digits and "-", starting with a letter, at most 32), got ${describe(value)}`,
    );
  return value;
}

function checkAfter(value: unknown): number {
  const after = value ?? 0;
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0)
    throw new InvalidArgumentError('after', `must be an integer ≥ 0, got ${describe(after)}`);
  return after;
}

function checkLimit(value: unknown): number {
  const limit = requireLimit('limit', value, DEFAULT_INTERACTION_LIMIT);
  if (limit > MAX_INTERACTION_LIMIT)
    throw new InvalidArgumentError(
      'limit',
      `must be at most ${MAX_INTERACTION_LIMIT}, got ${limit}`,
    );
  return limit;
}

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_INTERACTION_ID_LENGTH)
    throw new InvalidArgumentError(
      field,
      `must be a string of 1 to ${MAX_INTERACTION_ID_LENGTH} characters, got ${describe(value)}`,
    );
  return value;
}

function toRow(event: InteractionEvent, i: number) {
  const field = `events[${i}]`;
  if (event === null || typeof event !== 'object')
    throw new InvalidArgumentError(field, `must be an object, got ${describe(event)}`);
  const weight = event.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight))
    throw new InvalidArgumentError(
      `${field}.weight`,
      `must be a finite number, got ${describe(weight)}`,
    );
  return {
    event_id: event.id === undefined ? null : checkId(`${field}.id`, event.id),
    user_id: checkId(`${field}.user`, event.user),
    item_id: checkId(`${field}.item`, event.item),
    at_ms: requireDate(`${field}.at`, event.at),
    weight,
  };
}

function toInteraction(row: Selectable<InteractionsTable>): StoredInteraction {
  return {
    seq: Number(row.seq),
    id: row.event_id,
    user: row.user_id,
    item: row.item_id,
    at: new Date(Number(row.at_ms)),
    weight: Number(row.weight),
  };
}
