import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { DEFAULT_WORKFLOWS_DIR, startServeRole } from '../app/roles/serve.js';
import { resolveBanditLimits, type BanditLimits } from '../bandits/bandit-limits.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseDuration } from '../workflow/duration.js';
import { flagOverlay } from './config-flags.js';
import {
  AUTH_FLAG_KEYS,
  addAuthOptions,
  addServeOptions,
  printLoudWarning,
  serveUntilSignal,
} from './serve.js';

/** `--decision-ttl`: a duration of at least a second, in whole milliseconds. */
function decisionTtl(value: string): number {
  const ms = Math.round(parseDuration(value, '--decision-ttl'));
  if (ms < 1000)
    throw new InvalidArgumentError('--decision-ttl', `must be at least 1s, got ${value}`);
  return ms;
}

/** `--bandit-limits`: `name=value` pairs, comma-separated (see `BanditLimits`). */
function banditLimits(value: string): Partial<BanditLimits> {
  const limits: Record<string, number> = {};
  for (const pair of value.split(',')) {
    const [name, given] = pair.split('=');
    if (given === undefined || !/^\d+$/.test(given.trim()))
      throw new InvalidArgumentError(
        '--bandit-limits',
        `"${pair}" is not name=integer (e.g. maxSlots=50,maxArms=500)`,
      );
    limits[name.trim()] = Number(given.trim());
  }
  return resolveBanditLimits(limits);
}

/** Where `kiban serve` writes its bandit decision log when `--bandit-log` is not given. */
const DEFAULT_BANDIT_LOG_DIR = '.kiban/bandit-logs';

/**
 * `kiban serve`: the recommendations API over the stores a configuration names and, with a
 * workflows directory, the workflow API and dashboard (runs started there run in this process).
 */
export function serveCommand(): Command {
  const command = new Command('serve').description(
    'Serve the recommendations API from the serving store of a configuration (default: the embedded one the demo fills), ' +
      'and the workflow dashboard at / when there are workflows.',
  );
  return addAuthOptions(addServeOptions(command))
    .option(
      '--workflows <dir>',
      `directory of workflow YAML files for the dashboard and workflow API (default: ./${DEFAULT_WORKFLOWS_DIR} if it exists)`,
    )
    .option(
      '--data-root <dir>',
      'directory that files named through workflow run parameters must lie in (.., absolute paths and symlinks leading out are refused)',
      '.',
    )
    .option(
      '--bandit-log <dir>',
      `directory of the bandit decision log; each process appends its own JSON-lines file`,
      DEFAULT_BANDIT_LOG_DIR,
    )
    .option(
      '--decision-ttl <duration>',
      'how long a bandit decision waits for its feedback, at least 1s (default 1h); the store holds each decision (about 0.8 KB in Redis with a 20-number context) that long',
      decisionTtl,
    )
    .option(
      '--bandit-limits <limits>',
      'bandit request limits, e.g. maxSlots=100,maxDimCandidates=100000,maxArms=1000 (the defaults)',
      banditLimits,
    )
    .action(async (options: { config?: string }, command: Command) => {
      const config = await loadKibanConfig({
        ...(options.config === undefined ? {} : { file: options.config }),
        flags: flagOverlay(command, {
          port: ['serve.port', '--port'],
          host: ['serve.host', '--host'],
          workflows: ['serve.workflows', '--workflows'],
          dataRoot: ['serve.dataRoot', '--data-root'],
          banditLog: ['serve.banditLog', '--bandit-log'],
          decisionTtl: ['serve.decisionTtlMs', '--decision-ttl'],
          banditLimits: ['serve.banditLimits', '--bandit-limits'],
          ...AUTH_FLAG_KEYS,
        }),
      });
      const role = await startServeRole(config);
      if (role.auth.warning !== null) printLoudWarning(role.auth.warning);
      await serveUntilSignal(
        role.app,
        config.serve,
        () => role.close(),
        (url) => {
          role.setBaseUrl(url);
          process.stdout.write(
            `kiban is serving on ${url} (auth ${role.auth.mode === 'required' ? 'required: send an API key, see kiban keys' : 'off'})\n`,
          );
          if (role.workflowsDir !== null)
            process.stdout.write(`workflows from ${role.workflowsDir}; dashboard at ${url}/\n`);
        },
      );
    });
}
