import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import {
  assembleBanditReport,
  emptyBanditReport,
  reportFrame,
  type BanditReport,
  type BanditReportOptions,
} from './bandit-report.js';
import type { DecisionLogLine } from './decision-log.js';

/** One second of one bandit's decisions. */
interface Second {
  decisions: number;
  impressions: number;
  chosen: Map<string, number>;
  /** Per arm: impressions with feedback and their clamped reward sum. */
  rewarded: Map<string, { n: number; sum: number }>;
  clamped: number;
}

/** Where reading of one log file stands. */
interface FileCursor {
  offset: number;
  ino: number;
}

/** A report's time range: ISO-8601 `from` (inclusive) and `to` (exclusive), either optional. */
export interface ReportRange {
  from?: string;
  to?: string;
}

/** Parses and checks a report range. @throws InvalidArgumentError naming `from` or `to`. */
export function parseReportRange(range: ReportRange): { from: number; to: number } {
  const parse = (field: 'from' | 'to', value: string | undefined, otherwise: number): number => {
    if (value === undefined) return otherwise;
    const ms = Date.parse(value);
    if (typeof value !== 'string' || Number.isNaN(ms))
      throw new InvalidArgumentError(
        field,
        `must be an ISO-8601 time (e.g. 2026-12-04T10:00:00Z), got "${String(value)}"`,
      );
    return ms;
  };
  const from = parse('from', range.from, -Infinity);
  const to = parse('to', range.to, Infinity);
  if (!(from < to))
    throw new InvalidArgumentError('to', `must be after from (${range.from}), got ${range.to}`);
  return { from, to };
}

/**
 * The bandit report ({@link BanditReport}) over a directory of decision logs, kept up to date
 * incrementally: it remembers how far it has read each `.jsonl` file and aggregates decisions per
 * bandit and second, so a report reads only the bytes appended since the last one (a file that
 * shrank or was replaced is read again from its start) and costs O(seconds with decisions in the
 * range), not the log's size. Feedback is joined by decision id across files and reads; decisions
 * still without feedback are remembered (their arms and second) for one that comes later.
 * {@link BanditReportAggregator.bytesRead} counts every byte read, for tests and monitoring.
 */
export class BanditReportAggregator {
  readonly dir: string;
  /** Bytes read from log files so far. */
  bytesRead = 0;
  readonly #files = new Map<string, FileCursor>();
  readonly #seconds = new Map<string, Map<number, Second>>();
  /** Decisions without feedback yet, by bandit and id. */
  readonly #open = new Map<string, { second: number; arms: string[] }>();
  /** Feedback read before its decision. */
  readonly #early = new Map<string, number[]>();
  #reading: Promise<void> | null = null;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads what was appended to the directory's log files since the last call. */
  update(): Promise<void> {
    this.#reading ??= this.#readNew().finally(() => {
      this.#reading = null;
    });
    return this.#reading;
  }

  /** The report of `bandit` over decisions in [from, to) (after {@link BanditReportAggregator.update}). */
  report(bandit: string, range: ReportRange = {}, options: BanditReportOptions = {}): BanditReport {
    const { from, to } = parseReportRange(range);
    const seconds = [...(this.#seconds.get(bandit) ?? new Map<number, Second>())]
      .filter(([s]) => s * 1000 >= from && s * 1000 < to)
      .sort((a, b) => a[0] - b[0]);
    if (seconds.length === 0) return emptyBanditReport(bandit);
    const chosenTotal = new Map<string, number>();
    for (const [, s] of seconds)
      for (const [arm, c] of s.chosen) chosenTotal.set(arm, (chosenTotal.get(arm) ?? 0) + c);
    const frame = reportFrame(
      chosenTotal,
      seconds[0][0] * 1000,
      seconds[seconds.length - 1][0] * 1000,
      options.maxBuckets ?? 48,
    );
    const { armIndex, bucketMs, firstBucket, rows, armN, armSum } = frame;
    let decisions = 0;
    let clamped = 0;
    for (const [second, s] of seconds) {
      const row = rows[Math.floor((second * 1000) / bucketMs) - firstBucket];
      row.decisions += s.decisions;
      row.impressions += s.impressions;
      decisions += s.decisions;
      clamped += s.clamped;
      for (const [arm, c] of s.chosen) row.chosen[armIndex.get(arm)!] += c;
      for (const [arm, r] of s.rewarded) {
        row.n += r.n;
        row.rewardSum += r.sum;
        armN[armIndex.get(arm)!] += r.n;
        armSum[armIndex.get(arm)!] += r.sum;
      }
    }
    return assembleBanditReport(bandit, frame, chosenTotal, { decisions, clamped });
  }

  async #readNew(): Promise<void> {
    const info = await stat(this.dir).catch(() => null);
    if (info?.isDirectory() !== true) return;
    for (const name of (await readdir(this.dir)).filter((f) => f.endsWith('.jsonl')).sort()) {
      const path = join(this.dir, name);
      const now = await stat(path).catch(() => null);
      if (now === null) continue;
      let cursor = this.#files.get(path);
      // Replaced (rotated) or truncated: read it again from its start.
      if (cursor === undefined || cursor.ino !== now.ino || now.size < cursor.offset)
        cursor = { offset: 0, ino: now.ino };
      this.#files.set(path, cursor);
      if (now.size === cursor.offset) continue;
      const handle = await open(path, 'r');
      try {
        const length = now.size - cursor.offset;
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, cursor.offset);
        this.bytesRead += bytesRead;
        // Only whole lines: a line still being written is read next time.
        const end = buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
        for (const text of buffer.subarray(0, end).toString('utf8').split('\n')) {
          if (text.trim() === '') continue;
          let line: DecisionLogLine;
          try {
            line = JSON.parse(text) as DecisionLogLine;
          } catch (error) {
            throw new DataError(
              { file: path },
              `a line after byte ${cursor.offset} is not valid JSON (${(error as Error).message})`,
            );
          }
          this.#add(line);
        }
        cursor.offset += end;
      } finally {
        await handle.close();
      }
    }
  }

  #add(line: DecisionLogLine): void {
    if (line === null || typeof line !== 'object' || typeof line.bandit !== 'string') return;
    const key = `${line.bandit}\u0000${line.decisionId}`;
    if (line.type === 'feedback') {
      const open = this.#open.get(key);
      if (open === undefined) this.#early.set(key, line.rewards);
      else {
        this.#open.delete(key);
        this.#reward(line.bandit, open.second, open.arms, line.rewards);
      }
      return;
    }
    if (line.type !== 'decision') return;
    const time = Date.parse(line.time);
    if (Number.isNaN(time) || !Array.isArray(line.arms)) return;
    const second = Math.floor(time / 1000);
    const s = this.#second(line.bandit, second);
    s.decisions++;
    for (const arm of line.arms) {
      s.impressions++;
      s.chosen.set(arm, (s.chosen.get(arm) ?? 0) + 1);
    }
    const early = this.#early.get(key);
    if (early !== undefined) {
      this.#early.delete(key);
      this.#reward(line.bandit, second, line.arms, early);
    } else this.#open.set(key, { second, arms: line.arms });
  }

  #reward(
    bandit: string,
    second: number,
    arms: readonly string[],
    rewards: readonly number[],
  ): void {
    const s = this.#second(bandit, second);
    arms.forEach((arm, j) => {
      const r = rewards?.[j];
      if (typeof r !== 'number' || !Number.isFinite(r)) return;
      const v = Math.min(1, Math.max(0, r));
      if (v !== r) s.clamped++;
      const held = s.rewarded.get(arm) ?? { n: 0, sum: 0 };
      held.n++;
      held.sum += v;
      s.rewarded.set(arm, held);
    });
  }

  #second(bandit: string, second: number): Second {
    let byBandit = this.#seconds.get(bandit);
    if (byBandit === undefined) this.#seconds.set(bandit, (byBandit = new Map()));
    let s = byBandit.get(second);
    if (s === undefined)
      byBandit.set(
        second,
        (s = { decisions: 0, impressions: 0, chosen: new Map(), rewarded: new Map(), clamped: 0 }),
      );
    return s;
  }
}
