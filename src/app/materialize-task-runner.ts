import { resolve } from 'node:path';
import type { z } from 'zod';
import { parseInstant } from '../features/instant.js';
import { materializeRepository } from './materialize-repository.js';
import { configuredOnlineStoreUrl } from './open-online-store.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { parseDuration } from '../workflow/duration.js';
import { loadKibanConfig } from './config.js';
import { materializeParamsSchema } from './materialize-task-params.js';

/**
 * Runs a workflow task of `kind: materialize`: copies the feature views' latest offline values
 * of a window to the online store (see `features/materialize.ts`), resuming from each view's
 * mark. The window is `[start, end)`, or with `window` the span of that length ending at the
 * run's logical date, so a daily schedule with `window: 1d` materialises the day before each run:
 *
 * ```yaml
 * features:
 *   kind: materialize
 *   params: { repo: features, window: 1d, views: [user_stats], online: "redis://127.0.0.1:6379" }
 * ```
 *
 * Without `online`, the configuration's (`config`, else the defaults') `features.online`, else
 * the store beside its `stores.serving`: the one `kiban serve` reads. `repo` and `config` resolve
 * against the workflow file's directory. The output holds the rows read and stored, rows/s and
 * per-view windows.
 */
export async function runMaterializeTask(
  job: TaskJob,
  ctx: TaskContext,
): Promise<Record<string, unknown>> {
  const p = materializeParamsSchema.parse(job.params);
  let start: Date;
  let end: Date;
  if (p.window !== undefined) {
    end = new Date(job.logicalDate);
    start = new Date(end.getTime() - parseDuration(p.window, 'params.window'));
  } else {
    start = parseInstant('params.start', p.start!);
    end = parseInstant('params.end', p.end!);
  }
  let online = p.online;
  let onlineField = 'params.online';
  if (online === undefined) {
    // The store `kiban serve` reads: features.online, else the one beside stores.serving.
    const config = await loadKibanConfig(
      p.config === undefined ? {} : { file: resolve(job.baseDir, p.config) },
    );
    online = configuredOnlineStoreUrl(config);
    onlineField = config.features.online === undefined ? 'stores.serving' : 'features.online';
  }
  const views =
    p.views === undefined
      ? undefined
      : typeof p.views === 'string'
        ? p.views.split(',').map((v) => v.trim())
        : p.views;
  ctx.log(`materializing ${start.toISOString()} … ${end.toISOString()}`);
  const result = await materializeRepository({
    repoDir: resolve(job.baseDir, p.repo),
    online,
    onlineField,
    start,
    end,
    ...(views === undefined ? {} : { views }),
    ...(p.step === undefined ? {} : { stepMs: parseDuration(p.step, 'params.step') }),
    ...(p.chunkRows === undefined ? {} : { chunkRows: p.chunkRows }),
    force: p.force === true || p.force === 'true',
    signal: ctx.signal,
    onProgress: (progress) => {
      if (progress.windowFinished)
        ctx.log(
          `${progress.view} ${progress.windowStart.toISOString()}: ${progress.windowsDone}/${progress.windowsTotal} windows, ${progress.rows} rows`,
        );
    },
  });
  return {
    start: start.toISOString(),
    end: end.toISOString(),
    rows: result.rows,
    rowsStored: result.rowsStored,
    seconds: result.seconds,
    rowsPerSecond: Math.round(result.rowsPerSecond),
    views: result.views.map((v) => ({
      view: v.view,
      from: v.from.toISOString(),
      resumed: v.resumed,
      windows: v.windows,
      rows: v.rows,
      rowsStored: v.rowsStored,
    })),
  };
}

export type MaterializeParams = z.output<typeof materializeParamsSchema>;
