import type { ColumnType, Selectable } from 'kysely';
import type { ModelRecord, RunRecord, StepRecord } from './metadata-store.js';

/**
 * An epoch-millisecond timestamp column (SQL `bigint`). Written as a number; read back as a
 * number from SQLite and as a decimal string from PostgreSQL (node-postgres returns `int8` as
 * text so that values beyond 2^53 are not silently rounded), hence the union on the select side.
 */
export type EpochMsColumn = ColumnType<number | string, number, number>;

/** Same as {@link EpochMsColumn}, for columns that stay null until something finishes. */
export type NullableEpochMsColumn = ColumnType<number | string | null, number | null | undefined, number | null>;

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

/** Row of `kiban_runs`: one pipeline run. */
export interface RunsTable {
  id: string;
  pipeline: string;
  status: string;
  config: JsonTextColumn;
  started_at_ms: EpochMsColumn;
  finished_at_ms: NullableEpochMsColumn;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  model_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Row of `kiban_run_steps`: one step of a run, keyed by (run, step name). */
export interface RunStepsTable {
  run_id: string;
  name: string;
  /** Insertion order within the run; breaks ties between steps started in the same millisecond. */
  seq: ColumnType<number, number, number>;
  status: string;
  started_at_ms: EpochMsColumn;
  finished_at_ms: NullableEpochMsColumn;
  figures: JsonTextColumn;
  error: ColumnType<string | null, string | null | undefined, string | null>;
}

/**
 * The tables of the metadata store as Kysely sees them (the `DB` type parameter of
 * `Kysely<MetadataDatabase>`). The schema itself is defined by the migrations in
 * `metadata-migrations.ts`; keep the two in step.
 */
export interface MetadataDatabase {
  kiban_models: ModelsTable;
  kiban_runs: RunsTable;
  kiban_run_steps: RunStepsTable;
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

/** Maps a `kiban_runs` row and its steps (already in start order) to a record. */
export function toRun(row: Selectable<RunsTable>, steps: StepRecord[]): RunRecord {
  return {
    id: row.id,
    pipeline: row.pipeline,
    status: row.status as RunRecord['status'],
    config: JSON.parse(row.config) as Record<string, unknown>,
    startedAt: toDate(row.started_at_ms),
    finishedAt: row.finished_at_ms === null ? null : toDate(row.finished_at_ms),
    error: row.error,
    modelId: row.model_id,
    steps,
  };
}

/** Maps a `kiban_run_steps` row to its record. */
export function toStep(row: Selectable<RunStepsTable>): StepRecord {
  return {
    name: row.name,
    status: row.status as StepRecord['status'],
    startedAt: toDate(row.started_at_ms),
    finishedAt: row.finished_at_ms === null ? null : toDate(row.finished_at_ms),
    figures: JSON.parse(row.figures) as Record<string, number>,
    error: row.error,
  };
}

/** PostgreSQL returns `bigint` as a decimal string, SQLite as a number; both are epoch ms. */
function toDate(ms: number | string): Date {
  return new Date(Number(ms));
}
