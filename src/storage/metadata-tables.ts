import type { ColumnType, Selectable } from 'kysely';
import type { ModelRecord } from './metadata-store.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import type { LogLine, TaskAttempt, TaskRun, WorkflowRun } from '../workflow/workflow-store.js';

/**
 * An epoch-millisecond timestamp column (SQL `bigint`). Written as a number; read back as a
 * number from SQLite and as a decimal string from PostgreSQL (node-postgres returns `int8` as
 * text so that values beyond 2^53 are not silently rounded), hence the union on the select side.
 */
export type EpochMsColumn = ColumnType<number | string, number, number>;

/** Same as {@link EpochMsColumn}, for columns that stay null until something finishes. */
export type NullableEpochMsColumn = ColumnType<
  number | string | null,
  number | null | undefined,
  number | null
>;

/**
 * JSON kept as SQL `text` rather than `json`/`jsonb`: the same column type on every dialect, and
 * the text round-trips byte for byte (jsonb would reorder keys and drop duplicate ones).
 */
export type JsonTextColumn = string;

/** Row of `kiban_models`: one trained model. */
export interface ModelsTable {
  id: string;
  kind: string;
  params: JsonTextColumn;
  data_snapshot: JsonTextColumn;
  metrics: JsonTextColumn;
  artifact_path: string;
  created_at_ms: EpochMsColumn;
}

/** A nullable text column that may be left out of an insert. */
type NullableTextColumn = ColumnType<string | null, string | null | undefined, string | null>;

/** Row of `kiban_wf_runs`: one run of a workflow. */
export interface WorkflowRunsTable {
  id: string;
  workflow: string;
  logical_date: string;
  trigger: string;
  status: string;
  params: JsonTextColumn;
  /** The workflow definition the run started with, as JSON. */
  definition: JsonTextColumn;
  schedule_key: NullableTextColumn;
  created_at_ms: EpochMsColumn;
  finished_at_ms: NullableEpochMsColumn;
  error: NullableTextColumn;
  owner: NullableTextColumn;
  heartbeat_at_ms: NullableEpochMsColumn;
}

/** Row of `kiban_wf_tasks`: one task of a run, keyed by (run, task name). */
export interface WorkflowTasksTable {
  run_id: string;
  task: string;
  /** Position in the run's definition. */
  seq: number;
  status: string;
  attempt: number;
  failures: number;
  started_at_ms: NullableEpochMsColumn;
  finished_at_ms: NullableEpochMsColumn;
  next_attempt_at_ms: NullableEpochMsColumn;
  error: NullableTextColumn;
  output: JsonTextColumn;
}

/** Row of `kiban_wf_attempts`: one attempt at a task, keyed by (run, task, attempt). */
export interface WorkflowAttemptsTable {
  run_id: string;
  task: string;
  attempt: number;
  status: string;
  started_at_ms: EpochMsColumn;
  finished_at_ms: NullableEpochMsColumn;
  error: NullableTextColumn;
  worker: NullableTextColumn;
}

/** Row of `kiban_wf_logs`: one line a task wrote. */
export interface WorkflowLogsTable {
  /** Assigned by the database (SQLite `autoincrement`, PostgreSQL identity `bigint`); never written. */
  seq: ColumnType<number | string, never, never>;
  run_id: string;
  task: string;
  attempt: number;
  at_ms: EpochMsColumn;
  stream: string;
  line: string;
}

/**
 * The tables of the metadata store as Kysely sees them (the `DB` type parameter of
 * `Kysely<MetadataDatabase>`). The schema itself is defined by the migrations in
 * `metadata-migrations.ts`; keep the two in step.
 */
/** Row of `kiban_ab_experiments`: one A/B experiment (its definition as JSON text). */
export interface ExperimentsTable {
  name: string;
  definition: JsonTextColumn;
  status: string;
  layer: string;
  range_start: number;
  range_end: number;
  start_at_ms: NullableEpochMsColumn;
  stop_at_ms: NullableEpochMsColumn;
  version: number;
  created_at_ms: EpochMsColumn;
  updated_at_ms: EpochMsColumn;
}

/** Row of `kiban_ab_events`: one exposure, conversion or value event, keyed by its sender's id. */
export interface ExperimentEventsTable {
  event_id: string;
  experiment: string;
  type: string;
  unit: string;
  variant: NullableTextColumn;
  metric: NullableTextColumn;
  value: ColumnType<number | null, number | null | undefined, number | null>;
  time_ms: EpochMsColumn;
  received_at_ms: EpochMsColumn;
}

/** Row of `kiban_api_keys`: one API key (an HMAC of its secret, never the secret). */
export interface ApiKeysTable {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  /** JSON array of scope names. */
  scopes: JsonTextColumn;
  created_by: string;
  created_at_ms: EpochMsColumn;
  expires_at_ms: NullableEpochMsColumn;
  last_used_at_ms: NullableEpochMsColumn;
  revoked_at_ms: NullableEpochMsColumn;
}

/** Row of `kiban_audit_log`: one write to the HTTP API (see `auth/audit-store.ts`). */
export interface AuditLogTable {
  /** Assigned by the database (SQLite `autoincrement`, PostgreSQL identity `bigint`); never written. */
  seq: ColumnType<number | string, never, never>;
  at_ms: EpochMsColumn;
  principal_id: NullableTextColumn;
  principal_name: NullableTextColumn;
  method: string;
  action: string;
  /** The route's path parameters as a JSON object of strings. */
  target: JsonTextColumn;
  status: number;
  ip: string;
  request_id: string;
}

/** Row of `kiban_vector_updates`: the last change to one item of a vector index (see `vectors/vector-update-store.ts`). */
export interface VectorUpdatesTable {
  index_name: string;
  item_id: string;
  /** The vector's length; null for a deletion. */
  dim: number | null;
  /** Base64 of the vector's little-endian float32 bytes; null for a deletion. */
  vector: string | null;
  at_ms: EpochMsColumn;
  /** Commit order of the change (migration 0009); a build records the highest it folded. */
  seq: ColumnType<number | string, number | undefined, number>;
  /** JSON object of the item's attributes (strings), or null: leave them as they were. */
  attributes: string | null;
}

/** Row of `kiban_interactions`: one user–item event written through the API (see `storage/interaction-store.ts`). */
export interface InteractionsTable {
  /** Assigned by the database (SQLite `autoincrement`, PostgreSQL identity `bigint`); never written. */
  seq: ColumnType<number | string, never, never>;
  /** The service the event belongs to (migration `0012_interaction_services`; `default` before it, and when not given). */
  service: ColumnType<string, string | undefined, never>;
  event_id: string | null;
  user_id: string;
  item_id: string;
  at_ms: EpochMsColumn;
  weight: number;
}

/** Row of `kiban_feature_registry`: one applied version of a feature repository object (see `features/feature-registry.ts`). */
export interface FeatureRegistryTable {
  kind: string;
  name: string;
  version: ColumnType<number | string, number, never>;
  /** The definition as JSON; null records a removal. */
  definition: string | null;
  content_hash: string | null;
  applied_at_ms: EpochMsColumn;
  applied_by: string;
}

/** Row of `kiban_privacy_releases`: one differentially private release (see `privacy/privacy-ledger.ts`). */
export interface PrivacyReleasesTable {
  id: string;
  dataset: string;
  recipient: string;
  policy: string;
  mechanism: string;
  /** ε of a pure release; null when it spends none. */
  epsilon: number | null;
  /** ρ of a zCDP release; null when it spends none. */
  rho: number | null;
  /** δ of an approximate release; null when it spends none. */
  delta: number | null;
  /** The release's parameters as a JSON object. */
  params: JsonTextColumn;
  actor: string;
  /** `reserved` or `published`. */
  status: string;
  /** Where the output was stored; null until published. */
  output: NullableTextColumn;
  created_at_ms: EpochMsColumn;
  published_at_ms: NullableEpochMsColumn;
}

export interface MetadataDatabase {
  kiban_models: ModelsTable;
  kiban_wf_runs: WorkflowRunsTable;
  kiban_wf_tasks: WorkflowTasksTable;
  kiban_wf_attempts: WorkflowAttemptsTable;
  kiban_wf_logs: WorkflowLogsTable;
  kiban_ab_experiments: ExperimentsTable;
  kiban_ab_events: ExperimentEventsTable;
  kiban_audit_log: AuditLogTable;
  kiban_api_keys: ApiKeysTable;
  kiban_vector_updates: VectorUpdatesTable;
  kiban_interactions: InteractionsTable;
  kiban_feature_registry: FeatureRegistryTable;
  kiban_privacy_releases: PrivacyReleasesTable;
}

/** Maps a `kiban_models` row to its record. */
export function toModel(row: Selectable<ModelsTable>): ModelRecord {
  return {
    id: row.id,
    kind: row.kind,
    params: JSON.parse(row.params) as Record<string, unknown>,
    dataSnapshot: JSON.parse(row.data_snapshot) as Record<string, unknown>,
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    artifactPath: row.artifact_path,
    createdAt: toDate(row.created_at_ms),
  };
}

/** Maps a `kiban_wf_runs` row to its record. */
export function toWorkflowRun(row: Selectable<WorkflowRunsTable>): WorkflowRun {
  return {
    id: row.id,
    workflow: row.workflow,
    logicalDate: row.logical_date,
    trigger: row.trigger as WorkflowRun['trigger'],
    status: row.status as WorkflowRun['status'],
    params: JSON.parse(row.params) as WorkflowRun['params'],
    definition: JSON.parse(row.definition) as WorkflowDefinition,
    scheduleKey: row.schedule_key,
    createdAt: toDate(row.created_at_ms),
    finishedAt: toNullableDate(row.finished_at_ms),
    error: row.error,
    owner: row.owner,
    heartbeatAt: toNullableDate(row.heartbeat_at_ms),
  };
}

/** Maps a `kiban_wf_tasks` row to its record. */
export function toTaskRun(row: Selectable<WorkflowTasksTable>): TaskRun {
  return {
    runId: row.run_id,
    task: row.task,
    status: row.status as TaskRun['status'],
    attempt: Number(row.attempt),
    failures: Number(row.failures),
    startedAt: toNullableDate(row.started_at_ms),
    finishedAt: toNullableDate(row.finished_at_ms),
    nextAttemptAt: toNullableDate(row.next_attempt_at_ms),
    error: row.error,
    output: JSON.parse(row.output) as Record<string, unknown>,
  };
}

/** Maps a `kiban_wf_attempts` row to its record. */
export function toTaskAttempt(row: Selectable<WorkflowAttemptsTable>): TaskAttempt {
  return {
    runId: row.run_id,
    task: row.task,
    attempt: Number(row.attempt),
    status: row.status as TaskAttempt['status'],
    startedAt: toDate(row.started_at_ms),
    finishedAt: toNullableDate(row.finished_at_ms),
    error: row.error,
    worker: row.worker,
  };
}

/** Maps a `kiban_wf_logs` row to its record. */
export function toLogLine(row: Selectable<WorkflowLogsTable>): LogLine {
  return {
    seq: Number(row.seq),
    runId: row.run_id,
    task: row.task,
    attempt: Number(row.attempt),
    at: toDate(row.at_ms),
    stream: row.stream as LogLine['stream'],
    line: row.line,
  };
}

function toNullableDate(ms: number | string | null): Date | null {
  return ms === null ? null : toDate(ms);
}

/** PostgreSQL returns `bigint` as a decimal string, SQLite as a number; both are epoch ms. */
function toDate(ms: number | string): Date {
  return new Date(Number(ms));
}
