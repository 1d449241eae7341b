/**
 * The privacy-budget ledger: every differentially private release of a dataset to a recipient,
 * with what it spent, so that releases compose and one that would overspend is refused.
 */
import { ConflictError } from '../core/errors.js';

/**
 * What one release spends. Pure ε-DP releases give `epsilon`; zCDP releases give `rho`; a release
 * whose group keys were chosen by a noisy threshold adds `delta` (approximate DP). Absent means 0.
 */
export interface PrivacySpend {
  epsilon?: number;
  rho?: number;
  delta?: number;
}

/**
 * The cap on everything released of one dataset to one recipient. With `rho`, pure releases count
 * as ε²/2 (ε-DP implies ε²/2-zCDP) and zCDP releases as their ρ; with only `epsilon`, releases must
 * be pure and their ε add up; `delta` caps the sum of the releases' δ (0 when absent).
 */
export interface PrivacyBudget {
  epsilon?: number;
  rho?: number;
  delta?: number;
}

/** Totals over a dataset × recipient's releases (reserved or published; see {@link PrivacyLedger}). */
export interface PrivacyTotals {
  /** Sum of the pure releases' ε. */
  epsilon: number;
  /** Sum of the zCDP releases' ρ (not including pure releases). */
  rho: number;
  /** Sum of ρ over every release, pure ones counted as ε²/2: what a ρ budget is checked against. */
  rhoEquivalent: number;
  /** Sum of δ. */
  delta: number;
  /** Number of releases counted. */
  releases: number;
}

/** A release as the ledger records it. */
export interface ReleaseRecord {
  /** Caller-chosen, unique across the ledger (e.g. a run id); reusing it is how a retry is recognised. */
  id: string;
  dataset: string;
  recipient: string;
  /** The export policy's name. */
  policy: string;
  /** e.g. `discrete-gaussian`, `discrete-laplace`, `k-anonymity` (which spends nothing). */
  mechanism: string;
  spend: PrivacySpend;
  /** The release's parameters as written in its sidecar (bounds, threshold, k…): JSON. */
  params: Record<string, unknown>;
  /** Who ran it (an OS user, a principal id, a workflow run), for the audit trail. */
  actor: string;
  /** `reserved` until the output is stored, then `published` with `output` set. */
  status: 'reserved' | 'published';
  /** Where the output was stored (artifact keys), once published. */
  output: string | null;
  createdAt: Date;
  publishedAt: Date | null;
}

/** What {@link PrivacyLedger.reserve} records. */
export type ReleaseRequest = Pick<
  ReleaseRecord,
  'id' | 'dataset' | 'recipient' | 'policy' | 'mechanism' | 'spend' | 'params' | 'actor'
>;

/** What {@link PrivacyLedger.reserve} returns. */
export interface Reservation {
  release: ReleaseRecord;
  /** True when a release with this id was already recorded (a retry): nothing more was spent. */
  existing: boolean;
  /** Totals after the reservation, this release included. */
  totals: PrivacyTotals;
}

/**
 * The ledger, kept in the metadata store (`kiban_privacy_releases`). Reserved releases count as
 * spent even when their output is never stored: noise was (or may have been) drawn, and a crash
 * must never let the same budget be spent twice.
 */
export interface PrivacyLedger {
  /**
   * Records `release` if the dataset × recipient's totals plus its spend stay within `budget`,
   * atomically with the check (two concurrent reservations cannot both pass on one remaining
   * share). A release whose id is already recorded is returned as it is (`existing: true`) and
   * spends nothing more; its dataset and recipient must match, or `ConflictError`.
   * @throws PrivacyBudgetExceededError with the spent, requested and allowed figures.
   * @throws InvalidArgumentError naming the field for a negative or non-finite spend or budget,
   *   or a zCDP spend against a budget with only `epsilon`.
   */
  reserve(release: ReleaseRequest, budget: PrivacyBudget): Promise<Reservation>;
  /** Marks a reserved release published with where its output went. Idempotent. @throws NotFoundError */
  markPublished(id: string, output: string): Promise<ReleaseRecord>;
  /** The release with this id, or null. */
  get(id: string): Promise<ReleaseRecord | null>;
  /** Totals of a dataset × recipient's releases (zeros when there are none). */
  totals(dataset: string, recipient: string): Promise<PrivacyTotals>;
  /** Releases newest first, optionally of one dataset and/or recipient. @defaultValue limit 100 */
  list(options?: {
    dataset?: string;
    recipient?: string;
    limit?: number;
  }): Promise<ReleaseRecord[]>;
}

/**
 * A release would take a dataset × recipient past its budget. The message gives what was spent,
 * what the release asks for and what the budget allows, in the budget's unit.
 */
export class PrivacyBudgetExceededError extends ConflictError {
  readonly dataset: string;
  readonly recipient: string;
  /** The unit checked: `rho`, `epsilon` or `delta`. */
  readonly unit: 'rho' | 'epsilon' | 'delta';
  readonly spent: number;
  readonly requested: number;
  readonly allowed: number;

  constructor(details: {
    dataset: string;
    recipient: string;
    unit: 'rho' | 'epsilon' | 'delta';
    spent: number;
    requested: number;
    allowed: number;
  }) {
    const { dataset, recipient, unit, spent, requested, allowed } = details;
    super(
      `privacy budget exceeded for dataset "${dataset}" to "${recipient}": ${unit} spent ${fmt(spent)} + this release ${fmt(requested)} = ${fmt(spent + requested)} > budget ${fmt(allowed)} (${fmt(Math.max(0, allowed - spent))} left)`,
    );
    this.dataset = dataset;
    this.recipient = recipient;
    this.unit = unit;
    this.spent = spent;
    this.requested = requested;
    this.allowed = allowed;
  }
}

function fmt(x: number): string {
  return Number.parseFloat(x.toPrecision(6)).toString();
}
