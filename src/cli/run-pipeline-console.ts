import { openMetadataStore, openServingStore } from '../app/open-stores.js';
import type { PipelineConfig } from '../pipeline/pipeline-config.js';
import { runPipeline, type PipelineResult } from '../pipeline/run-pipeline.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { ServingStore } from '../storage/serving-store.js';

/** Stores a command opened, to close when it ends. */
export interface OpenStores {
  serving: ServingStore;
  metadata: MetadataStore;
  close(): Promise<void>;
}

/** Opens the serving and metadata stores a configuration names. */
export async function openStores(config: PipelineConfig): Promise<OpenStores> {
  const serving = await openServingStore(config.stores.serving);
  const metadata = await openMetadataStore(config.stores.metadata).catch(async (error: unknown) => {
    await serving.close();
    throw error;
  });
  return {
    serving,
    metadata,
    async close() {
      await Promise.allSettled([serving.close(), metadata.close()]);
    },
  };
}

/** Runs the pipeline, reporting each step on stderr as it starts and ends. */
export async function runPipelineWithConsole(config: PipelineConfig, stores: OpenStores): Promise<PipelineResult> {
  const result = await runPipeline(config, {
    serving: stores.serving,
    metadata: stores.metadata,
    onEvent(event) {
      if (event.type === 'step-start') {
        process.stderr.write(`[${event.index}/${event.of}] ${event.step}…\n`);
      } else {
        const figures = Object.entries(event.figures)
          .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
          .join(', ');
        process.stderr.write(`      ${event.step} done in ${event.seconds.toFixed(2)} s${figures ? ` (${figures})` : ''}\n`);
      }
    },
  });
  process.stderr.write(`pipeline ${result.runId} published version ${result.version} in ${result.seconds.toFixed(1)} s\n`);
  return result;
}
