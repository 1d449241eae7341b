import type { Kysely, QueryCreator, Selectable } from 'kysely';
import type { ApiKeyRecord, ApiKeyStore } from '../auth/api-keys.js';
import { isScope, type Scope } from '../auth/principal.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { ApiKeysTable, MetadataDatabase } from './metadata-tables.js';
import { requireDate, requireText } from './metadata-validation.js';

/** Options of {@link KyselyApiKeyStore}. */
export interface KyselyApiKeyStoreOptions {
  /** PostgreSQL schema holding the table; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /** Queues writes behind other writes to the same SQLite file (see `KyselyWorkflowStoreOptions`). @defaultValue run at once */
  serializeWrites?: WriteQueue;
}

const PREFIX = /^[0-9a-f]{12}$/;
const HASH = /^[0-9a-f]{64}$/;

/**
 * The {@link ApiKeyStore} over the metadata store's database (`kiban_api_keys`, created by
 * migration `0006_api_keys`). It borrows the Kysely instance of a `KyselyMetadataStore` and
 * never closes it. Only the HMAC of a key's secret is stored.
 */
export class KyselyApiKeyStore implements ApiKeyStore {
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyApiKeyStoreOptions = {}) {
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  async insert(record: ApiKeyRecord): Promise<void> {
    const row = toRow(record);
    const result = await this.#write(() =>
      this.#q
        .insertInto('kiban_api_keys')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst(),
    );
    if (Number(result.numInsertedOrUpdatedRows ?? 0) === 0)
      throw new InvalidArgumentError(
        'apiKey.id',
        `an API key with id "${row.id}" or prefix "${row.prefix}" is already recorded`,
      );
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    const row = await this.#q
      .selectFrom('kiban_api_keys')
      .selectAll()
      .where('id', '=', requireText('id', id))
      .executeTakeFirst();
    return row === undefined ? null : toRecord(row);
  }

  async getByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    const row = await this.#q
      .selectFrom('kiban_api_keys')
      .selectAll()
      .where('prefix', '=', requireText('prefix', prefix))
      .executeTakeFirst();
    return row === undefined ? null : toRecord(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.#q
      .selectFrom('kiban_api_keys')
      .selectAll()
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toRecord);
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    const atMs = requireDate('at', at);
    const key = requireText('id', id);
    return this.#write(async () => {
      await this.#q
        .updateTable('kiban_api_keys')
        .set({ revoked_at_ms: atMs })
        .where('id', '=', key)
        .where('revoked_at_ms', 'is', null)
        .execute();
      // A key revoked before stays as it was; "is there such a key" is what the caller asks.
      const row = await this.#q
        .selectFrom('kiban_api_keys')
        .select('id')
        .where('id', '=', key)
        .executeTakeFirst();
      return row !== undefined;
    });
  }

  async setExpiry(id: string, expiresAt: Date | null): Promise<boolean> {
    const value = expiresAt === null ? null : requireDate('expiresAt', expiresAt);
    const key = requireText('id', id);
    const result = await this.#write(() =>
      this.#q
        .updateTable('kiban_api_keys')
        .set({ expires_at_ms: value })
        .where('id', '=', key)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async touch(id: string, at: Date, minIntervalMs: number): Promise<void> {
    const atMs = requireDate('at', at);
    const key = requireText('id', id);
    await this.#write(() =>
      this.#q
        .updateTable('kiban_api_keys')
        .set({ last_used_at_ms: atMs })
        .where('id', '=', key)
        .where((eb) =>
          eb.or([
            eb('last_used_at_ms', 'is', null),
            eb('last_used_at_ms', '<=', atMs - minIntervalMs),
          ]),
        )
        .execute(),
    );
  }
}

function toRow(record: ApiKeyRecord) {
  const prefix = requireText('apiKey.prefix', record.prefix);
  if (!PREFIX.test(prefix))
    throw new InvalidArgumentError('apiKey.prefix', 'must be 12 lower-case hex digits');
  const hash = requireText('apiKey.hash', record.hash);
  if (!HASH.test(hash))
    throw new InvalidArgumentError('apiKey.hash', 'must be a hex SHA-256 HMAC (64 digits)');
  if (!Array.isArray(record.scopes) || record.scopes.length === 0)
    throw new InvalidArgumentError('apiKey.scopes', 'must name at least one scope');
  for (const scope of record.scopes)
    if (typeof scope !== 'string' || !isScope(scope))
      throw new InvalidArgumentError('apiKey.scopes', `unknown scope ${JSON.stringify(scope)}`);
  return {
    id: requireText('apiKey.id', record.id),
    name: requireText('apiKey.name', record.name),
    prefix,
    hash,
    scopes: JSON.stringify(record.scopes),
    created_by: requireText('apiKey.createdBy', record.createdBy),
    created_at_ms: requireDate('apiKey.createdAt', record.createdAt),
    expires_at_ms:
      record.expiresAt === null ? null : requireDate('apiKey.expiresAt', record.expiresAt),
    last_used_at_ms:
      record.lastUsedAt === null ? null : requireDate('apiKey.lastUsedAt', record.lastUsedAt),
    revoked_at_ms:
      record.revokedAt === null ? null : requireDate('apiKey.revokedAt', record.revokedAt),
  };
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  const date = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)));
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    // Scopes a later kiban dropped are left out rather than failing every request with the key.
    scopes: (JSON.parse(row.scopes) as string[]).filter(isScope) as Scope[],
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at_ms)),
    expiresAt: date(row.expires_at_ms),
    lastUsedAt: date(row.last_used_at_ms),
    revokedAt: date(row.revoked_at_ms),
  };
}
