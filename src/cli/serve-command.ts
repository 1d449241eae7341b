import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { openBanditStore } from '../app/open-bandit-store.js';
import { builtinTaskHandlers, builtinTaskHandlersRef } from '../app/builtin-task-handlers.js';
import { DecisionLogWriter, decisionLogFileName } from '../bandits/decision-log.js';
import { InvalidArgumentError } from '../core/errors.js';
import { resolveBanditLimits, type BanditLimits } from '../bandits/bandit-limits.js';
import { BANDIT_SERVICE_DEFAULTS, BanditService } from '../bandits/bandit-service.js';
import { ExperimentService } from '../experiments/experiment-service.js';
import { createServingApp } from '../serving/create-app.js';
import { parseDuration } from '../workflow/duration.js';
import { createWorkflowService } from '../workflow/engine/create-workflow-service.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { loadPipelineConfig } from './load-config.js';
import { bundledPath } from './paths.js';
import { openStores } from './run-pipeline-console.js';
import { addServeOptions, serveUntilSignal, type ListenOptions } from './serve.js';

/** `--decision-ttl`: a duration of at least a second, in whole milliseconds. */
function decisionTtl(value: string): number {
  const ms = Math.round(parseDuration(value, '--decision-ttl'));
  if (ms < 1000) throw new InvalidArgumentError('--decision-ttl', `must be at least 1s, got ${value}`);
  return ms;
}

/** `--bandit-limits`: `name=value` pairs, comma-separated (see `BanditLimits`). */
function banditLimits(value: string): Partial<BanditLimits> {
  const limits: Record<string, number> = {};
  for (const pair of value.split(',')) {
    const [name, given] = pair.split('=');
    if (given === undefined || !/^\d+$/.test(given.trim())) throw new InvalidArgumentError('--bandit-limits', `"${pair}" is not name=integer (e.g. maxSlots=50,maxArms=500)`);
    limits[name.trim()] = Number(given.trim());
  }
  return resolveBanditLimits(limits);
}

/** Where `kiban serve` looks for workflows when `--workflows` is not given. */
const DEFAULT_WORKFLOWS_DIR = 'workflows';

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
  return addServeOptions(command)
    .option('--workflows <dir>', `directory of workflow YAML files for the dashboard and workflow API (default: ./${DEFAULT_WORKFLOWS_DIR} if it exists)`)
    .option('--data-root <dir>', 'directory that files named through workflow run parameters must lie in (.., absolute paths and symlinks leading out are refused)', '.')
    .option('--bandit-log <dir>', `directory of the bandit decision log; each process appends its own JSON-lines file`, DEFAULT_BANDIT_LOG_DIR)
    .option(
      '--decision-ttl <duration>',
      'how long a bandit decision waits for its feedback, at least 1s (default 1h); the store holds each decision (about 0.8 KB in Redis with a 20-number context) that long',
      decisionTtl,
    )
    .option('--bandit-limits <limits>', 'bandit request limits, e.g. maxSlots=100,maxDimCandidates=100000,maxArms=1000 (the defaults)', banditLimits)
    .action(async (options: ListenOptions & { config?: string; workflows?: string; dataRoot: string; banditLog: string; decisionTtl?: number; banditLimits?: Partial<BanditLimits> }) => {
      const config = await loadPipelineConfig(options.config);
      const dir = await workflowsDir(options.workflows);
      const stores = await openStores(config);
      // Bandit state lives beside the serving store (the same URL), shared by every process using it.
      const banditStore = await openBanditStore(config.stores.serving);
      const decisionLog = await DecisionLogWriter.open(decisionLogFileName(options.banditLog));
      const bandits = new BanditService(banditStore, { log: decisionLog, decisionTtlMs: options.decisionTtl ?? BANDIT_SERVICE_DEFAULTS.decisionTtlMs, limits: options.banditLimits });
      // Experiments and their events live in the metadata store, shared by every process using it.
      const experiments = new ExperimentService(stores.metadata.experiments);
      // Runs started from the dashboard are driven here, with tasks in this process.
      const executor = dir === null ? null : new InlineExecutor({ logs: stores.metadata.workflows, taskHandlersRef: builtinTaskHandlersRef({ metadataUrl: config.stores.metadata }) });
      let base = '';
      const workflows =
        dir === null || executor === null
          ? undefined
          : await createWorkflowService({ dir, metadata: stores.metadata, executor, handlers: builtinTaskHandlers(), runUrl: (id) => `${base}/runs/${encodeURIComponent(id)}` });
      const app = createServingApp({
        serving: stores.serving,
        metadata: stores.metadata,
        webRoot: bundledPath('dist/web'),
        ...(workflows === undefined ? {} : { workflows }),
        dataRoot: options.dataRoot,
        bandits,
        experiments,
      });
      const cleanup = async () => {
        // Runs in flight are released, left running for the next process to resume.
        await workflows?.close();
        await executor?.close();
        await Promise.allSettled([decisionLog.close(), banditStore.close()]);
        await stores.close();
      };
      await serveUntilSignal(app, options, cleanup, (url) => {
        base = url;
        process.stdout.write(`kiban is serving on ${url}\n`);
        if (dir !== null) process.stdout.write(`workflows from ${dir}; dashboard at ${url}/\n`);
      });
    });
}

/** The workflows directory to use: the one given (which must exist), else ./workflows if present. */
async function workflowsDir(given: string | undefined): Promise<string | null> {
  const dir = given ?? DEFAULT_WORKFLOWS_DIR;
  const info = await stat(dir).catch(() => null);
  if (info?.isDirectory()) return dir;
  if (given === undefined) return null;
  throw new InvalidArgumentError('--workflows', `"${given}" is not a directory`);
}
