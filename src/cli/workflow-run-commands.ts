import { Command } from 'commander';
import { Cron } from 'croner';
import { ConflictError, InvalidArgumentError } from '../core/errors.js';
import { checkRunParams } from '../pipeline/run-param-policy.js';
import { normalizeLogicalDate } from '../workflow/engine/logical-date.js';
import type { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import type { WorkflowRun } from '../workflow/workflow-store.js';
import {
  addEngineOptions,
  collectParam,
  openEngine,
  typedParams,
  type EngineCliOptions,
} from './engine-options.js';
import {
  formatDuration,
  printDriveEvent,
  resolveWorkflow,
  runDuration,
} from './workflow-console.js';

type RunOptions = EngineCliOptions & {
  workflows?: string;
  param?: Record<string, string>;
  logicalDate?: string;
  new?: boolean;
  json?: boolean;
  dataRoot: string;
};

/** `--data-root`: files named through `-p` values must lie inside it. */
const DATA_ROOT_HELP =
  'directory that files named through -p values must lie in (.., absolute paths and symlinks leading out are refused)';

/** `kiban workflow run <workflow>`: one run in the foreground. */
export function runCommand(): Command {
  const command = new Command('run')
    .description(
      'Run a workflow now, in the foreground, printing each task state change. If a run of the same workflow and logical date ' +
        'was interrupted (its process died), it is resumed instead: finished tasks are kept, the interrupted task runs again. ' +
        'Exits 0 when the run succeeds, 1 when it fails.',
    )
    .argument('<workflow>', 'workflow YAML file, or a workflow name in --workflows')
    .option('--workflows <dir>', 'directory of workflow files, for names')
    .option('-p, --param <key=value>', 'override a workflow parameter (repeatable)', collectParam)
    .option('--data-root <dir>', DATA_ROOT_HELP, '.')
    .option(
      '--logical-date <date>',
      'the date the run is for (YYYY-MM-DD or ISO date-time); default: today (UTC)',
    )
    .option('--new', 'start a new run even if an interrupted one exists for the date')
    .option('--json', 'print the final run as JSON');
  return addEngineOptions(command).action(async (name: string, options: RunOptions) => {
    const wf = await resolveWorkflow(name, options.workflows);
    const params = typedParams(wf, options.param ?? {});
    // The operator's command line may name stores; files still stay inside the data root.
    checkRunParams(wf, params, { dataRoot: options.dataRoot, allowStores: true });
    const logicalDate = normalizeLogicalDate(
      options.logicalDate ?? new Date().toISOString().slice(0, 10),
      '--logical-date',
    );
    await withEngine(options, async (engine) => {
      let runId: string | null = null;
      if (!options.new) runId = await resumable(engine, wf, logicalDate);
      if (runId === null) {
        const run = (await engine.createRun(wf, { logicalDate, params, trigger: 'manual' }))!;
        runId = run.id;
        process.stdout.write(`run ${run.id} (${wf.name}, logical date ${logicalDate})\n`);
      }
      return [await engine.runToEnd(runId)];
    });
  });
}

/** `kiban workflow retry <run>`: resume a failed (or orphaned) run from its failed tasks. */
export function retryCommand(): Command {
  const command = new Command('retry')
    .description(
      'Resume a failed run from its failed tasks (and the tasks that never ran because of them), in the foreground; tasks that ' +
        'succeeded are not run again. Also takes over a running run whose process died. Exits 0 when the run succeeds.',
    )
    .argument('<run>', 'run id (see kiban workflow runs)')
    .option('--json', 'print the final run as JSON');
  return addEngineOptions(command).action(async (runId: string, options: RunOptions) => {
    await withEngine(options, async (engine) => {
      await engine.prepareRetry(runId);
      process.stdout.write(`retrying run ${runId}\n`);
      return [await engine.runToEnd(runId)];
    });
  });
}

/** `kiban workflow backfill <workflow> --from --to`: one run per logical date in a range. */
export function backfillCommand(): Command {
  const command = new Command('backfill')
    .description(
      'Run a workflow for each logical date in a range: the fire times of its schedule (in its time zone) between --from and ' +
        '--to inclusive, or every day at 00:00 UTC for unscheduled workflows. Dates that already have a successful run are ' +
        'skipped unless --rerun. Runs go one after another (or --parallel N at once). Exits 1 if any run fails.',
    )
    .argument('<workflow>', 'workflow YAML file, or a workflow name in --workflows')
    .requiredOption('--from <date>', 'first logical date (YYYY-MM-DD or ISO date-time)')
    .requiredOption('--to <date>', 'last logical date, inclusive')
    .option('--workflows <dir>', 'directory of workflow files, for names')
    .option('-p, --param <key=value>', 'override a workflow parameter (repeatable)', collectParam)
    .option(
      '--parallel <n>',
      'runs at once',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1)
          throw new InvalidArgumentError('--parallel', `must be a whole number ≥ 1, got "${v}"`);
        return n;
      },
      1,
    )
    .option('--rerun', 'also run dates that already succeeded')
    .option('--data-root <dir>', DATA_ROOT_HELP, '.')
    .option('--json', 'print the final runs as JSON');
  return addEngineOptions(command).action(
    async (
      name: string,
      options: RunOptions & { from: string; to: string; parallel: number; rerun?: boolean },
    ) => {
      const wf = await resolveWorkflow(name, options.workflows);
      const params = typedParams(wf, options.param ?? {});
      // The operator's command line may name stores; files still stay inside the data root.
      checkRunParams(wf, params, { dataRoot: options.dataRoot, allowStores: true });
      const dates = backfillDates(
        wf,
        normalizeLogicalDate(options.from, '--from'),
        normalizeLogicalDate(options.to, '--to'),
      );
      await withEngine(options, async (engine) => {
        const todo: string[] = [];
        for (const date of dates) {
          const done = options.rerun
            ? []
            : await engine.store.listRuns({
                workflow: wf.name,
                logicalDate: date,
                status: 'succeeded',
                limit: 1,
              });
          if (done.length > 0)
            process.stdout.write(`${date}: already succeeded (run ${done[0].id}), skipped\n`);
          else todo.push(date);
        }
        process.stdout.write(`backfilling ${todo.length} of ${dates.length} dates of ${wf.name}\n`);
        const results: WorkflowRun[] = [];
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < todo.length) {
            const date = todo[next++];
            const run = (await engine.createRun(wf, {
              logicalDate: date,
              params,
              trigger: 'backfill',
            }))!;
            process.stdout.write(`run ${run.id} (logical date ${date})\n`);
            results.push(await engine.runToEnd(run.id));
          }
        };
        await Promise.all(
          Array.from({ length: Math.min(options.parallel, Math.max(1, todo.length)) }, lane),
        );
        return results.sort((a, b) => a.logicalDate.localeCompare(b.logicalDate));
      });
    },
  );
}

/** Logical dates of a backfill: schedule fire times in [from, to], or each midnight UTC. */
export function backfillDates(wf: WorkflowDefinition, from: string, to: string): string[] {
  const start = new Date(from);
  const end = new Date(to);
  if (start > end) throw new InvalidArgumentError('--from', `${from} is after --to ${to}`);
  const dates: string[] = [];
  const limit = 10_000;
  if (wf.schedule === undefined) {
    const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
    if (day < start) day.setUTCDate(day.getUTCDate() + 1);
    for (; day <= end && dates.length < limit; day.setUTCDate(day.getUTCDate() + 1))
      dates.push(day.toISOString());
  } else {
    const cron = new Cron(wf.schedule.cron, { timezone: wf.schedule.timezone, paused: true });
    // nextRun is strictly after its argument, so start a millisecond early to include `from`.
    for (
      let t = cron.nextRun(new Date(start.getTime() - 1));
      t !== null && t <= end && dates.length < limit;
      t = cron.nextRun(t)
    )
      dates.push(t.toISOString());
  }
  if (dates.length >= limit)
    throw new InvalidArgumentError('--to', `the range holds more than ${limit} runs; split it`);
  return dates;
}

/** An interrupted run of the workflow for the date that this process may take over, or null. */
async function resumable(
  engine: WorkflowEngine,
  wf: WorkflowDefinition,
  logicalDate: string,
): Promise<string | null> {
  const running = await engine.store.listRuns({
    workflow: wf.name,
    logicalDate,
    status: 'running',
    limit: 10,
  });
  for (const run of running) {
    try {
      await engine.claimOrphan(run.id);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      throw new ConflictError(
        `${error.message}. Pass --new to start another run for ${logicalDate} anyway.`,
      );
    }
    process.stdout.write(`resuming interrupted run ${run.id} (finished tasks are kept)\n`);
    return run.id;
  }
  return null;
}

/**
 * Opens an engine, runs `work` with task states printed, and closes it. SIGINT/SIGTERM stop
 * the run cleanly: tasks are aborted and the run is left resumable. Sets the exit status.
 */
async function withEngine(
  options: RunOptions,
  work: (engine: WorkflowEngine) => Promise<WorkflowRun[]>,
): Promise<void> {
  const open = await openEngine(options, {
    onEvent: options.json ? undefined : (e) => printDriveEvent(e),
  });
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
    process.stderr.write(
      'stopping: aborting running tasks; the run can be resumed with kiban workflow retry\n',
    );
    void open.engine.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const runs = await work(open.engine);
    if (options.json)
      process.stdout.write(`${JSON.stringify(runs.length === 1 ? runs[0] : runs)}\n`);
    else
      for (const run of runs)
        process.stdout.write(`${run.id}: ${run.status} in ${formatDuration(runDuration(run))}\n`);
    process.exitCode = interrupted ? 130 : runs.every((r) => r.status === 'succeeded') ? 0 : 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await open.close();
  }
}
