import { Command } from 'commander';
import { createServingApp } from '../serving/create-app.js';
import { loadPipelineConfig } from './load-config.js';
import { openStores } from './run-pipeline-console.js';
import { addServeOptions, serveUntilSignal, type ListenOptions } from './serve.js';

/** `kiban serve`: the recommendations API over the stores a configuration names. */
export function serveCommand(): Command {
  const command = new Command('serve').description(
    'Serve the recommendations API from the serving store of a configuration (default: the embedded one the demo fills).',
  );
  return addServeOptions(command).action(async (options: ListenOptions & { config?: string }) => {
    const config = await loadPipelineConfig(options.config);
    const stores = await openStores(config);
    const app = createServingApp({ serving: stores.serving, metadata: stores.metadata });
    await serveUntilSignal(app, options, () => stores.close(), (base) => process.stdout.write(`kiban is serving on ${base}\n`));
  });
}
