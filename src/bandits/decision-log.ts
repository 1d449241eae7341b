import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DataError, KibanError } from '../core/errors.js';
import type { PolicyKind } from './bandit-policy.js';

/**
 * One decision, logged when it is made. The field names are those the off-policy reader
 * (`ope/read-decision-log.ts`) takes for a decision line; `rewards` is absent here and filled in
 * by {@link joinDecisionLogs}.
 */
export interface DecisionLogEntry {
  type: 'decision';
  decisionId: string;
  bandit: string;
  /** The policy kind that decided. */
  policy: PolicyKind;
  /** The version of the policy's statistics the decision used (how many feedback batches it had seen). */
  version: number;
  /** ISO-8601 time of the decision. */
  time: string;
  /** The context the policy used (read from the feature store when `featureContext` is there). */
  context: number[];
  /**
   * With a context read from a feature service (see `bandits/feature-context.ts`): the service,
   * the entity, and how many features were missing or expired (filled with 0 in `context`).
   */
  featureContext?: {
    featureService: string;
    entity: Readonly<Record<string, string | number>>;
    missing: number;
    expired: number;
  };
  candidates: string[];
  /** Chosen arms, slot 0 first. */
  arms: string[];
  /** The slot (0-based) of each chosen arm: `[0, 1, …]`. */
  positions: number[];
  /** Per slot, the probability of that arm at that slot given the earlier slots (see `Decision`). */
  propensities: number[];
  /**
   * Multi-slot decisions: per slot, the marginal probability of that arm at that slot, which
   * per-position off-policy estimators need (slot 0's equals its propensity) — exact for
   * ε-greedy, UCB1 and LinUCB, a Monte Carlo estimate from the policy's `draws` simulated
   * decisions for Thompson sampling (see `BanditPolicy.slotMarginals`). Absent for one slot.
   */
  marginals?: number[];
  /** Filled in by {@link joinDecisionLogs}: the reward of each chosen arm, or null without feedback. */
  rewards?: (number | null)[];
}

/** Feedback on a decision, logged when it is applied (possibly by another process than the decision's). */
export interface FeedbackLogEntry {
  type: 'feedback';
  decisionId: string;
  bandit: string;
  time: string;
  /** The decision's arms, slot 0 first, and each one's reward (0 where feedback named none). */
  arms: string[];
  rewards: number[];
}

/** A line of a decision log. */
export type DecisionLogLine = DecisionLogEntry | FeedbackLogEntry;

/**
 * Appends decision-log lines (JSON, one per line) to one file. Each server process writes its own
 * file ({@link decisionLogFileName}), so no two processes append to one file; feedback lines land in
 * the file of the process that received the feedback, so a log is the union of every process's
 * files (see {@link joinDecisionLogs}). Lines are gathered in memory and written together every
 * `flushMs` (or at 64 KiB): one system call for many decisions, so logging never blocks a request;
 * a crash loses at most the last `flushMs` of lines. {@link DecisionLogWriter.close} flushes them.
 */
export class DecisionLogWriter {
  /** The file written. */
  readonly path: string;
  readonly #stream: WriteStream;
  readonly #flushMs: number;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #error: Error | null = null;
  #closed = false;

  private constructor(path: string, stream: WriteStream, flushMs: number) {
    this.path = path;
    this.#stream = stream;
    this.#flushMs = flushMs;
    stream.on('error', (error) => {
      this.#error = error;
    });
  }

  /**
   * Opens `path` for appending, creating its directory. `flushMs` is the longest time a line
   * waits in memory before it is written (default 50).
   */
  static async open(path: string, options: { flushMs?: number } = {}): Promise<DecisionLogWriter> {
    await mkdir(dirname(path), { recursive: true });
    const stream = createWriteStream(path, { flags: 'a' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return new DecisionLogWriter(path, stream, options.flushMs ?? 50);
  }

  /** Appends one line. Throws if an earlier write failed (disk full, file removed…). */
  write(line: DecisionLogLine): void {
    if (this.#error !== null)
      throw new KibanError('INTERNAL', `decision log ${this.path}: ${this.#error.message}`, {
        cause: this.#error,
      });
    if (this.#closed) throw new KibanError('INTERNAL', `decision log ${this.path} is closed`);
    const text = `${JSON.stringify(line)}\n`;
    this.#pending.push(text);
    this.#pendingBytes += text.length;
    if (this.#pendingBytes >= FLUSH_BYTES) void this.flush();
    else if (this.#timer === null) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Writes the lines gathered so far; resolves once the file has them (callers need not wait). */
  flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return Promise.resolve();
    const text = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    // Errors also reach the 'error' listener, which makes the next write throw.
    return new Promise((resolve) => this.#stream.write(text, () => resolve()));
  }

  /** Flushes and closes the file; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    void this.flush();
    this.#closed = true;
    await new Promise<void>((resolve) => this.#stream.end(() => resolve()));
  }
}

/** Gathered log text (in UTF-16 code units) that is written at once. */
const FLUSH_BYTES = 64 * 1024;

/** A log file name unique to this process: `decisions-{host}-{pid}-{start time}.jsonl` in `dir`. */
export function decisionLogFileName(dir: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_');
  return join(dir, `decisions-${host}-${process.pid}-${stamp}.jsonl`);
}

/** Reads the lines of decision-log files, in file order. @throws DataError naming file and line for a malformed line. */
export async function* readDecisionLogLines(
  paths: readonly string[],
): AsyncGenerator<DecisionLogLine> {
  for (const path of paths) {
    const lines = createInterface({
      input: createReadStream(path, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    let line = 0;
    try {
      for await (const text of lines) {
        line++;
        if (text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new DataError({ file: path, line }, `not valid JSON (${(error as Error).message})`);
        }
        const type = (value as { type?: unknown } | null)?.type;
        if (type !== 'decision' && type !== 'feedback')
          throw new DataError(
            { file: path, line, column: 'type' },
            'must be "decision" or "feedback"',
          );
        yield value as DecisionLogLine;
      }
    } finally {
      lines.close();
    }
  }
}

/** What {@link joinDecisionLogs} wrote. */
export interface JoinSummary {
  decisions: number;
  /** Decisions that had feedback in some file. */
  withFeedback: number;
  /** Feedback lines whose decision is in none of the files. */
  orphanFeedback: number;
}

/**
 * Joins the decision-log files of every server process into one file of decision lines, each with
 * `rewards` from its feedback line (null per arm where there was none), in file order: the input
 * the off-policy reader takes. Holds every feedback line in memory.
 *
 * @example
 * await joinDecisionLogs(['a.jsonl', 'b.jsonl'], 'joined.jsonl');
 */
export async function joinDecisionLogs(
  paths: readonly string[],
  output: string,
): Promise<JoinSummary> {
  const rewards = new Map<string, number[]>();
  for await (const line of readDecisionLogLines(paths))
    if (line.type === 'feedback')
      rewards.set(`${line.bandit}\u0000${line.decisionId}`, line.rewards);
  const writer = await DecisionLogWriter.open(output);
  const summary: JoinSummary = { decisions: 0, withFeedback: 0, orphanFeedback: 0 };
  const seen = new Set<string>();
  try {
    for await (const line of readDecisionLogLines(paths)) {
      if (line.type !== 'decision') continue;
      const key = `${line.bandit}\u0000${line.decisionId}`;
      const given = rewards.get(key);
      seen.add(key);
      summary.decisions++;
      if (given !== undefined) summary.withFeedback++;
      writer.write({ ...line, rewards: line.arms.map((_, j) => given?.[j] ?? null) });
    }
  } finally {
    await writer.close();
  }
  for (const key of rewards.keys()) if (!seen.has(key)) summary.orphanFeedback++;
  return summary;
}
