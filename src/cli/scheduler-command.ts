import { Command } from 'commander';
import { loadKibanConfig, storeFields } from '../app/config.js';
import { startSchedulerRole } from '../app/roles/scheduler.js';
import type { SchedulerEvent } from '../workflow/engine/scheduler.js';
import { healthPortOption, startProbes } from './health-option.js';
import { addEngineOptions, engineFlags, type EngineCliOptions } from './engine-options.js';
import { DEFAULT_WORKFLOW_DIR, printDriveEvent } from './workflow-console.js';

/** `kiban scheduler`: start scheduled runs at their cron times until stopped. */
export function schedulerCommand(): Command {
  const command = new Command('scheduler')
    .description(
      'Start the scheduled workflows of a directory at their cron times (each in its time zone) and drive their runs, until ' +
        'SIGINT/SIGTERM. Several schedulers may run against the same metadata store: each scheduled run is started by exactly ' +
        "one. At start-up, runs missed while no scheduler was up follow each workflow's catchUp (skip or run); runs whose " +
        'process died are resumed. Workflow files are re-read every --scan seconds.',
    )
    .option('--workflows <dir>', 'directory of workflow files', DEFAULT_WORKFLOW_DIR)
    .option(
      '--scan <seconds>',
      'how often to re-read workflows and look for orphaned runs',
      (v) => Number(v),
      15,
    )
    .addOption(healthPortOption());
  return addEngineOptions(command).action(
    async (
      options: EngineCliOptions & { workflows: string; scan: number; healthPort?: number },
      command: Command,
    ) => {
      const config = await loadKibanConfig({ flags: engineFlags(command) });
      const stopProbes = await startProbes(
        options.healthPort,
        config.executor.kind === 'bullmq' ? config.executor.redis : undefined,
      );
      const role = await startSchedulerRole(config, {
        workflowsDir: options.workflows,
        scanMs: options.scan * 1000,
        metadataField: storeFields(config).metadata,
        onDriveEvent: (e) => printDriveEvent(e),
        onSchedulerEvent: printSchedulerEvent,
      });
      const stop = (): void => {
        process.stdout.write(
          'scheduler stopping; running runs are released for the next scheduler\n',
        );
        void role.close();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.stdout.write(`scheduler ${role.owner} watching ${options.workflows}\n`);
      await role.run();
      await stopProbes();
    },
  );
}

function printSchedulerEvent(event: SchedulerEvent): void {
  const time = new Date().toISOString();
  const line =
    event.type === 'started'
      ? `started ${event.catchUp ? 'missed ' : ''}run ${event.runId} of ${event.workflow} for ${event.logicalDate}`
      : event.type === 'taken'
        ? `${event.workflow} ${event.logicalDate}: started by another scheduler`
        : event.type === 'skipped'
          ? `${event.workflow}: skipped ${event.missed} missed runs (${event.from} … ${event.to}) per catchUp: skip`
          : event.type === 'resumed'
            ? `resumed orphaned run ${event.runId} of ${event.workflow}`
            : `error${event.workflow === undefined ? '' : ` in ${event.workflow}`}: ${event.message}`;
  (event.type === 'error' ? process.stderr : process.stdout).write(`${time}  ${line}\n`);
}
