import type { Kysely, QueryCreator } from 'kysely';
import { InvalidArgumentError } from '../core/errors.js';
import { assertVectorIndexName } from '../vectors/stored-index.js';
import type { VectorUpdate, VectorUpdateStore } from '../vectors/vector-update-store.js';
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

/**
 * The {@link VectorUpdateStore} over the metadata store's database (`kiban_vector_updates`,
 * created by migration `0008_vector_updates`). It borrows the Kysely instance of a
 * `KyselyMetadataStore` and never closes it. Vectors are kept as base64 of their little-endian
 * float32 bytes, so they read back bit for bit on both dialects.
 */
export class KyselyVectorUpdateStore implements VectorUpdateStore {
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyVectorUpdateStoreOptions = {}) {
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  async upsert(index: string, id: string, vector: Float32Array | null, at: Date): Promise<void> {
    assertVectorIndexName(index, 'index');
    checkId(id);
    if (vector !== null) checkVector(vector);
    const atMs = requireDate('at', at);
    const row = {
      index_name: index,
      item_id: id,
      dim: vector === null ? null : vector.length,
      vector: vector === null ? null : encodeVector(vector),
      at_ms: atMs,
    };
    await this.#write(() =>
      this.#q
        .insertInto('kiban_vector_updates')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['index_name', 'item_id'])
            .doUpdateSet({ dim: row.dim, vector: row.vector, at_ms: row.at_ms }),
        )
        .execute(),
    );
  }

  async list(index: string): Promise<VectorUpdate[]> {
    assertVectorIndexName(index, 'index');
    const rows = await this.#q
      .selectFrom('kiban_vector_updates')
      .select(['item_id', 'vector', 'at_ms'])
      .where('index_name', '=', index)
      .orderBy('item_id')
      .execute();
    return rows.map((r) => ({
      id: r.item_id,
      vector: r.vector === null ? null : decodeVector(r.vector),
      at: new Date(Number(r.at_ms)),
    }));
  }
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
