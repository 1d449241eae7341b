import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { metadataForService } from '../app/open-services.js';
import { DEFAULT_SERVICE_NAME, findService } from '../app/services.js';
import { openStores, runPipelineWithConsole } from './run-pipeline-console.js';

/** `kiban pipeline run`: one run of the batch pipeline, then exit. */
export function pipelineCommand(): Command {
  const pipeline = new Command('pipeline').description(
    'The batch recommendation pipeline: aggregate → train → candidates → publish.',
  );
  pipeline
    .command('run')
    .description(
      'Run the pipeline once with a configuration file (default: embedded demo settings) and print a JSON summary. ' +
        "With --service, run that service's pipeline (its overrides over the top-level keys) and publish into its serving store, " +
        'reading only its API interactions.',
    )
    .option('--config <file>', 'pipeline configuration (YAML)')
    .option(
      '--service <name>',
      'the service to run (a key of services: in the configuration)',
      DEFAULT_SERVICE_NAME,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  kiban pipeline run --config kiban.yaml\n  kiban pipeline run --config kiban.yaml --service booth   # publishes into booth only\n',
    )
    .action(async (options: { config?: string; service: string }) => {
      const kiban = await loadKibanConfig(
        options.config === undefined ? {} : { file: options.config },
      );
      const service = findService(kiban, options.service);
      const stores = await openStores(service.pipeline);
      try {
        const result = await runPipelineWithConsole(service.pipeline, {
          ...stores,
          // The aggregate step reads the service's own API interactions.
          metadata: metadataForService(stores.metadata, service.name),
        });
        process.stdout.write(
          `${JSON.stringify(service.name === DEFAULT_SERVICE_NAME ? result : { service: service.name, ...result })}\n`,
        );
      } finally {
        await stores.close();
      }
    });
  return pipeline;
}
