import { Command } from 'commander';
import { createServingApp } from '../serving/create-app.js';
import { loadPipelineConfig } from './load-config.js';
import { openStores, runPipelineWithConsole } from './run-pipeline-console.js';
import { addServeOptions, checkPortFree, serveUntilSignal, type ListenOptions } from './serve.js';

/** `kiban demo`: the whole loop on embedded defaults — pipeline, then the serving API. */
export function demoCommand(): Command {
  const command = new Command('demo').description(
    'Run the batch pipeline on the bundled MovieLens events with embedded stores (.kiban/), then serve the ' +
      'recommendations API and print URLs to try. Stop with Ctrl-C.',
  );
  return addServeOptions(command).action(async (options: ListenOptions & { config?: string }) => {
    const config = await loadPipelineConfig(options.config);
    // A taken port is found before the pipeline's seconds of work, not after.
    await checkPortFree(options);
    const stores = await openStores(config);
    const { sample } = await runPipelineWithConsole(config, stores).catch(async (error: unknown) => {
      await stores.close();
      throw error;
    });
    const app = createServingApp({ serving: stores.serving, metadata: stores.metadata });
    await serveUntilSignal(app, options, () => stores.close(), (base) => {
      process.stdout.write(
        [
          `kiban is serving on ${base}`,
          `  ${base}/v1/users/${encodeURIComponent(sample.user)}/recommendations?k=10`,
          `  ${base}/v1/items/${encodeURIComponent(sample.item)}/related?k=10`,
          `  ${base}/v1/users/no-such-user/recommendations   (popular items, "fallback": true)`,
          `  ${base}/v1/models`,
          `  ${base}/metrics   ${base}/openapi.json   ${base}/readyz`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    });
  });
}
