import type { ExperimentStore } from '../experiments/experiment-store.js';
import type { WorkflowStore } from '../workflow/workflow-store.js';

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

export type RunStatus = 'running' | 'succeeded' | 'failed';

/** One step of a pipeline run. */
export interface StepRecord {
  name: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  /** Row counts and other figures the step reports, e.g. `{ "rowsIn": 100836, "rowsOut": 99000 }`. */
  figures: Record<string, number>;
  error: string | null;
}

/** A pipeline run with its steps in start order. */
export interface RunRecord {
  id: string;
  pipeline: string;
  status: RunStatus;
  /** The configuration the run used (JSON). */
  config: Record<string, unknown>;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
  /** The model the run trained, once known. */
  modelId: string | null;
  steps: StepRecord[];
}

/**
 * Typed repositories over a SQL database (Kysely): SQLite by default, PostgreSQL in production,
 * chosen by URL in `app/`. Every method is safe to call concurrently; timestamps round-trip to
 * the millisecond.
 */
export interface MetadataStore {
  /** Creates or upgrades the schema; idempotent. */
  migrate(): Promise<void>;

  insertModel(model: ModelRecord): Promise<void>;
  getModel(id: string): Promise<ModelRecord | null>;
  /** Newest first. @defaultValue limit 50 */
  listModels(options?: { limit?: number; kind?: string }): Promise<ModelRecord[]>;

  /** Records a new run in status `running`. */
  startRun(run: {
    id: string;
    pipeline: string;
    config: Record<string, unknown>;
    startedAt: Date;
  }): Promise<void>;
  /** Records a step starting (status `running`). */
  startStep(runId: string, step: { name: string; startedAt: Date }): Promise<void>;
  /** Records a step ending, with its figures or error. */
  finishStep(
    runId: string,
    name: string,
    end: {
      status: 'succeeded' | 'failed';
      finishedAt: Date;
      figures?: Record<string, number>;
      error?: string;
    },
  ): Promise<void>;
  /** Records a run ending; `modelId` links the model it produced. */
  finishRun(
    runId: string,
    end: { status: 'succeeded' | 'failed'; finishedAt: Date; error?: string; modelId?: string },
  ): Promise<void>;
  getRun(id: string): Promise<RunRecord | null>;
  /** Newest first. @defaultValue limit 50 */
  listRuns(options?: { limit?: number; pipeline?: string }): Promise<RunRecord[]>;

  /**
   * Workflow runs, task states, attempts and logs, kept in the same database (created by
   * `migrate()`) and closed with this store.
   */
  readonly workflows: WorkflowStore;

  /** A/B experiments and their events, in the same database (created by `migrate()`). */
  readonly experiments: ExperimentStore;

  close(): Promise<void>;
}
