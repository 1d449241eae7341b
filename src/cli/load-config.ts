import { loadKibanConfig } from '../app/config.js';
import type { PipelineConfig } from '../pipeline/pipeline-config.js';

/**
 * Reads a pipeline configuration from a YAML file, or the embedded defaults when `path` is
 * undefined: the `pipeline` part of {@link loadKibanConfig} (environment overlay included).
 * Defaults point at the bundled demo data wherever kiban is run from.
 */
export async function loadPipelineConfig(path: string | undefined): Promise<PipelineConfig> {
  return (await loadKibanConfig(path === undefined ? {} : { file: path })).pipeline;
}
