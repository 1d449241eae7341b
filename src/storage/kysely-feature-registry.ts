import type { Kysely, QueryCreator, Selectable } from 'kysely';
import { ConflictError, InvalidArgumentError } from '../core/errors.js';
import {
  FEATURE_OBJECT_KINDS,
  type FeatureObjectKind,
  type FeatureRegistry,
  type FeatureRegistryChange,
  planFeatureRegistry,
  type RegisteredFeatureObject,
} from '../features/feature-registry.js';
import type { FeatureRepository } from '../features/feature-types.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { FeatureRegistryTable, MetadataDatabase } from './metadata-tables.js';

/** Options of {@link KyselyFeatureRegistry}. */
export interface KyselyFeatureRegistryOptions {
  /** The PostgreSQL schema of the tables. @defaultValue the connection's search path */
  schema?: string | undefined;
  /** Runs each write in the store's write queue (SQLite: one writer per file). */
  serializeWrites?: WriteQueue;
}

/** Who applied, when the caller does not say. */
const DEFAULT_APPLIED_BY = 'unknown';

/**
 * The {@link FeatureRegistry} over the metadata store's database (`kiban_feature_registry`,
 * migration `0011_feature_registry`) on SQLite and PostgreSQL. Every version is kept; the
 * current one of an object is its highest. `apply` reads and writes in one transaction, and the
 * primary key (kind, name, version) turns two concurrent applies into one success and one
 * {@link ConflictError}, never a lost version.
 */
export class KyselyFeatureRegistry implements FeatureRegistry {
  readonly #db: Kysely<MetadataDatabase>;
  readonly #schema: string | undefined;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyFeatureRegistryOptions = {}) {
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
  }

  /** See {@link FeatureRegistry.plan}. */
  async plan(repo: FeatureRepository): Promise<FeatureRegistryChange[]> {
    const { objects, removed } = await current(this.#q);
    return planFeatureRegistry(objects, repo, removed);
  }

  /** See {@link FeatureRegistry.apply}. */
  async apply(
    repo: FeatureRepository,
    options: { appliedBy?: string } = {},
  ): Promise<FeatureRegistryChange[]> {
    const appliedBy = options.appliedBy ?? DEFAULT_APPLIED_BY;
    if (typeof appliedBy !== 'string' || appliedBy === '')
      throw new InvalidArgumentError('appliedBy', 'must be a non-empty string');
    return this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        const { objects, removed } = await current(q);
        const changes = planFeatureRegistry(objects, repo, removed);
        const at = Date.now();
        const rows = changes.flatMap((c) => {
          if (c.action === 'unchanged') return [];
          const isRemoval = c.action === 'removed';
          return [
            {
              kind: c.kind,
              name: c.name,
              version: isRemoval ? (c.fromVersion ?? 0) + 1 : (c.toVersion ?? 1),
              definition: isRemoval ? null : JSON.stringify(c.definition),
              content_hash: isRemoval ? null : (c.contentHash ?? null),
              applied_at_ms: at,
              applied_by: appliedBy,
            },
          ];
        });
        if (rows.length === 0) return changes;
        const result = await q
          .insertInto('kiban_feature_registry')
          .values(rows)
          .onConflict((oc) => oc.columns(['kind', 'name', 'version']).doNothing())
          .executeTakeFirst();
        if (Number(result.numInsertedOrUpdatedRows ?? 0n) !== rows.length)
          throw new ConflictError(
            'feature registry: another apply recorded a version at the same time; run plan again and re-apply',
          );
        return changes.map((c) =>
          c.action === 'removed' ? { ...c, toVersion: (c.fromVersion ?? 0) + 1 } : c,
        );
      }),
    );
  }

  /** See {@link FeatureRegistry.list}. */
  async list(): Promise<RegisteredFeatureObject[]> {
    return (await current(this.#q)).objects;
  }

  /** See {@link FeatureRegistry.get}. */
  async get(kind: FeatureObjectKind, name: string): Promise<RegisteredFeatureObject | null> {
    if (!(FEATURE_OBJECT_KINDS as readonly unknown[]).includes(kind))
      throw new InvalidArgumentError(
        'kind',
        `must be one of ${FEATURE_OBJECT_KINDS.join(', ')}, got ${String(kind)}`,
      );
    if (typeof name !== 'string' || name === '')
      throw new InvalidArgumentError('name', 'must be a non-empty string');
    const row = await this.#q
      .selectFrom('kiban_feature_registry')
      .selectAll()
      .where('kind', '=', kind)
      .where('name', '=', name)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined || row.definition === null ? null : toObject(row);
  }
}

/**
 * The current (highest) version of every object not removed, in kind then name order, and the
 * last version of each removed one (keyed `kind:name`).
 */
async function current(
  q: QueryCreator<MetadataDatabase>,
): Promise<{ objects: RegisteredFeatureObject[]; removed: Map<string, number> }> {
  const rows = await q
    .selectFrom('kiban_feature_registry')
    .selectAll()
    .orderBy('kind')
    .orderBy('name')
    .orderBy('version')
    .execute();
  const latest = new Map<string, Selectable<FeatureRegistryTable>>();
  for (const row of rows) {
    const key = `${row.kind}:${row.name}`;
    const seen = latest.get(key);
    if (seen === undefined || Number(row.version) > Number(seen.version)) latest.set(key, row);
  }
  const objects: RegisteredFeatureObject[] = [];
  const removed = new Map<string, number>();
  for (const [key, row] of latest)
    if (row.definition === null) removed.set(key, Number(row.version));
    else objects.push(toObject(row));
  objects.sort(
    (a, b) =>
      FEATURE_OBJECT_KINDS.indexOf(a.kind) - FEATURE_OBJECT_KINDS.indexOf(b.kind) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return { objects, removed };
}

function toObject(row: Selectable<FeatureRegistryTable>): RegisteredFeatureObject {
  return {
    kind: row.kind as FeatureObjectKind,
    name: row.name,
    version: Number(row.version),
    definition: JSON.parse(row.definition ?? '{}') as Record<string, unknown>,
    contentHash: row.content_hash ?? '',
    appliedAt: new Date(Number(row.applied_at_ms)),
    appliedBy: row.applied_by,
  };
}
