import { setTimeout as sleep } from 'node:timers/promises';
import { Command, Option } from 'commander';
import { builtinTaskHandlers } from '../app/builtin-task-handlers.js';
import { openMetadataStore } from '../app/open-stores.js';
import { NotFoundError } from '../core/errors.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { WorkflowCatalog } from '../workflow/engine/workflow-catalog.js';
import { nextFireTime } from '../workflow/engine/workflow-engine.js';
import { readWorkflowFile, WorkflowInvalidError } from '../workflow/parse-workflow.js';
import type { WorkflowRunStatus } from '../workflow/workflow-store.js';
import { backfillCommand, retryCommand, runCommand } from './workflow-run-commands.js';
import {
  DEFAULT_WORKFLOW_DIR,
  formatDuration,
  runDuration,
  table,
  taskDuration,
} from './workflow-console.js';

/** `kiban workflow …`: define, run, inspect and retry workflows. */
export function workflowCommand(): Command {
  const workflow = new Command('workflow').description(
    'Workflows: DAGs of pipeline steps, shell commands and module exports, in YAML. Runs, task states and logs are kept in the metadata store.',
  );
  workflow
    .command('validate')
    .description(
      'Check workflow files: their keys, task kinds, needs (unknown tasks, cycles), cron expressions and time zones, ' +
        'durations and ${…} parameters. Prints every problem as FILE:LINE: reason; exits 3 if any file is invalid.',
    )
    .argument('<files...>', 'workflow YAML files')
    .option('--json', 'print the parsed workflows (or the problems) as JSON')
    .action(async (files: string[], options: { json?: boolean }) => {
      let invalid = 0;
      const results: unknown[] = [];
      for (const file of files) {
        try {
          const wf = await readWorkflowFile(file, builtinTaskHandlers());
          results.push({ file, valid: true, workflow: wf });
          if (!options.json)
            process.stdout.write(
              `${file}: ok (${wf.name}: ${wf.tasks.map((t) => t.name).join(' → ')})\n`,
            );
        } catch (error) {
          if (!(error instanceof WorkflowInvalidError)) throw error;
          invalid++;
          results.push({ file, valid: false, problems: error.problems });
          if (!options.json) process.stderr.write(`${error.message}\n`);
        }
      }
      if (options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      if (invalid > 0) process.exitCode = 3;
    });
  workflow.addCommand(runCommand());
  workflow.addCommand(retryCommand());
  workflow.addCommand(backfillCommand());
  workflow.addCommand(listCommand());
  workflow.addCommand(runsCommand());
  workflow.addCommand(showCommand());
  workflow.addCommand(logsCommand());
  return workflow;
}

const metadataOption = (): Option =>
  new Option('--metadata <url>', 'metadata store holding runs: sqlite:PATH or postgres://…')
    .env('KIBAN_METADATA_URL')
    .default('sqlite:.kiban/meta.db');

async function withMetadata(
  url: string,
  work: (store: MetadataStore) => Promise<void>,
): Promise<void> {
  const store = await openMetadataStore(url, '--metadata');
  try {
    await work(store);
  } finally {
    await store.close();
  }
}

function listCommand(): Command {
  return new Command('list')
    .description(
      'List the workflows of a directory with their schedules, next fire time and last run.',
    )
    .option('--workflows <dir>', 'directory of workflow files', DEFAULT_WORKFLOW_DIR)
    .addOption(metadataOption())
    .option('--json', 'print JSON')
    .action(async (options: { workflows: string; metadata: string; json?: boolean }) => {
      const { workflows, invalid } = await new WorkflowCatalog({
        dir: options.workflows,
        handlers: builtinTaskHandlers(),
      }).load();
      await withMetadata(options.metadata, async (store) => {
        const latest = new Map(
          (await store.workflows.latestRunPerWorkflow()).map((r) => [r.workflow, r]),
        );
        const rows = [...workflows.values()].map((wf) => ({
          name: wf.name,
          schedule:
            wf.schedule === undefined ? null : `${wf.schedule.cron} (${wf.schedule.timezone})`,
          nextRunAt: nextFireTime(wf)?.toISOString() ?? null,
          lastRun: latest.get(wf.name) ?? null,
          tasks: wf.tasks.length,
          source: wf.source,
        }));
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({ workflows: rows, invalid: invalid.map((e) => e.problems) })}\n`,
          );
          return;
        }
        process.stdout.write(
          table([
            ['WORKFLOW', 'TASKS', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'STATUS'],
            ...rows.map((r) => [
              r.name,
              String(r.tasks),
              r.schedule ?? '—',
              r.nextRunAt ?? '—',
              r.lastRun?.id ?? '—',
              r.lastRun?.status ?? '—',
            ]),
          ]),
        );
        for (const bad of invalid) process.stderr.write(`${bad.message}\n`);
      });
    });
}

function runsCommand(): Command {
  return new Command('runs')
    .description('List runs, newest first.')
    .option('--workflow <name>', 'only runs of this workflow')
    .addOption(
      new Option('--status <status>', 'only runs in this status').choices([
        'running',
        'succeeded',
        'failed',
      ]),
    )
    .option('--limit <n>', 'at most this many', (v) => Number(v), 20)
    .addOption(metadataOption())
    .option('--json', 'print JSON')
    .action(
      async (options: {
        workflow?: string;
        status?: WorkflowRunStatus;
        limit: number;
        metadata: string;
        json?: boolean;
      }) => {
        await withMetadata(options.metadata, async (store) => {
          const runs = await store.workflows.listRuns({
            ...(options.workflow === undefined ? {} : { workflow: options.workflow }),
            ...(options.status === undefined ? {} : { status: options.status }),
            limit: options.limit,
          });
          if (options.json) {
            process.stdout.write(`${JSON.stringify(runs.map(({ definition: _, ...r }) => r))}\n`);
            return;
          }
          process.stdout.write(
            table([
              ['RUN', 'WORKFLOW', 'LOGICAL DATE', 'TRIGGER', 'STATUS', 'DURATION'],
              ...runs.map((r) => [
                r.id,
                r.workflow,
                r.logicalDate,
                r.trigger,
                r.status,
                formatDuration(runDuration(r)),
              ]),
            ]),
          );
        });
      },
    );
}

function showCommand(): Command {
  return new Command('show')
    .description(
      'Show a run: its tasks with state, attempts and duration, and the error of each failed task.',
    )
    .argument('<run>', 'run id')
    .addOption(metadataOption())
    .option('--json', 'print JSON (run, tasks and attempts)')
    .action(async (runId: string, options: { metadata: string; json?: boolean }) => {
      await withMetadata(options.metadata, async (store) => {
        const run = await store.workflows.getRun(runId);
        if (run === null) throw new NotFoundError(`workflow run "${runId}"`);
        const tasks = await store.workflows.getTasks(runId);
        const attempts = await store.workflows.listAttempts(runId);
        if (options.json) {
          process.stdout.write(`${JSON.stringify({ run, tasks, attempts })}\n`);
          return;
        }
        process.stdout.write(
          `run ${run.id}: ${run.workflow}, logical date ${run.logicalDate}, ${run.trigger}, ${run.status} (${formatDuration(runDuration(run))})\n`,
        );
        if (run.error) process.stdout.write(`error: ${run.error}\n`);
        process.stdout.write(
          table([
            ['TASK', 'STATUS', 'ATTEMPTS', 'DURATION', 'WORKER', 'ERROR'],
            ...tasks.map((t) => {
              const last = attempts.filter((a) => a.task === t.task).at(-1);
              return [
                t.task,
                t.status,
                String(t.attempt),
                formatDuration(taskDuration(t)),
                last?.worker ?? '—',
                (t.error ?? '').split('\n').at(-1)?.slice(0, 100) ?? '',
              ];
            }),
          ]),
        );
      });
    });
}

function logsCommand(): Command {
  return new Command('logs')
    .description(
      "Print the log lines of a run's tasks (all tasks in order, or one), optionally following a running run.",
    )
    .argument('<run>', 'run id')
    .argument('[task]', 'only this task')
    .option('--attempt <n>', 'only this attempt', (v) => Number(v))
    .option('-f, --follow', 'keep printing new lines until the run ends')
    .addOption(metadataOption())
    .action(
      async (
        runId: string,
        task: string | undefined,
        options: { attempt?: number; follow?: boolean; metadata: string },
      ) => {
        await withMetadata(options.metadata, async (store) => {
          const wf = store.workflows;
          const run = await wf.getRun(runId);
          if (run === null) throw new NotFoundError(`workflow run "${runId}"`);
          const names = run.definition.tasks.map((t) => t.name);
          if (task !== undefined && !names.includes(task))
            throw new NotFoundError(`task "${task}" in run ${runId} (tasks: ${names.join(', ')})`);
          const after = new Map<string, number>();
          for (;;) {
            for (const name of task === undefined ? names : [task]) {
              for (;;) {
                const lines = await wf.readLogs(runId, name, {
                  ...(options.attempt === undefined ? {} : { attempt: options.attempt }),
                  afterSeq: after.get(name) ?? 0,
                  limit: 1000,
                });
                for (const l of lines)
                  process.stdout.write(
                    `${task === undefined ? `[${name}#${l.attempt}] ` : ''}${l.stream === 'stderr' ? '! ' : ''}${l.line}\n`,
                  );
                if (lines.length > 0) after.set(name, lines.at(-1)!.seq);
                if (lines.length < 1000) break;
              }
            }
            if (!options.follow || (await wf.getRun(runId))?.status !== 'running') break;
            await sleep(500);
          }
        });
      },
    );
}
