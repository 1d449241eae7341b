import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { KibanError } from '../../core/errors.js';
import type { Executor, TaskJob, TaskOutcome } from '../executor.js';

/** Queue that `kiban worker` and {@link BullmqExecutor} use unless told otherwise. */
export const DEFAULT_TASK_QUEUE = 'kiban-tasks';
/** BullMQ's default key prefix, kept so that BullMQ's own tools find the queue. */
export const DEFAULT_QUEUE_PREFIX = 'bull';

/** Options of {@link BullmqExecutor}. */
export interface BullmqExecutorOptions {
  /** `redis://HOST:PORT[/DB]`. */
  redisUrl: string;
  /** @defaultValue {@link DEFAULT_TASK_QUEUE} */
  queue?: string;
  /** Redis key prefix of the queue; workers must use the same. @defaultValue {@link DEFAULT_QUEUE_PREFIX} */
  prefix?: string;
  /**
   * How long finished jobs stay in Redis, in seconds. While they do, re-submitting the same
   * attempt (an engine that restarted) returns the recorded outcome instead of running it again.
   * @defaultValue 86400
   */
  keepFinishedSeconds?: number;
  /**
   * How long the first `execute` waits for Redis before rejecting. Later outages are waited
   * out: commands queue until the connection is back.
   * @defaultValue 10000
   */
  connectTimeoutMs?: number;
}

/** BullMQ's reason for a job whose worker stopped renewing its lock more than `maxStalledCount` times. */
const STALLED_REASON = 'job stalled more than allowable limit';

/**
 * The BullMQ job id of an attempt: `runId:task:attempt`. Deterministic, so that a submission
 * repeated after a crash finds the job already queued (or finished) instead of adding another.
 * BullMQ accepts `:` in ids only as exactly three parts, so `:` inside a part is escaped.
 */
export function taskJobId(job: Pick<TaskJob, 'runId' | 'task' | 'attempt'>): string {
  const part = (text: string): string => text.replaceAll('%', '%25').replaceAll(':', '%3A');
  return `${part(job.runId)}:${part(job.task)}:${job.attempt}`;
}

/** Redis pub/sub channel on which executors ask workers to cancel a running job (message: job id). */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:kiban-cancel`;
}

interface Waiter {
  resolve(outcome: TaskOutcome): void;
  reject(error: Error): void;
}

/**
 * Runs attempts on `kiban worker` processes through a BullMQ queue on Redis. Each attempt is
 * one BullMQ job (id {@link taskJobId}, one BullMQ attempt: the engine owns retries) whose
 * return value is the {@link TaskOutcome}; completions arrive through one shared QueueEvents
 * stream reader, so waiting costs no connection or poll per task. A job that BullMQ fails
 * because its worker died (stalled past the workers' `maxStalledCount`) resolves as a failed
 * outcome saying so; an aborted attempt is removed from the queue if no worker has it yet, and
 * otherwise its worker is asked to stop it.
 *
 * @example
 * const executor = new BullmqExecutor({ redisUrl: 'redis://127.0.0.1:6379' });
 * const outcome = await executor.execute(job, { signal });
 * await executor.close();
 */
export class BullmqExecutor implements Executor {
  readonly name: string;
  readonly options: Readonly<Required<BullmqExecutorOptions>>;
  /** The one command connection, shared by the queue and cancellation messages. */
  private readonly redis: Redis;
  private readonly queue: Queue;
  private events: QueueEvents | undefined;
  private readonly waiters = new Map<string, Waiter[]>();
  private ready: Promise<void> | undefined;
  private closed = false;

  constructor(options: BullmqExecutorOptions) {
    this.options = Object.freeze({
      queue: DEFAULT_TASK_QUEUE,
      prefix: DEFAULT_QUEUE_PREFIX,
      keepFinishedSeconds: 86_400,
      connectTimeoutMs: 10_000,
      ...options,
    });
    this.name = `bullmq ${this.options.queue}`;
    // BullMQ wants no per-request retry limit on the connections it blocks on; the same
    // setting on the shared one keeps one set of options for all of them.
    this.redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null });
    this.redis.on('error', () => undefined); // surfaced through the commands that fail
    this.queue = new Queue(this.options.queue, {
      connection: this.redis,
      prefix: this.options.prefix,
    });
    this.queue.on('error', () => undefined);
  }

  async execute(job: TaskJob, options: { signal?: AbortSignal } = {}): Promise<TaskOutcome> {
    if (this.closed) throw new KibanError('INTERNAL', `executor ${this.name} is closed`);
    const signal = options.signal;
    await this.start();
    if (signal?.aborted) return this.failed('cancelled before it was queued');
    const id = taskJobId(job);
    let waiter!: Waiter;
    const finished = new Promise<TaskOutcome>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    // A settled promise nobody awaits any more (cancelled) must not become an unhandled rejection.
    finished.catch(() => undefined);
    this.waiters.set(id, [...(this.waiters.get(id) ?? []), waiter]);
    let onAbort: (() => void) | undefined;
    const cancelled = new Promise<TaskOutcome>((resolve) => {
      if (signal === undefined) return;
      onAbort = () => {
        this.forget(id, waiter);
        void this.cancel(id);
        resolve(this.failed('cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await this.queue.add(job.task, job, {
        jobId: id,
        attempts: 1,
        removeOnComplete: { age: this.options.keepFinishedSeconds },
        removeOnFail: { age: this.options.keepFinishedSeconds },
      });
      return await Promise.race([finished, cancelled]);
    } catch (error) {
      this.forget(id, waiter);
      if (error instanceof KibanError) throw error;
      throw new KibanError(
        'INTERNAL',
        `executor ${this.name}: could not queue ${id}: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = new KibanError(
      'INTERNAL',
      `executor ${this.name} closed while the attempt was queued or running`,
    );
    for (const list of this.waiters.values()) for (const waiter of list) waiter.reject(error);
    this.waiters.clear();
    await this.ready?.catch(() => undefined);
    await this.events?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }

  /**
   * Connects and starts reading completion events from the last one in the stream, so that no
   * completion of a job added afterwards can be missed (QueueEvents' default, `$`, is taken
   * when its first read reaches Redis, which may be after the first job finished).
   */
  private start(): Promise<void> {
    this.ready ??= (async () => {
      await withTimeout(this.queue.waitUntilReady(), this.options.connectTimeoutMs, () => {
        return new KibanError(
          'INTERNAL',
          `executor ${this.name}: Redis at ${redactUrl(this.options.redisUrl)} did not answer within ${this.options.connectTimeoutMs} ms`,
        );
      });
      const last = await this.redis.xrevrange(this.queue.keys.events, '+', '-', 'COUNT', 1);
      const events = new QueueEvents(this.options.queue, {
        connection: this.redis,
        prefix: this.options.prefix,
        autorun: false,
        lastEventId: last[0]?.[0] ?? '0-0',
      });
      events.on('error', () => undefined);
      events.on('completed', ({ jobId, returnvalue }) =>
        this.settle(jobId, toOutcome(returnvalue)),
      );
      events.on('failed', ({ jobId, failedReason }) =>
        this.settle(jobId, this.failed(describeFailure(failedReason))),
      );
      // The attempt was queued before (an engine that restarted, or two waiting on it): it may
      // have finished before anyone listened, so ask once. Only then: it costs a round trip.
      events.on('duplicated', ({ jobId }) => void this.settleIfFinished(jobId));
      events.on('removed', ({ jobId }) =>
        this.settle(jobId, this.failed('the task was removed from the queue before it finished')),
      );
      this.events = events;
      void events.run().catch(() => undefined);
      await events.waitUntilReady();
    })();
    this.ready.catch(() => {
      // A failed start is retried by the next execute.
      this.ready = undefined;
    });
    return this.ready;
  }

  private async settleIfFinished(id: string): Promise<void> {
    try {
      const state = await this.queue.getJobState(id);
      if (state !== 'completed' && state !== 'failed') return;
      const job = await this.queue.getJob(id);
      if (job === undefined) return;
      if (state === 'completed') this.settle(id, toOutcome(job.returnvalue));
      else this.settle(id, this.failed(describeFailure(job.failedReason)));
    } catch {
      // The completion event still arrives; this was only a shortcut.
    }
  }

  private settle(id: string, outcome: TaskOutcome): void {
    const list = this.waiters.get(id);
    if (list === undefined) return;
    this.waiters.delete(id);
    for (const waiter of list) waiter.resolve(outcome);
  }

  private forget(id: string, waiter: Waiter): void {
    const list = this.waiters.get(id)?.filter((other) => other !== waiter);
    if (list === undefined) return;
    if (list.length === 0) this.waiters.delete(id);
    else this.waiters.set(id, list);
  }

  /** Removes a job no worker has taken; otherwise tells its worker to stop it. */
  private async cancel(id: string): Promise<void> {
    try {
      const removed = await this.queue.remove(id);
      if (removed === 0)
        await this.redis.publish(cancelChannel(this.options.prefix, this.options.queue), id);
    } catch {
      // Best effort: an attempt whose owner gave up on it has no one waiting for its result.
    }
  }

  private failed(error: string): TaskOutcome {
    return { status: 'failed', error, output: {}, worker: this.name };
  }
}

function describeFailure(reason: string | undefined): string {
  if (reason === STALLED_REASON) {
    return 'worker died: the task stalled more often than the workers allow (its worker stopped renewing its lock, e.g. the process was killed)';
  }
  return `worker failed: ${reason ?? 'no reason given'}`;
}

/** A completed job's return value; anything else means a worker of another version wrote it. */
function toOutcome(value: unknown): TaskOutcome {
  const parsed: unknown = typeof value === 'string' ? safeParse(value) : value;
  if (typeof parsed === 'object' && parsed !== null && 'status' in parsed && 'worker' in parsed) {
    const outcome = parsed as TaskOutcome;
    return { ...outcome, output: outcome.output ?? {} };
  }
  return {
    status: 'failed',
    error: `worker returned no task outcome: ${JSON.stringify(value)}`,
    output: {},
    worker: 'unknown',
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
