import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { TaskJob } from './executor.js';
import { PARAM_VARIABLE_PREFIX, parameterEnvironment } from './substitute.js';
import { TaskFailedError, type TaskHandlerContext, type TaskHandlerRun } from './task-handler.js';
import { cancelledMessage, timedOutMessage } from './task-messages.js';

/** How many trailing stderr lines a failed shell task reports as its error. */
const STDERR_TAIL = 10;
/** After a shell's exit, how long to wait for its pipes to drain (a background child may hold them). */
const DRAIN_MS = 500;
/** How often a stopped command's process group is checked for survivors during the kill grace. */
const KILL_CHECK_MS = 100;

/**
 * Running `kind: shell` tasks (the zod-free half of {@link shellTaskHandler}, in
 * `shell-task-handler.ts`).
 */
export const shellTaskRun: TaskHandlerRun = Object.freeze({
  kind: 'shell',
  stopsItself: true,
  run: runShell,
});

async function runShell(job: TaskJob, ctx: TaskHandlerContext): Promise<Record<string, unknown>> {
  if (job.run === undefined || job.run.length === 0)
    throw new Error(`task "${job.task}": a shell task needs "run"`);
  // The workflow file's directory exists where the run was started; a worker on another host
  // has none (spawn would fail with ENOENT naming /bin/sh): there the command runs in the
  // attempt's work directory, and KIBAN_WORKFLOW_DIR says where the file was.
  const cwd = (await isDirectory(job.baseDir)) ? job.baseDir : job.workDir;
  const child = spawn('/bin/sh', ['-c', job.run], {
    cwd,
    // Its own process group, so that a timeout kills the command's children too.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inheritedEnvironment(),
      ...parameterEnvironment(job.runParams ?? {}),
      KIBAN_RUN_ID: job.runId,
      KIBAN_WORKFLOW: job.workflow,
      KIBAN_TASK: job.task,
      KIBAN_ATTEMPT: String(job.attempt),
      KIBAN_LOGICAL_DATE: job.logicalDate,
      KIBAN_WORK_DIR: job.workDir,
      KIBAN_WORKFLOW_DIR: job.baseDir,
    },
  });
  const stderrTail: string[] = [];
  const drained = Promise.all([
    readLines(child.stdout, (line) => ctx.write('stdout', line)),
    readLines(child.stderr, (line) => {
      ctx.write('stderr', line);
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    }),
  ]);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolveExit, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolveExit({ code, signal }));
    },
  );

  let stopped: string | undefined;
  const stop = (why: string): void => {
    if (stopped !== undefined) return;
    stopped = why;
    killGroup(child.pid, 'SIGTERM');
    // Kept after the shell exits: a child that ignores SIGTERM still dies after the grace.
    killAfterGrace(child.pid, ctx.killGraceMs);
  };
  const onAbort = (): void => stop(cancelledMessage(ctx.signal));
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const timeout =
    job.timeoutMs === null
      ? undefined
      : setTimeout(() => stop(timedOutMessage(job.timeoutMs!)), job.timeoutMs);
  try {
    const { code, signal } = await exited;
    // Output of a background child that outlives the shell is not waited for beyond DRAIN_MS.
    await Promise.race([drained, delay(DRAIN_MS)]);
    child.stdout.destroy();
    child.stderr.destroy();
    if (stopped !== undefined) throw new TaskFailedError(stopped);
    if (code === 0) return {};
    const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = stderrTail.length > 0 ? `: ${stderrTail.join('\n')}` : '';
    throw new TaskFailedError(`command ${how}${tail}`, { exitCode: code });
  } finally {
    clearTimeout(timeout);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

async function readLines(
  stream: NodeJS.ReadableStream,
  onLine: (line: string) => void,
): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) onLine(line);
  } catch {
    // The pipe was destroyed after the drain wait: the rest is dropped on purpose.
  }
}

/**
 * SIGKILLs the process group `pid` if any of it outlives `graceMs` after SIGTERM. Its timers
 * hold the event loop only while the group still has members, so a process cannot exit (its
 * loop emptied) and leave a command that ignores SIGTERM running, nor wait out the grace for a
 * group that is already gone.
 */
function killAfterGrace(pid: number | undefined, graceMs: number): void {
  if (pid === undefined) return;
  const deadline = Date.now() + graceMs;
  const check = (): void => {
    if (!groupExists(pid)) return;
    const left = deadline - Date.now();
    if (left <= 0) killGroup(pid, 'SIGKILL');
    else setTimeout(check, Math.min(KILL_CHECK_MS, left));
  };
  setTimeout(check, Math.min(KILL_CHECK_MS, graceMs));
}

function groupExists(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    // EPERM: a member exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's environment without `KIBAN_PARAM_*`: a task sees only its own run's parameters. */
function inheritedEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith(PARAM_VARIABLE_PREFIX)),
  );
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Unref'd: only raced against the command's pipes, which hold the event loop while they are open. */
function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() === true;
}
