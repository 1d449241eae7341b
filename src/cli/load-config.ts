import { readFile } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
import { DataError } from '../core/errors.js';
import { parsePipelineConfig, type PipelineConfig } from '../pipeline/pipeline-config.js';
import { bundledPath } from './paths.js';

/**
 * Reads a pipeline configuration from a YAML file, or the embedded defaults when `path` is
 * undefined. Defaults point at the bundled demo data wherever kiban is run from.
 */
export async function loadPipelineConfig(path: string | undefined): Promise<PipelineConfig> {
  let input: unknown = {};
  if (path !== undefined) {
    const text = await readFile(path, 'utf8').catch((cause: unknown) => {
      throw new DataError({ file: path }, 'cannot read the configuration file', { cause });
    });
    try {
      input = parse(text) ?? {};
    } catch (cause) {
      const line = cause instanceof YAMLParseError ? cause.linePos?.[0].line : undefined;
      throw new DataError({ file: path, line }, `not valid YAML: ${(cause as Error).message.split('\n')[0]}`, { cause });
    }
  }
  const config = parsePipelineConfig(input);
  const given = (input as { data?: { events?: unknown } }).data?.events;
  return given === undefined ? { ...config, data: { ...config.data, events: bundledPath(config.data.events) } } : config;
}
