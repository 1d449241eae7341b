import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { startAllInOneRole } from '../app/roles/all-in-one.js';
import { flagOverlay } from './config-flags.js';
import { printPipelineEvent, printPipelineResult, progressLogger } from './run-pipeline-console.js';
import {
  AUTH_FLAG_KEYS,
  addAuthOptions,
  addServeOptions,
  checkPortFree,
  printLoudWarning,
  serveUntilSignal,
} from './serve.js';

/** `kiban demo`: the whole loop on embedded defaults — pipeline, then the serving API. */
export function demoCommand(): Command {
  const command = new Command('demo').description(
    'Run the batch pipeline on the bundled MovieLens events with embedded stores (.kiban/), then serve the ' +
      'recommendations API and print URLs to try. Stop with Ctrl-C.',
  );
  return addAuthOptions(addServeOptions(command)).action(
    async (options: { config?: string }, command: Command) => {
      const config = await loadKibanConfig({
        ...(options.config === undefined ? {} : { file: options.config }),
        flags: flagOverlay(command, {
          port: ['serve.port', '--port'],
          host: ['serve.host', '--host'],
          ...AUTH_FLAG_KEYS,
        }),
      });
      // A taken port is found before the pipeline's seconds of work, not after.
      await checkPortFree(config.serve);
      const role = await startAllInOneRole(config, {
        onPipelineEvent: printPipelineEvent,
        logger: progressLogger(),
      });
      printPipelineResult(role.pipeline);
      if (role.auth.warning !== null) printLoudWarning(role.auth.warning);
      const { sample } = role.pipeline;
      await serveUntilSignal(
        role.app,
        config.serve,
        () => role.close(),
        (base) => {
          process.stdout.write(
            [
              `kiban is serving on ${base}`,
              `  ${base}/v1/users/${encodeURIComponent(sample.user)}/recommendations?k=10`,
              `  ${base}/v1/items/${encodeURIComponent(sample.item)}/related?k=10`,
              `  ${base}/v1/items/${encodeURIComponent(sample.item)}/similar?k=10   (nearest item vectors)`,
              `  ${base}/v1/users/no-such-user/recommendations   (popular items, "fallback": true)`,
              `  ${base}/v1/models`,
              `  ${base}/metrics   ${base}/openapi.json   ${base}/readyz`,
              role.auth.mode === 'required'
                ? 'Auth is required: send the dev key (every scope; kept in .kiban/dev-key):'
                : 'Auth is off on loopback (kiban demo --auth required turns it on); the dev key (every scope; kept in .kiban/dev-key) is:',
              `  ${role.devKey}`,
              `  curl -H "Authorization: Bearer ${role.devKey}" ${base}/v1/models`,
              'Press Ctrl-C to stop.',
              '',
            ].join('\n'),
          );
        },
      );
    },
  );
}
