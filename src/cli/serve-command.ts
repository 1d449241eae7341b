import { Command } from 'commander';
import { createServingApp } from '../serving/create-app.js';
import { loadPipelineConfig } from './load-config.js';
import { openStores } from './run-pipeline-console.js';
import { serveUntilSignal, type ListenOptions } from './serve.js';

/** `kiban serve`: the recommendations API over the stores a configuration names. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve the recommendations API from the serving store of a configuration (default: the embedded one the demo fills).')
    .option('--config <file>', 'configuration (YAML) naming the stores')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8080')
    .option('--host <addr>', 'address to listen on; the API has no authentication yet, so keep it local unless you mean it', '127.0.0.1')
    .action(async (options: ListenOptions & { config?: string }) => {
      const config = await loadPipelineConfig(options.config);
      const stores = await openStores(config);
      const app = createServingApp({ serving: stores.serving, metadata: stores.metadata });
      await serveUntilSignal(app, options, () => stores.close(), (base) => process.stdout.write(`kiban is serving on ${base}\n`));
    });
}
