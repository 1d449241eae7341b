import { openBackends, type Backends } from '../app/backends.js';
import { openArtifactStore } from '../app/open-artifact-store.js';
import { createLogger, LOG_LEVEL_ENV, type Logger } from '../core/log.js';
import type { PipelineConfig } from '../pipeline/pipeline-config.js';
import { runPipeline, type PipelineEvent, type PipelineResult } from '../pipeline/run-pipeline.js';

/** Stores a command opened, to close when it ends. */
export type OpenStores = Backends<'serving' | 'metadata'>;

/** Opens the serving and metadata stores a configuration names (see `app/backends.ts`). */
export async function openStores(config: PipelineConfig): Promise<OpenStores> {
  return openBackends(config.stores, { seams: ['serving', 'metadata'] });
}

/** Reports a pipeline step on stderr as it starts and ends. */
export function printPipelineEvent(event: PipelineEvent): void {
  if (event.type === 'step-start') {
    process.stderr.write(`[${event.index}/${event.of}] ${event.step}…\n`);
  } else {
    const figures = Object.entries(event.figures)
      .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
      .join(', ');
    process.stderr.write(
      `      ${event.step} done in ${event.seconds.toFixed(2)} s${figures ? ` (${figures})` : ''}\n`,
    );
  }
}

/** Reports what a pipeline run published on stderr. */
export function printPipelineResult(result: PipelineResult): void {
  process.stderr.write(
    `pipeline ${result.runId} published version ${result.version} in ${result.seconds.toFixed(1)} s\n`,
  );
}

/**
 * Runs the pipeline, reporting each step on stderr as it starts and ends. The steps' log entries
 * repeat what the progress lines say (their full lines are in the run's task logs, `kiban
 * workflow logs`), so they go through {@link progressLogger}.
 */
export async function runPipelineWithConsole(
  config: PipelineConfig,
  stores: OpenStores,
): Promise<PipelineResult> {
  const result = await runPipeline(config, {
    serving: stores.serving,
    metadata: stores.metadata,
    onEvent: printPipelineEvent,
    logger: progressLogger(),
    openArtifacts: (url) => openArtifactStore(url),
  });
  printPipelineResult(result);
  return result;
}

/**
 * The logger of a command that prints its own progress lines (`kiban pipeline run`, `kiban
 * demo`): JSON entries on stderr from warnings up, since the progress lines already say what the
 * info entries would, unless `KIBAN_LOG_LEVEL` asks for more.
 */
export function progressLogger(): Logger {
  return createLogger(process.env[LOG_LEVEL_ENV] ? {} : { level: 'warn' });
}
