import { type Kysely, type QueryCreator, SqliteAdapter, sql } from 'kysely';
import { InvalidArgumentError } from '../core/errors.js';
import { assertVectorIndexName } from '../vectors/stored-index.js';
import { assertItemAttributes, type ItemAttributes } from '../vectors/vector-attributes.js';
import type {
  VectorUpdate,
  VectorUpdateListOptions,
  VectorUpdateStore,
} from '../vectors/vector-update-store.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { MetadataDatabase } from './metadata-tables.js';
import { describe, requireDate } from './metadata-validation.js';

/** Options of {@link KyselyVectorUpdateStore}. */
export interface KyselyVectorUpdateStoreOptions {
  /** PostgreSQL schema holding the table; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /** Queues writes behind other writes to the same SQLite file (see `KyselyWorkflowStoreOptions`). @defaultValue run at once */
  serializeWrites?: WriteQueue;
}

/** Longest item id kept, in UTF-16 code units (as the serving routes' path ids). */
const MAX_ID = 256;

/** Key of the PostgreSQL advisory lock that orders the changes' sequence numbers. */
const SEQ_LOCK = 0x6b766575; // "kveu"

/**
 * The {@link VectorUpdateStore} over the metadata store's database (`kiban_vector_updates`,
 * created by migrations `0008_vector_updates` and `0009_vector_update_folding`). It borrows the
 * Kysely instance of a `KyselyMetadataStore` and never closes it. Vectors are kept as base64 of
 * their little-endian float32 bytes, so they read back bit for bit on both dialects.
 *
 * Sequence numbers are `max(seq) + 1` computed inside the write. SQLite runs one write at a time,
 * so that is commit order already; on PostgreSQL each write takes a transaction-scoped advisory
 * lock first, so the next write computes its number only after the previous one committed (a
 * plain SEQUENCE would not do: a smaller number may commit after a larger one and a fold that
 * read in between would skip it).
 */
export class KyselyVectorUpdateStore implements VectorUpdateStore {
  readonly #db: Kysely<MetadataDatabase>;
  readonly #schema: string | undefined;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;
  readonly #sqlite: boolean;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyVectorUpdateStoreOptions = {}) {
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
    this.#sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  }

  async upsert(
    index: string,
    id: string,
    vector: Float32Array | null,
    at: Date,
    attributes: ItemAttributes | null = null,
  ): Promise<number> {
    assertVectorIndexName(index, 'index');
    checkId(id);
    if (vector !== null) checkVector(vector);
    if (attributes !== null) assertItemAttributes(attributes, 'attributes');
    const atMs = requireDate('at', at);
    const row = {
      index_name: index,
      item_id: id,
      dim: vector === null ? null : vector.length,
      vector: vector === null ? null : encodeVector(vector),
      at_ms: atMs,
      attributes: attributes === null ? null : JSON.stringify(attributes),
    };
    return this.#write(() =>
      this.#locked(async (q) => {
        const next = q
          .selectFrom('kiban_vector_updates')
          .select(sql<number>`coalesce(max(seq), 0) + 1`.as('next'));
        const written = await q
          .insertInto('kiban_vector_updates')
          .values({ ...row, seq: next })
          .onConflict((oc) =>
            oc.columns(['index_name', 'item_id']).doUpdateSet({
              dim: row.dim,
              vector: row.vector,
              at_ms: row.at_ms,
              attributes: row.attributes,
              seq: (eb) => eb.ref('excluded.seq'),
            }),
          )
          .returning('seq')
          .executeTakeFirstOrThrow();
        return Number(written.seq);
      }),
    );
  }

  async list(index: string, options: VectorUpdateListOptions = {}): Promise<VectorUpdate[]> {
    assertVectorIndexName(index, 'index');
    const after = checkSeq(options.after ?? 0, 'after');
    const rows = await this.#q
      .selectFrom('kiban_vector_updates')
      .select(['item_id', 'vector', 'at_ms', 'seq', 'attributes'])
      .where('index_name', '=', index)
      .where('seq', '>', after)
      .orderBy('item_id')
      .execute();
    return rows.map((r) => ({
      id: r.item_id,
      vector: r.vector === null ? null : decodeVector(r.vector),
      attributes: r.attributes === null ? null : (JSON.parse(r.attributes) as ItemAttributes),
      at: new Date(Number(r.at_ms)),
      seq: Number(r.seq),
    }));
  }

  async deleteThrough(index: string, seq: number, ids?: readonly string[]): Promise<number> {
    assertVectorIndexName(index, 'index');
    const through = checkSeq(seq, 'seq');
    if (ids !== undefined) for (const id of ids) checkId(id);
    if (ids !== undefined && ids.length === 0) return 0;
    return this.#write(() =>
      this.#locked(async (q) => {
        let deleted = 0;
        // In chunks: SQLite and PostgreSQL both cap the parameters of one statement.
        const chunks = ids === undefined ? [null] : chunk(ids, DELETE_CHUNK);
        for (const part of chunks) {
          let query = q
            .deleteFrom('kiban_vector_updates')
            .where('index_name', '=', index)
            .where('seq', '<=', through);
          if (part !== null) query = query.where('item_id', 'in', part);
          const result = await query.executeTakeFirst();
          deleted += Number(result.numDeletedRows);
        }
        return deleted;
      }),
    );
  }

  /** Runs `write` as one statement (SQLite) or in a transaction holding the sequence lock (PostgreSQL). */
  #locked<T>(write: (q: QueryCreator<MetadataDatabase>) => Promise<T>): Promise<T> {
    if (this.#sqlite) return write(this.#q);
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${SEQ_LOCK})`.execute(trx);
      return write(this.#schema === undefined ? trx : trx.withSchema(this.#schema));
    });
  }
}

/** Ids per DELETE statement. */
const DELETE_CHUNK = 500;

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function checkSeq(seq: unknown, field: string): number {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    throw new InvalidArgumentError(field, `must be a non-negative integer, got ${describe(seq)}`);
  return seq;
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)
    throw new InvalidArgumentError(
      'id',
      `must be a string of 1 to ${MAX_ID} characters, got ${describe(id)}`,
    );
}

function checkVector(vector: unknown): asserts vector is Float32Array {
  if (!(vector instanceof Float32Array) || vector.length === 0)
    throw new InvalidArgumentError(
      'vector',
      `must be a non-empty Float32Array or null, got ${describe(vector)}`,
    );
  for (let i = 0; i < vector.length; i++)
    if (!Number.isFinite(vector[i]))
      throw new InvalidArgumentError('vector', `element ${i} is ${vector[i]}, not a finite number`);
}

/** Base64 of the little-endian float32 bytes. */
function encodeVector(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}

function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const vector = new Float32Array(bytes.length >>> 2);
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
  return vector;
}
