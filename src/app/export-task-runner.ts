import { resolve } from 'node:path';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { loadKibanConfig } from './config.js';
import { exportParamsSchema } from './export-task-params.js';
import { runExportFile } from './export-runner.js';

/**
 * Runs a workflow task of `kind: export`: releases the export `params.policy` describes (see
 * `kiban export run`), with the stores of `params.config` (else the defaults), the engine's or
 * worker's metadata store (the ledger) and artifact store taking precedence:
 *
 * ```yaml
 * weekly-counts:
 *   kind: export
 *   params: { policy: exports/item-day-counts.yaml }
 * ```
 *
 * Paths resolve against the workflow's directory. The release id is
 * `<policy>-<run id>-<task>` unless `params.releaseId` is given, so a retried attempt spends no
 * more budget and never stores a second noisy draw. The output holds the artifact keys and totals.
 */
export async function runExportTask(
  job: TaskJob,
  ctx: TaskContext,
  stores: { metadataUrl?: string; artifactsUrl?: string } = {},
): Promise<Record<string, unknown>> {
  const p = exportParamsSchema.parse(job.params);
  const loaded = await loadKibanConfig(
    p.config === undefined ? {} : { file: resolve(job.baseDir, p.config) },
  );
  const config = {
    ...loaded,
    stores: {
      ...loaded.stores,
      ...(stores.metadataUrl === undefined ? {} : { metadata: stores.metadataUrl }),
      ...(stores.artifactsUrl === undefined ? {} : { artifacts: stores.artifactsUrl }),
    },
  };
  const policyFile = resolve(job.baseDir, p.policy);
  const done = await runExportFile(policyFile, {
    config,
    baseDir: job.baseDir,
    actor: `workflow ${job.workflow} run ${job.runId}`,
    releaseId:
      p.releaseId ??
      `${job.workflow}-${job.runId}-${job.task}`.replace(/[^A-Za-z0-9._=-]/g, '-').slice(0, 128),
    signal: ctx.signal,
    log: (line) => ctx.log(line),
  });
  return {
    release: done.release.id,
    dataKey: done.dataKey,
    sidecarKey: done.sidecarKey,
    rows: done.rows,
    existing: done.existing,
    spent: done.totals,
  };
}
