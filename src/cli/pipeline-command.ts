import { Command } from 'commander';
import { loadPipelineConfig } from './load-config.js';
import { openStores, runPipelineWithConsole } from './run-pipeline-console.js';

/** `kiban pipeline run`: one run of the batch pipeline, then exit. */
export function pipelineCommand(): Command {
  const pipeline = new Command('pipeline').description(
    'The batch recommendation pipeline: aggregate → train → candidates → publish.',
  );
  pipeline
    .command('run')
    .description(
      'Run the pipeline once with a configuration file (default: embedded demo settings) and print a JSON summary.',
    )
    .option('--config <file>', 'pipeline configuration (YAML)')
    .action(async (options: { config?: string }) => {
      const config = await loadPipelineConfig(options.config);
      const stores = await openStores(config);
      try {
        const result = await runPipelineWithConsole(config, stores);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } finally {
        await stores.close();
      }
    });
  return pipeline;
}
