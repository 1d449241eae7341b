import type { ApiKeyStore } from '../auth/api-keys.js';
import type { AuditStore } from '../auth/audit-store.js';
import type { ExperimentStore } from '../experiments/experiment-store.js';
import type { VectorUpdateStore } from '../vectors/vector-update-store.js';
import type { InteractionStore } from './interaction-store.js';
import type { WorkflowStore } from '../workflow/workflow-store.js';
import type { FeatureRegistry } from '../features/feature-registry.js';
import type { PrivacyLedger } from '../privacy/privacy-ledger.js';

/** A trained model as recorded in the metadata store. */
export interface ModelRecord {
  /** Unique id, e.g. `als-20261125T120000Z-ab12`. */
  id: string;
  kind: string;
  params: Record<string, unknown>;
  /** What the model was trained on: source path, rows, users, items, a checksum… */
  dataSnapshot: Record<string, unknown>;
  /** Offline metrics, e.g. `{ "ndcg@10": 0.35 }`. */
  metrics: Record<string, number>;
  /** Where the saved model lives (directory or object-store URL). */
  artifactPath: string;
  createdAt: Date;
}

/**
 * Typed repositories over a SQL database (Kysely): SQLite by default, PostgreSQL in production,
 * chosen by URL in `app/`. Every method is safe to call concurrently; timestamps round-trip to
 * the millisecond.
 */
export interface MetadataStore {
  /**
   * Creates or upgrades the schema; idempotent. Resolves to the names of the migrations this call
   * applied, in order (empty when the schema was already up to date).
   */
  migrate(): Promise<readonly string[]>;

  insertModel(model: ModelRecord): Promise<void>;
  getModel(id: string): Promise<ModelRecord | null>;
  /** Newest first. @defaultValue limit 50 */
  listModels(options?: { limit?: number; kind?: string }): Promise<ModelRecord[]>;

  /**
   * Workflow runs, task states, attempts and logs, kept in the same database (created by
   * `migrate()`) and closed with this store.
   */
  readonly workflows: WorkflowStore;

  /** A/B experiments and their events, in the same database (created by `migrate()`). */
  readonly experiments: ExperimentStore;

  /** The audit log of writes to the HTTP API, in the same database (created by `migrate()`). */
  readonly audit: AuditStore;

  /** API keys (their HMACs, never secrets), in the same database (created by `migrate()`). */
  readonly apiKeys: ApiKeyStore;

  /**
   * Incremental vector index changes (`PUT`/`DELETE /v1/vectors/{index}/items/{id}`), in the same
   * database (created by `migrate()`).
   */
  readonly vectorUpdates: VectorUpdateStore;

  /**
   * User–item interactions written through the API (`POST /v1/interactions`), in the same
   * database (created by `migrate()`).
   */
  readonly interactions: InteractionStore;

  /**
   * The feature registry: every applied version of the feature repository's definitions
   * (`kiban features plan|apply`), in the same database (created by `migrate()`).
   */
  readonly featureRegistry: FeatureRegistry;

  /**
   * The privacy-budget ledger: every differentially private release of a dataset to a recipient
   * and what it spent, each checked against the budget atomically as it is reserved, in the same
   * database (created by `migrate()`).
   */
  readonly privacyLedger: PrivacyLedger;

  close(): Promise<void>;
}
