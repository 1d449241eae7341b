import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomically } from '../../core/atomic-dir.js';
import { DataError, NotFoundError } from '../../core/errors.js';
import type { PipelineStepKind } from './pipeline-step.js';

/**
 * The files steps hand to each other in a run's work directory, with the step that writes each.
 * One table, so that a missing input names the step to run first.
 */
export const WORK_FILES = {
  interactions: { name: 'interactions.parquet', writtenBy: 'aggregate' },
  apiInteractions: { name: 'api-interactions.ndjson', writtenBy: 'aggregate' },
  evaluation: { name: 'evaluation.json', writtenBy: 'evaluate' },
  model: { name: 'model.json', writtenBy: 'train' },
  candidates: { name: 'candidates', writtenBy: 'candidates' },
} as const satisfies Record<string, { name: string; writtenBy: PipelineStepKind }>;
export type WorkFile = keyof typeof WORK_FILES;

/** Columns of the aggregated interactions (see aggregateEvents). */
export const INTERACTION_COLUMNS = Object.freeze({
  user: 'user',
  item: 'item',
  value: 'value',
  timestamp: 'timestamp',
});

/**
 * What `model.json` holds: the model train produced, for candidates and publish. A model saved
 * to an artifact store URL also carries the store (`artifacts`) and its key prefix
 * (`artifactKey`, `models/<modelId>`, also in `artifactPath`), so a step on another host loads
 * it; one saved under a plain directory has only the local `artifactPath`.
 */
export interface ModelRef {
  modelId: string;
  artifactPath: string;
  kind: string;
  /** The artifact store URL the model was saved to (never carries credentials). */
  artifacts?: string;
  /** The key prefix of the model's files in {@link ModelRef.artifacts}. */
  artifactKey?: string;
  /**
   * The highest `seq` of the API interactions (`metadata.interactions`) in the interactions the
   * model was trained on (see aggregateEvents); absent or 0: none. Publish records it as the
   * version's `embedding.interactionsThrough`.
   */
  interactionsThrough?: number;
}

/** Path of `file` in `workDir`. */
export function workPath(workDir: string, file: WorkFile): string {
  return join(workDir, WORK_FILES[file].name);
}

/** Path of an input that must exist; otherwise a NotFoundError naming the file and the step that writes it. */
export async function requireInput(workDir: string, file: WorkFile): Promise<string> {
  const path = workPath(workDir, file);
  if ((await stat(path).catch(() => null)) === null) {
    throw new NotFoundError(
      `${path} (written by the ${WORK_FILES[file].writtenBy} step, which must run first)`,
    );
  }
  return path;
}

/** Parses a JSON input that must exist (see {@link requireInput}). */
export async function readJsonInput<T>(workDir: string, file: WorkFile): Promise<T> {
  const path = await requireInput(workDir, file);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (cause) {
    throw new DataError({ file: path }, `not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** `model.json`, checked enough that a hand-edited or truncated one fails here and not deep in a step. */
export async function readModelRef(workDir: string): Promise<ModelRef> {
  const ref = await readJsonInput<Partial<ModelRef>>(workDir, 'model');
  if (
    typeof ref.modelId !== 'string' ||
    typeof ref.artifactPath !== 'string' ||
    typeof ref.kind !== 'string'
  ) {
    throw new DataError(
      { file: workPath(workDir, 'model') },
      'needs string fields modelId, artifactPath and kind',
    );
  }
  const through =
    ref.interactionsThrough === undefined ? {} : { interactionsThrough: ref.interactionsThrough };
  if (
    through.interactionsThrough !== undefined &&
    !(Number.isSafeInteger(through.interactionsThrough) && through.interactionsThrough >= 0)
  )
    throw new DataError(
      { file: workPath(workDir, 'model') },
      'interactionsThrough must be an integer ≥ 0',
    );
  if (typeof ref.artifacts === 'string' && typeof ref.artifactKey === 'string') {
    return {
      modelId: ref.modelId,
      artifactPath: ref.artifactPath,
      kind: ref.kind,
      artifacts: ref.artifacts,
      artifactKey: ref.artifactKey,
      ...through,
    };
  }
  return { modelId: ref.modelId, artifactPath: ref.artifactPath, kind: ref.kind, ...through };
}

/** Writes JSON to a temporary sibling and renames it over `path`: readers see the old file or the new one, never half. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomically(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** A compact UTC timestamp for ids, e.g. `20261125T120000Z`. */
export function idStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** A short random suffix that keeps ids made in the same second apart. */
export function idSuffix(): string {
  return randomBytes(3).toString('hex');
}
