import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { importModule } from '../core/import-module.js';
import type { TaskContext, TaskJob, TaskOutcome } from './executor.js';
import type { TaskKind } from './workflow-definition.js';
import { PARAM_VARIABLE_PREFIX, parameterEnvironment } from './substitute.js';
import type { LogLine, WorkflowStore } from './workflow-store.js';

/** The task kinds that are built-in pipeline steps, run by {@link TaskEnvironment.runPipelineStep}. */
export type PipelineTaskKind = Exclude<TaskKind, 'shell' | 'module'>;

/** Runs one built-in pipeline step; the returned object becomes the task's output. */
export type PipelineStepRunner = (kind: PipelineTaskKind, job: TaskJob, ctx: TaskContext) => Promise<Record<string, unknown>>;

/** Where and on whose behalf {@link runTask} runs an attempt. */
export interface TaskEnvironment {
  /** Receives the attempt's log lines, in batches. */
  logs: Pick<WorkflowStore, 'appendLogs'>;
  /** Reported as {@link TaskOutcome.worker}: `inline` or a worker id. */
  worker: string;
  /** Cancels the attempt: shell tasks are killed, module tasks see `ctx.signal` aborted. */
  signal?: AbortSignal;
  /** Runs the pipeline kinds (aggregate, train, …); without it they fail. */
  runPipelineStep?: PipelineStepRunner;
  /** Between SIGTERM and SIGKILL when a shell task is stopped. @defaultValue 5000 */
  killGraceMs?: number;
}

/** Log lines are written when this many are buffered… */
export const LOG_BATCH_LINES = 200;
/** …or this long after the first unwritten one, whichever comes first. */
export const LOG_BATCH_MS = 200;
/** How many trailing stderr lines a failed shell task reports as its error. */
const STDERR_TAIL = 10;
/** After a shell's exit, how long to wait for its pipes to drain (a background child may hold them). */
const DRAIN_MS = 500;

/**
 * Runs one attempt of a task in this process (shell tasks in a child process group) and
 * reports how it ended. Never rejects for the task's own failures: a non-zero exit, a throw, a
 * timeout or a cancellation all resolve with `status: 'failed'` and a message; every line the
 * task wrote is in `env.logs` before the promise settles.
 *
 * @example
 * const outcome = await runTask(job, { logs: store.workflows, worker: 'inline' });
 */
export async function runTask(job: TaskJob, env: TaskEnvironment): Promise<TaskOutcome> {
  const log = new LogBatcher(env.logs, job);
  const fail = (error: string): TaskOutcome => ({ status: 'failed', error, output: {}, worker: env.worker });
  try {
    if (env.signal?.aborted) return fail(cancelledMessage(env.signal));
    await mkdir(job.workDir, { recursive: true });
    if (job.kind === 'shell') return await runShell(job, env, log);
    return await runInProcess(job, env, log);
  } catch (error) {
    log.push('stderr', errorText(error, true));
    return isPermanent(error) ? { ...fail(errorText(error, false)), retryable: false } : fail(errorText(error, false));
  } finally {
    await log.close();
  }
}

async function runShell(job: TaskJob, env: TaskEnvironment, log: LogBatcher): Promise<TaskOutcome> {
  if (job.run === undefined || job.run.length === 0) throw new Error(`task "${job.task}": a shell task needs "run"`);
  const child = spawn('/bin/sh', ['-c', job.run], {
    cwd: job.baseDir,
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
    },
  });
  const stderrTail: string[] = [];
  const drained = Promise.all([
    readLines(child.stdout, (line) => log.push('stdout', line)),
    readLines(child.stderr, (line) => {
      log.push('stderr', line);
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    }),
  ]);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });

  let stopped: string | undefined;
  const stop = (why: string): void => {
    if (stopped !== undefined) return;
    stopped = why;
    killGroup(child.pid, 'SIGTERM');
    // Kept after the shell exits: a child that ignores SIGTERM still dies after the grace.
    killAfterGrace(child.pid, env.killGraceMs ?? 5000);
  };
  const onAbort = (): void => stop(cancelledMessage(env.signal!));
  env.signal?.addEventListener('abort', onAbort, { once: true });
  const timeout = job.timeoutMs === null ? undefined : setTimeout(() => stop(timedOutMessage(job.timeoutMs!)), job.timeoutMs);
  try {
    const { code, signal } = await exited;
    // Output of a background child that outlives the shell is not waited for beyond DRAIN_MS.
    await Promise.race([drained, delay(DRAIN_MS)]);
    child.stdout.destroy();
    child.stderr.destroy();
    if (stopped !== undefined) return { status: 'failed', error: stopped, output: {}, worker: env.worker };
    if (code === 0) return { status: 'succeeded', output: {}, worker: env.worker };
    const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
    const tail = stderrTail.length > 0 ? `: ${stderrTail.join('\n')}` : '';
    return { status: 'failed', error: `command ${how}${tail}`, output: { exitCode: code }, worker: env.worker };
  } finally {
    clearTimeout(timeout);
    env.signal?.removeEventListener('abort', onAbort);
  }
}

async function runInProcess(job: TaskJob, env: TaskEnvironment, log: LogBatcher): Promise<TaskOutcome> {
  const controller = new AbortController();
  const ctx: TaskContext = {
    runId: job.runId,
    workflow: job.workflow,
    task: job.task,
    attempt: job.attempt,
    logicalDate: job.logicalDate,
    params: job.params,
    workDir: job.workDir,
    log: (line) => {
      for (const part of String(line).split(/\r?\n/)) log.push('log', part);
    },
    signal: controller.signal,
  };
  let call: () => Promise<unknown>;
  if (job.kind === 'module') {
    const fn = await loadExport(job);
    call = async () => fn(ctx);
  } else {
    const step = env.runPipelineStep;
    if (step === undefined) {
      throw new Error(`task "${job.task}": no pipeline step runner is configured for kind "${job.kind}" in this ${env.worker === 'inline' ? 'process' : 'worker'}`);
    }
    // runTask sends shell tasks elsewhere: only pipeline kinds get here.
    const kind = job.kind as PipelineTaskKind;
    call = async () => step(kind, job, ctx);
  }

  // The task is not waited for after a timeout or cancellation: it sees its signal aborted and
  // whatever it still does is ignored, so a task that never checks the signal cannot hang the run.
  let stop: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolveStop) => {
    stop = (why) => {
      controller.abort(new Error(why));
      resolveStop(why);
    };
  });
  const onAbort = (): void => stop(cancelledMessage(env.signal!));
  env.signal?.addEventListener('abort', onAbort, { once: true });
  const timeout = job.timeoutMs === null ? undefined : setTimeout(() => stop(timedOutMessage(job.timeoutMs!)), job.timeoutMs);
  try {
    const result = await Promise.race([call().then((value) => ({ value })), stopped.then((why) => ({ why }))]);
    if ('why' in result) return { status: 'failed', error: result.why, output: {}, worker: env.worker };
    return { status: 'succeeded', output: toOutput(result.value), worker: env.worker };
  } finally {
    clearTimeout(timeout);
    env.signal?.removeEventListener('abort', onAbort);
  }
}

type TaskFunction = (ctx: TaskContext) => unknown;

async function loadExport(job: TaskJob): Promise<TaskFunction> {
  if (job.module === undefined || job.module.length === 0) throw new Error(`task "${job.task}": a module task needs "module"`);
  const path = isAbsolute(job.module) ? job.module : resolve(job.baseDir, job.module);
  const name = job.export ?? 'default';
  let loading = loadedModules.get(path);
  if (loading === undefined) {
    loading = importModule(path);
    loadedModules.set(path, loading);
    // A module that failed to load is tried again by the next attempt (it may have been fixed).
    loading.catch(() => loadedModules.delete(path));
  }
  const loaded = await loading;
  const fn = loaded[name];
  if (typeof fn !== 'function') {
    throw new Error(`task "${job.task}": ${path} has no exported function "${name}" (exports: ${Object.keys(loaded).join(', ') || 'none'})`);
  }
  return fn as TaskFunction;
}

/**
 * Loaded modules by path. `import()` of a module already loaded still runs the loader hooks,
 * which under tsx cross to its hooks thread: about 2 ms a task, more than the rest of the run.
 */
const loadedModules = new Map<string, Promise<Record<string, unknown>>>();

/** Output must survive JSON (it travels through Redis and is stored as JSON): the same either way. */
function toOutput(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  const plain: unknown = JSON.parse(JSON.stringify(value));
  if (typeof plain === 'object' && plain !== null && !Array.isArray(plain)) return plain as Record<string, unknown>;
  return { value: plain };
}

/**
 * Collects log lines and writes them in batches, one write at a time in order, so that a chatty
 * command costs a database write per {@link LOG_BATCH_LINES} lines rather than per line.
 */
class LogBatcher {
  private pending: { at: Date; stream: LogLine['stream']; line: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(
    private readonly logs: Pick<WorkflowStore, 'appendLogs'>,
    private readonly job: TaskJob,
  ) {}

  push(stream: LogLine['stream'], line: string): void {
    this.pending.push({ at: new Date(), stream, line });
    if (this.pending.length >= LOG_BATCH_LINES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LOG_BATCH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing.then(() =>
      this.logs.appendLogs(this.job.runId, this.job.task, this.job.attempt, batch).catch((error: unknown) => {
        // Losing log lines must not fail the task; say so once, where an operator looks.
        if (!this.warned) process.stderr.write(`kiban: could not write the log of ${this.job.runId}/${this.job.task}#${this.job.attempt}: ${errorText(error, false)}\n`);
        this.warned = true;
      }),
    );
  }

  async close(): Promise<void> {
    this.flush();
    await this.writing;
  }
}

async function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) onLine(line);
  } catch {
    // The pipe was destroyed after the drain wait: the rest is dropped on purpose.
  }
}

/** How often a stopped command's process group is checked for survivors during the kill grace. */
const KILL_CHECK_MS = 100;

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
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith(PARAM_VARIABLE_PREFIX)));
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** How a timed-out attempt's error reads: `timed out after 1.5s`. */
export function timedOutMessage(ms: number): string {
  return `timed out after ${ms >= 1000 ? `${+(ms / 1000).toFixed(3)}s` : `${ms}ms`}`;
}

/** How a cancelled attempt's error reads: `cancelled`, or `cancelled: <reason>`. */
export function cancelledMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : '';
  return why.length > 0 && why !== 'This operation was aborted' ? `cancelled: ${why}` : 'cancelled';
}

/**
 * Invalid params or data (INVALID_ARGUMENT, INVALID_DATA) fail the same way on every attempt.
 * By code rather than class: a task module may load its own copy of kiban's errors.
 */
function isPermanent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && (code === 'INVALID_ARGUMENT' || code === 'INVALID_DATA');
}

function errorText(error: unknown, withStack: boolean): string {
  if (error instanceof Error) return withStack && error.stack !== undefined ? error.stack : error.message;
  return String(error);
}

/** Unref'd: only raced against the command's pipes, which hold the event loop while they are open. */
function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}
