import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { taskLogLogger } from '../workflow/task-log-logger.js';
import {
  runPipelineStep,
  stepConfig,
  WORK_FILES,
  type PipelineStepKind,
} from '../pipeline/steps/index.js';
import { downloadPrefix, uploadDirectory } from '../pipeline/steps/stored-files.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import type { ServingStore } from '../storage/serving-store.js';
import { openArtifactStore } from './open-artifact-store.js';
import { openMetadataStore, openServingStore } from './open-stores.js';

/**
 * Runs a workflow task of a pipeline step kind (aggregate, evaluate, train, candidates,
 * publish): builds the step's configuration from the task's params, opens the stores the
 * configuration names for the duration of the attempt, and runs the step on the run's work
 * directory. Stores are opened per attempt so a worker serves workflows with different stores.
 * Unless the task names its own (`params.stores.metadata`), models are recorded in the metadata
 * store at `metadataUrl` (the engine's or worker's, next to the runs that made them); without
 * `metadataUrl`, in the configuration's.
 *
 * With `runArtifactsUrl` (the process's artifact store URL), the run's work files travel through
 * that store under `runs/<runId>/`: what earlier tasks stored is downloaded into a temporary
 * work directory of this attempt (removed afterwards) before the step, and the step's outputs are uploaded after it, so consecutive tasks
 * of a run may run on different machines. Without it the work directory alone carries them.
 */
export async function runPipelineTask(
  kind: PipelineStepKind,
  job: TaskJob,
  ctx: TaskContext,
  metadataUrl: string | undefined,
  runArtifactsUrl?: string,
): Promise<Record<string, unknown>> {
  const stores = (job.params.stores ?? {}) as Record<string, unknown>;
  const params =
    metadataUrl !== undefined &&
    typeof stores === 'object' &&
    stores !== null &&
    stores.metadata === undefined
      ? { ...job.params, stores: { ...stores, metadata: metadataUrl } }
      : job.params;
  const config = await stepConfig(kind, params, job.baseDir);
  const runFiles =
    runArtifactsUrl === undefined ? undefined : await openArtifactStore(runArtifactsUrl);
  // With a store for the run's files, the step works in a private temporary copy: job.workDir is
  // a path on the engine's machine, which this one need not share.
  const workDir =
    runFiles === undefined ? job.workDir : await mkdtemp(join(tmpdir(), 'kiban-run-'));
  try {
    if (runFiles !== undefined)
      await downloadPrefix(runFiles, runPrefix(job.runId), workDir, { signal: ctx.signal });
    const metadata = await openMetadataStore(config.stores.metadata);
    let serving: ServingStore | undefined;
    let output: Record<string, unknown>;
    try {
      output = await runPipelineStep(kind, {
        config,
        runId: job.runId,
        workDir,
        serving: async () => (serving ??= await openServingStore(config.stores.serving)),
        metadata,
        logger: taskLogLogger((line) => ctx.log(line)),
        signal: ctx.signal,
        openArtifacts: (url) => openArtifactStore(url),
      });
    } finally {
      await serving?.close();
      await metadata.close();
    }
    if (runFiles !== undefined) await uploadOutputs(runFiles, kind, job.runId, workDir);
    return output;
  } finally {
    if (runFiles !== undefined) {
      await rm(workDir, { recursive: true, force: true });
      await runFiles.close();
    }
  }
}

/** The key prefix of a run's work files in the artifact store. */
export function runPrefix(runId: string): string {
  return `runs/${runId}`;
}

/** Uploads the work files `kind` writes (a file, or every file of a folder such as `candidates/`). */
async function uploadOutputs(
  store: ArtifactStore,
  kind: PipelineStepKind,
  runId: string,
  workDir: string,
): Promise<void> {
  for (const { name, writtenBy } of Object.values(WORK_FILES)) {
    if (writtenBy !== kind) continue;
    const path = join(workDir, name);
    const info = await stat(path).catch(() => null);
    if (info === null) continue;
    const key = `${runPrefix(runId)}/${name}`;
    if (info.isDirectory()) await uploadDirectory(store, path, key);
    else await store.put(key, createReadStream(path));
  }
}
