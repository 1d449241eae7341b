import { createHash } from 'node:crypto';
import { type Kysely, type QueryCreator, type Selectable, SqliteAdapter, sql } from 'kysely';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import {
  type PrivacyBudget,
  PrivacyBudgetExceededError,
  type PrivacyLedger,
  type PrivacySpend,
  type PrivacyTotals,
  type ReleaseRecord,
  type ReleaseRequest,
  type Reservation,
} from '../privacy/privacy-ledger.js';
import type { WriteQueue } from './kysely-workflow-store.js';
import type { MetadataDatabase, PrivacyReleasesTable } from './metadata-tables.js';
import {
  describe,
  isPlainObject,
  optionalText,
  requireLimit,
  requireText,
  toJsonText,
} from './metadata-validation.js';

/** Options of {@link KyselyPrivacyLedger}. */
export interface KyselyPrivacyLedgerOptions {
  /** PostgreSQL schema holding the table; undefined on SQLite. @defaultValue undefined */
  schema?: string;
  /** Queues writes behind other writes to the same SQLite file (see `KyselyWorkflowStoreOptions`). @defaultValue run at once */
  serializeWrites?: WriteQueue;
}

/** Releases {@link KyselyPrivacyLedger.list} returns when no limit is given. */
export const DEFAULT_PRIVACY_LIST_LIMIT = 100;

/**
 * Relative slack on a budget check. Spend sums are floating point, so spending a budget exactly in
 * equal parts (3 × 0.005 of 0.015) can come out an ulp above it; 1e-12 forgives that rounding
 * and nothing a mechanism could meaningfully spend.
 */
const BUDGET_TOLERANCE = 1e-12;

type Row = Selectable<PrivacyReleasesTable>;
type Unit = 'rho' | 'epsilon' | 'delta';

/**
 * The {@link PrivacyLedger} over the metadata store's database (`kiban_privacy_releases`,
 * migration `0013_privacy_releases`) on SQLite and PostgreSQL. It borrows the Kysely instance of a
 * `KyselyMetadataStore` and never closes it.
 *
 * `reserve` reads the dataset × recipient's totals and inserts the release in one transaction
 * that no other reservation of the same pair can interleave with: on PostgreSQL the transaction
 * first takes a transaction-scoped advisory lock keyed by (schema, dataset, recipient), so the
 * totals read after it include every release committed before; on SQLite the store's dialect
 * begins transactions with `BEGIN IMMEDIATE`, which holds the database's write lock from the
 * first statement (across processes), and `serializeWrites` queues this process's writes to the
 * same file so that waiting on that lock never blocks the event loop.
 *
 * A budget with neither `epsilon` nor `rho` (a policy that releases only k-anonymous records)
 * allows no ε or ρ at all, and a release that spends nothing in a unit is never refused in it.
 * `markPublished` of a release already published with another output throws `ConflictError`:
 * where a release went is recorded once.
 */
export class KyselyPrivacyLedger implements PrivacyLedger {
  readonly #db: Kysely<MetadataDatabase>;
  readonly #schema: string | undefined;
  readonly #q: QueryCreator<MetadataDatabase>;
  readonly #write: WriteQueue;
  readonly #sqlite: boolean;

  /** Wraps a Kysely instance that someone else owns (and closes). */
  constructor(db: Kysely<MetadataDatabase>, options: KyselyPrivacyLedgerOptions = {}) {
    this.#db = db;
    this.#schema = options.schema;
    this.#q = options.schema === undefined ? db : db.withSchema(options.schema);
    this.#write = options.serializeWrites ?? ((write) => write());
    this.#sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  }

  /** See {@link PrivacyLedger.reserve}. */
  async reserve(release: ReleaseRequest, budget: PrivacyBudget): Promise<Reservation> {
    const row = toRow(release);
    const limits = checkBudget(budget);
    // A zCDP spend cannot be expressed in pure ε, whatever the ledger already holds.
    if (limits.rho === undefined && limits.epsilon !== undefined && (row.rho ?? 0) > 0)
      throw new InvalidArgumentError(
        'budget',
        `gives only epsilon, which cannot account for a zCDP release (rho ${row.rho}); give the budget in rho`,
      );
    return this.#write(() =>
      this.#db.transaction().execute(async (trx) => {
        const q = this.#schema === undefined ? trx : trx.withSchema(this.#schema);
        if (!this.#sqlite)
          await sql`select pg_advisory_xact_lock(${lockKey(this.#schema, row.dataset, row.recipient)}::bigint)`.execute(
            trx,
          );
        const before = await getRow(q, row.id);
        if (before !== undefined) return existing(q, before, row);
        const spent = await totalsOf(q, row.dataset, row.recipient);
        checkWithin(limits, spent, row);
        const inserted = await q
          .insertInto('kiban_privacy_releases')
          .values(row)
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
          // The same id reserved at the same moment under another dataset × recipient (another lock).
          const raced = await getRow(q, row.id);
          if (raced === undefined)
            throw new ConflictError(`release "${row.id}": insert lost a race; retry`);
          return existing(q, raced, row);
        }
        return { release: toRecord(row), existing: false, totals: plus(spent, row) };
      }),
    );
  }

  /** See {@link PrivacyLedger.markPublished}. */
  async markPublished(id: string, output: string): Promise<ReleaseRecord> {
    requireText('id', id);
    requireText('output', output);
    return this.#write(async () => {
      await this.#q
        .updateTable('kiban_privacy_releases')
        .set({ status: 'published', output, published_at_ms: Date.now() })
        .where('id', '=', id)
        .where('status', '=', 'reserved')
        .execute();
      const row = await getRow(this.#q, id);
      if (row === undefined) throw new NotFoundError(`privacy release "${id}"`);
      if (row.output !== output)
        throw new ConflictError(
          `privacy release "${id}" was already published to ${JSON.stringify(row.output)}, not ${JSON.stringify(output)}`,
        );
      return toRecord(row);
    });
  }

  /** See {@link PrivacyLedger.get}. */
  async get(id: string): Promise<ReleaseRecord | null> {
    const row = await getRow(this.#q, requireText('id', id));
    return row === undefined ? null : toRecord(row);
  }

  /** See {@link PrivacyLedger.totals}. */
  async totals(dataset: string, recipient: string): Promise<PrivacyTotals> {
    return totalsOf(this.#q, requireText('dataset', dataset), requireText('recipient', recipient));
  }

  /** See {@link PrivacyLedger.list}: newest first by creation time, ties by id descending. */
  async list(
    options: { dataset?: string; recipient?: string; limit?: number } = {},
  ): Promise<ReleaseRecord[]> {
    const limit = requireLimit('limit', options.limit, DEFAULT_PRIVACY_LIST_LIMIT);
    const dataset = optionalText('dataset', options.dataset);
    const recipient = optionalText('recipient', options.recipient);
    let query = this.#q.selectFrom('kiban_privacy_releases').selectAll();
    if (dataset !== undefined) query = query.where('dataset', '=', dataset);
    if (recipient !== undefined) query = query.where('recipient', '=', recipient);
    const rows = await query
      .orderBy('created_at_ms', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }
}

/**
 * The advisory-lock key of a dataset × recipient: 64 bits of a SHA-256 over the three names,
 * JSON-encoded so that no choice of names can make two pairs encode alike. Computed here rather
 * than with SQL's `hashtext`, which is 32 bits and undocumented.
 */
function lockKey(schema: string | undefined, dataset: string, recipient: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['kiban_privacy_releases', schema ?? null, dataset, recipient]))
    .digest();
  return digest.readBigInt64BE(0).toString();
}

async function getRow(q: QueryCreator<MetadataDatabase>, id: string): Promise<Row | undefined> {
  return q.selectFrom('kiban_privacy_releases').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The reservation of a retry: the recorded release, if it is of the same dataset × recipient. */
async function existing(
  q: QueryCreator<MetadataDatabase>,
  recorded: Row,
  asked: { id: string; dataset: string; recipient: string },
): Promise<Reservation> {
  if (recorded.dataset !== asked.dataset || recorded.recipient !== asked.recipient)
    throw new ConflictError(
      `privacy release "${asked.id}" is already recorded for dataset "${recorded.dataset}" to "${recorded.recipient}", not "${asked.dataset}" to "${asked.recipient}"`,
    );
  return {
    release: toRecord(recorded),
    existing: true,
    totals: await totalsOf(q, recorded.dataset, recorded.recipient),
  };
}

async function totalsOf(
  q: QueryCreator<MetadataDatabase>,
  dataset: string,
  recipient: string,
): Promise<PrivacyTotals> {
  const sums = await q
    .selectFrom('kiban_privacy_releases')
    .select((eb) => [
      eb.fn.sum<number | string | null>('epsilon').as('epsilon'),
      eb.fn.sum<number | string | null>('rho').as('rho'),
      eb.fn.sum<number | string | null>(sql`epsilon * epsilon`).as('epsilon_squared'),
      eb.fn.sum<number | string | null>('delta').as('delta'),
      eb.fn.countAll<number | string>().as('releases'),
    ])
    .where('dataset', '=', dataset)
    .where('recipient', '=', recipient)
    .executeTakeFirstOrThrow();
  const rho = Number(sums.rho ?? 0);
  return {
    epsilon: Number(sums.epsilon ?? 0),
    rho,
    rhoEquivalent: rho + Number(sums.epsilon_squared ?? 0) / 2,
    delta: Number(sums.delta ?? 0),
    releases: Number(sums.releases),
  };
}

/** `totals` with one more release. */
function plus(
  totals: PrivacyTotals,
  row: { epsilon: number | null; rho: number | null; delta: number | null },
): PrivacyTotals {
  const epsilon = row.epsilon ?? 0;
  const rho = row.rho ?? 0;
  return {
    epsilon: totals.epsilon + epsilon,
    rho: totals.rho + rho,
    rhoEquivalent: totals.rhoEquivalent + rho + (epsilon * epsilon) / 2,
    delta: totals.delta + (row.delta ?? 0),
    releases: totals.releases + 1,
  };
}

/**
 * Throws {@link PrivacyBudgetExceededError} when `row` would take `spent` past `budget`. Each unit
 * is checked only when the release spends in it: one that spends nothing (k-anonymity) cannot
 * overspend, even where earlier releases did or the budget was lowered since.
 */
function checkWithin(
  budget: PrivacyBudget,
  spent: PrivacyTotals,
  row: {
    id: string;
    dataset: string;
    recipient: string;
    epsilon: number | null;
    rho: number | null;
    delta: number | null;
  },
): void {
  const epsilon = row.epsilon ?? 0;
  const check = (unit: Unit, already: number, requested: number, allowed: number) => {
    if (already + requested > allowed * (1 + BUDGET_TOLERANCE))
      throw new PrivacyBudgetExceededError({
        dataset: row.dataset,
        recipient: row.recipient,
        unit,
        spent: already,
        requested,
        allowed,
      });
  };
  const rho = row.rho ?? 0;
  const delta = row.delta ?? 0;
  if (budget.rho !== undefined) {
    const requested = rho + (epsilon * epsilon) / 2;
    if (requested > 0) check('rho', spent.rhoEquivalent, requested, budget.rho);
  } else if (budget.epsilon !== undefined) {
    if (epsilon > 0 && spent.rho > 0)
      throw new InvalidArgumentError(
        'budget',
        `gives only epsilon, but dataset "${row.dataset}" to "${row.recipient}" already has zCDP releases (rho ${spent.rho}) that pure ε cannot account for; give the budget in rho`,
      );
    if (epsilon > 0) check('epsilon', spent.epsilon, epsilon, budget.epsilon);
  } else if (rho > 0) {
    // No ε or ρ cap at all: nothing may be spent.
    check('rho', spent.rhoEquivalent, rho, 0);
  } else if (epsilon > 0) {
    check('epsilon', spent.epsilon, epsilon, 0);
  }
  if (delta > 0) check('delta', spent.delta, delta, budget.delta ?? 0);
}

function checkBudget(budget: unknown): PrivacyBudget {
  if (!isPlainObject(budget))
    throw new InvalidArgumentError('budget', `must be an object, got ${describe(budget)}`);
  const checked = {
    epsilon: amount('budget.epsilon', budget.epsilon),
    rho: amount('budget.rho', budget.rho),
    delta: amount('budget.delta', budget.delta),
  };
  return checked;
}

/** An optional spend or budget figure: undefined, or a finite number ≥ 0. */
function amount(field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError(field, `must be a finite number ≥ 0, got ${describe(value)}`);
  return value;
}

function toRow(release: ReleaseRequest) {
  if (!isPlainObject(release))
    throw new InvalidArgumentError('release', `must be an object, got ${describe(release)}`);
  const spend: unknown = release.spend;
  if (!isPlainObject(spend))
    throw new InvalidArgumentError('spend', `must be an object, got ${describe(spend)}`);
  const epsilon = amount('spend.epsilon', spend.epsilon);
  const rho = amount('spend.rho', spend.rho);
  const delta = amount('spend.delta', spend.delta);
  // A release is pure or zCDP; both would leave its ρ-equivalent undefined.
  if ((epsilon ?? 0) > 0 && (rho ?? 0) > 0)
    throw new InvalidArgumentError('spend', 'must give epsilon (pure) or rho (zCDP), not both');
  return {
    id: requireText('id', release.id),
    dataset: requireText('dataset', release.dataset),
    recipient: requireText('recipient', release.recipient),
    policy: requireText('policy', release.policy),
    mechanism: requireText('mechanism', release.mechanism),
    epsilon: epsilon ?? null,
    rho: rho ?? null,
    delta: delta ?? null,
    params: toJsonText('params', release.params),
    actor: requireText('actor', release.actor),
    status: 'reserved',
    output: null,
    created_at_ms: Date.now(),
    published_at_ms: null,
  };
}

function toRecord(row: Row | ReturnType<typeof toRow>): ReleaseRecord {
  const spend: PrivacySpend = {};
  if (row.epsilon !== null) spend.epsilon = Number(row.epsilon);
  if (row.rho !== null) spend.rho = Number(row.rho);
  if (row.delta !== null) spend.delta = Number(row.delta);
  return {
    id: row.id,
    dataset: row.dataset,
    recipient: row.recipient,
    policy: row.policy,
    mechanism: row.mechanism,
    spend,
    params: JSON.parse(row.params) as Record<string, unknown>,
    actor: row.actor,
    status: row.status === 'published' ? 'published' : 'reserved',
    output: row.output,
    createdAt: new Date(Number(row.created_at_ms)),
    publishedAt: row.published_at_ms === null ? null : new Date(Number(row.published_at_ms)),
  };
}
