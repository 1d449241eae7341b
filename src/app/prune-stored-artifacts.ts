import {
  type ArtifactRetention,
  type PruneResult,
  pruneArtifacts,
  RETAINED_FOLDERS,
  type RetentionCounts,
} from '../storage/artifacts/prune-artifacts.js';
import type { ServingStore } from '../storage/serving-store.js';
import { readTaggerPointer } from '../storage/tagger-pointer.js';
import { pruneVectorIndexes, type VectorPruneResult } from '../vectors/prune-vector-indexes.js';
import type { WorkflowStore } from '../workflow/workflow-store.js';
import { openBackends } from './backends.js';
import { type KibanConfig, storeFields } from './config.js';

/** The most runs in progress {@link artifactReferences} asks the workflow store for. */
const MAX_RUNNING_RUNS = 100_000;

/**
 * The artifact keys and folders that something still uses, for {@link pruneArtifacts}'s
 * `referenced`: the model (`models/<modelId>`) and run (`runs/<runId>`) of every version the
 * serving store holds (the current one and those a rollback may return to), the published tagger (its `artifactKey` and `models/<modelId>`), and every
 * workflow run still running (`runs/<runId>`: its work files are read by its next tasks).
 * Sorted, without duplicates.
 *
 * @example
 * const referenced = await artifactReferences({ serving, workflows: metadata.workflows });
 */
export async function artifactReferences(stores: {
  serving: Pick<ServingStore, 'get' | 'listVersions'>;
  workflows: Pick<WorkflowStore, 'listRuns'>;
}): Promise<string[]> {
  const referenced = new Set<string>();
  const add = (folder: string, id: unknown): void => {
    if (typeof id === 'string' && id !== '') referenced.add(`${folder}/${id}`);
  };
  // Every version the store holds may be rolled back to (issue 22), so each keeps its model.
  for (const held of await stores.serving.listVersions()) {
    add(RETAINED_FOLDERS.models, held.meta.modelId);
    add(RETAINED_FOLDERS.runs, held.meta.runId);
  }
  const tagger = await readTaggerPointer(stores.serving);
  if (tagger !== null) {
    add(RETAINED_FOLDERS.models, tagger.modelId);
    if (tagger.artifactKey !== undefined) referenced.add(tagger.artifactKey);
  }
  for (const run of await stores.workflows.listRuns({
    status: 'running',
    limit: MAX_RUNNING_RUNS,
  }))
    add(RETAINED_FOLDERS.runs, run.id);
  return [...referenced].sort();
}

/** What {@link pruneStoredArtifacts} did. */
export interface StoredArtifactsPrune extends PruneResult {
  /** The references that kept groups whatever their age ({@link artifactReferences}). */
  referenced: string[];
  /** What went from `vectors/` ({@link pruneVectorIndexes}). */
  vectors: VectorPruneResult;
}

/**
 * `kiban artifacts prune`: opens the configuration's serving, metadata and artifact stores,
 * gathers what is referenced ({@link artifactReferences}) and deletes, from `runs/` and
 * `models/` of the artifact store, the groups neither referenced nor among the `keep` newest
 * (see {@link pruneArtifacts}; defaults `{runs: 30, models: 10}`). From `vectors/` it deletes
 * the index versions other than the current one and the `keepVectorVersions` newest (default 2),
 * and partial versions over an hour old ({@link pruneVectorIndexes}). Incremental vector changes
 * are left to the builds that fold them, which know which ones their input made moot. With
 * `dryRun`, deletes nothing and reports what would go.
 *
 * @throws InvalidArgumentError naming `keep.runs` or `keep.models` for a count that is not a
 *   non-negative integer, or the store key of a URL that cannot be opened.
 * @example
 * const { deleted } = await pruneStoredArtifacts(await loadKibanConfig({ file: 'kiban.yaml' }), { keep: { runs: 5 } });
 */
export async function pruneStoredArtifacts(
  config: KibanConfig,
  options: {
    keep?: RetentionCounts;
    keepVectorVersions?: number;
    dryRun?: boolean;
    signal?: AbortSignal;
  } = {},
): Promise<StoredArtifactsPrune> {
  const backends = await openBackends(config.stores, {
    seams: ['serving', 'metadata', 'artifacts'],
    fields: storeFields(config),
  });
  try {
    const referenced = await artifactReferences(backends);
    const retention: ArtifactRetention = {
      referenced,
      ...(options.keep === undefined ? {} : { keep: options.keep }),
      ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    const pruned = await pruneArtifacts(backends.artifacts, retention);
    const vectors = await pruneVectorIndexes(backends.artifacts, {
      ...(options.keepVectorVersions === undefined ? {} : { keep: options.keepVectorVersions }),
      ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return { ...pruned, referenced, vectors };
  } finally {
    await backends.close();
  }
}
