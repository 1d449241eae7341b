import { existsSync } from 'node:fs';
import { builtinTaskHandlers } from '../app/builtin-task-handlers.js';
import { readWorkflowFile } from '../workflow/parse-workflow.js';
import type { DriveEvent } from '../workflow/engine/drive-run.js';
import { WorkflowCatalog } from '../workflow/engine/workflow-catalog.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import type { TaskRun, WorkflowRun } from '../workflow/workflow-store.js';

/** Default directory of workflow files for commands that take a workflow name. */
export const DEFAULT_WORKFLOW_DIR = 'workflows';

/**
 * A workflow named on the command line: a YAML file path, or the name of a workflow in the
 * `--workflows` directory.
 */
export async function resolveWorkflow(
  nameOrFile: string,
  dir: string | undefined,
): Promise<WorkflowDefinition> {
  if (/\.ya?ml$/i.test(nameOrFile) || existsSync(nameOrFile))
    return readWorkflowFile(nameOrFile, builtinTaskHandlers());
  return new WorkflowCatalog({
    dir: dir ?? DEFAULT_WORKFLOW_DIR,
    handlers: builtinTaskHandlers(),
  }).get(nameOrFile);
}

/** One line per task state change, for `kiban workflow run|retry|backfill`. */
export function printDriveEvent(
  event: DriveEvent,
  write: (line: string) => void = (l) => process.stdout.write(l),
): void {
  const time = new Date().toISOString().slice(11, 19);
  if (event.type === 'waiting')
    write(`${time}  waiting for a successful ${event.workflow} run of the same logical date\n`);
  else if (event.type === 'run')
    write(
      `${time}  run ${event.runId} ${event.status}${event.error ? `: ${firstLine(event.error)}` : ''}\n`,
    );
  else {
    let detail = '';
    if (event.status === 'running') detail = ` (attempt ${event.attempt})`;
    else if (event.status === 'retrying')
      detail = ` after: ${firstLine(event.error ?? '')}; next attempt ${event.nextAttemptAt?.toISOString().slice(11, 19) ?? 'now'}`;
    else if (event.status === 'failed') detail = `: ${firstLine(event.error ?? '')}`;
    write(`${time}  ${event.task.padEnd(16)} ${event.status}${detail}\n`);
  }
}

/** Human-readable duration: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Duration of a run so far, or in all. */
export function runDuration(run: WorkflowRun): number {
  return (run.finishedAt ?? new Date()).getTime() - run.createdAt.getTime();
}

/** Duration of a task so far, or in all; null before it started. */
export function taskDuration(task: TaskRun): number | null {
  if (task.startedAt === null) return null;
  return (task.finishedAt ?? new Date()).getTime() - task.startedAt.getTime();
}

/** Left-aligned columns, for tables on a terminal. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return `${rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n')}\n`;
}

function firstLine(text: string): string {
  const line = text.trim().split('\n').at(-1) ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}
