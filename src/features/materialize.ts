/**
 * Materialisation (issue 20): copies each feature view's latest offline values into the online
 * store, one event-time window at a time.
 *
 * - **Incremental by window.** `[start, end)` is cut into windows of `stepMs` (one day by
 *   default); each window writes, per entity, its latest row with event time in the window
 *   (`OfflineFeatureStore.readLatest`). Windows go oldest first, and the online store keeps the
 *   newest row per entity, so the end state is each entity's latest row in `[start, end)`.
 * - **Chunked.** Rows go to the online store `chunkRows` at a time; the next chunk is read while
 *   the previous one is written.
 * - **Idempotent.** Writes are newest-wins: re-running a window stores nothing new.
 * - **Resumable.** After each finished window the view's {@link MaterializedMark} records how far
 *   it got; a rerun whose `start` falls in the marked range starts at the mark's end (unless
 *   `force`), so a crash costs at most the window it interrupted, which is written again.
 *
 * Rows are written with their event time (epoch ms, floored) as created time too: the offline
 * store already picked each window's winner by created time.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { FeatureRepository } from './feature-types.js';
import type { OfflineFeatureStore } from './offline-store.js';
import {
  entityKey,
  type FeatureValue,
  type MaterializedMark,
  type OnlineFeatureStore,
  type OnlineWrite,
} from './online-store.js';

/** One day, the default window. */
export const DAY_MS = 86_400_000;

/** Options of {@link materialize}. */
export interface MaterializeOptions {
  repo: FeatureRepository;
  offline: OfflineFeatureStore;
  online: OnlineFeatureStore;
  /** The views to materialise, in this order. @defaultValue every view of `repo` */
  views?: readonly string[];
  /** Window start, inclusive. */
  start: Date;
  /** Window end, exclusive. */
  end: Date;
  /** Length of one window in ms. @defaultValue {@link DAY_MS} */
  stepMs?: number;
  /** Rows per online write. @defaultValue 10000 */
  chunkRows?: number;
  /** Ignore the views' marks: write every window of `[start, end)` again. @defaultValue false */
  force?: boolean;
  signal?: AbortSignal;
  /** Called after each written chunk and each finished window. */
  onProgress?: (progress: MaterializeProgress) => void;
  /** The clock, epoch ms (marks' `updatedAt`, rates). @defaultValue `Date.now` */
  now?: () => number;
}

/** What {@link MaterializeOptions.onProgress} is told. */
export interface MaterializeProgress {
  view: string;
  /** The window being written. */
  windowStart: Date;
  windowEnd: Date;
  /** Windows finished, over all views, and how many the run has in all. */
  windowsDone: number;
  windowsTotal: number;
  /** Whether the window just finished (its mark is set). */
  windowFinished: boolean;
  /** Rows read from the offline store and sent to the online store, over all views so far. */
  rows: number;
  /** Of those, rows the online store stored (new or newer); 0 on an idempotent rerun. */
  rowsStored: number;
  /** `rows` per second of the run so far. */
  rowsPerSecond: number;
}

/** What {@link materialize} did for one view. */
export interface ViewMaterialization {
  view: string;
  /** Where it started: `start`, or the mark's end when it resumed. */
  from: Date;
  to: Date;
  /** Whether it resumed from the view's mark. */
  resumed: boolean;
  windows: number;
  rows: number;
  rowsStored: number;
  /** The view's mark after the run (null when nothing was to do and it had none). */
  mark: MaterializedMark | null;
}

/** What {@link materialize} did. */
export interface MaterializeResult {
  views: ViewMaterialization[];
  rows: number;
  rowsStored: number;
  seconds: number;
  rowsPerSecond: number;
}

interface ViewPlan {
  view: string;
  features: string[];
  from: number;
  to: number;
  resumed: boolean;
  previous: MaterializedMark | null;
  /** Whether the run's start falls in the marked range (it extends that range). */
  continues: boolean;
  /** The mark's start to keep: the previous one when the run continues its range. */
  markStart: number;
}

/**
 * Materialises `views` over `[start, end)` (see the module's semantics).
 *
 * @throws InvalidArgumentError naming `views` (unknown view), `end` (not after start), `stepMs`
 *   or `chunkRows`.
 * @throws the signal's reason when aborted; the marks of finished windows stay.
 * @example
 * ```ts
 * const result = await materialize({ repo, offline, online, start: new Date('2024-01-01'),
 *   end: new Date('2024-02-01'), onProgress: (p) => console.log(p.rows, p.rowsPerSecond) });
 * ```
 */
export async function materialize(options: MaterializeOptions): Promise<MaterializeResult> {
  const { repo, offline, online, signal } = options;
  const now = options.now ?? Date.now;
  const stepMs = options.stepMs ?? DAY_MS;
  const chunkRows = options.chunkRows ?? 10_000;
  const start = options.start.getTime();
  const end = options.end.getTime();
  if (!Number.isFinite(start)) throw new InvalidArgumentError('start', 'is not a valid time');
  if (!Number.isFinite(end) || end <= start)
    throw new InvalidArgumentError('end', 'must be a valid time after start');
  if (!Number.isSafeInteger(stepMs) || stepMs < 1)
    throw new InvalidArgumentError('stepMs', `must be a whole number of ms ≥ 1, got ${stepMs}`);
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1)
    throw new InvalidArgumentError('chunkRows', `must be an integer ≥ 1, got ${chunkRows}`);
  const names = options.views ?? [...repo.featureViews.keys()];
  for (const view of names)
    if (!repo.featureViews.has(view))
      throw new InvalidArgumentError(
        'views',
        `no feature view "${view}"; the repository has ${[...repo.featureViews.keys()].map((v) => `"${v}"`).join(', ') || 'none'}`,
      );
  if (new Set(names).size !== names.length)
    throw new InvalidArgumentError('views', 'names a view more than once');
  signal?.throwIfAborted();

  const plans: ViewPlan[] = [];
  for (const view of names) {
    const previous = await online.getMaterialized(view);
    // The run continues the marked range when its start falls inside it (or at its end).
    const continues = previous !== null && previous.start <= start && start <= previous.end;
    const resumed = continues && options.force !== true && previous.end > start;
    plans.push({
      view,
      features: repo.featureViews.get(view)!.features.map((f) => f.name),
      from: resumed ? Math.min(previous.end, end) : start,
      to: end,
      resumed,
      previous,
      continues,
      markStart: continues ? previous.start : start,
    });
  }
  const windowsOf = (p: ViewPlan): number => Math.ceil(Math.max(0, p.to - p.from) / stepMs);
  const windowsTotal = plans.reduce((n, p) => n + windowsOf(p), 0);

  const began = now();
  let windowsDone = 0;
  let rows = 0;
  let rowsStored = 0;
  const rate = (): number => {
    const seconds = (now() - began) / 1000;
    return seconds > 0 ? rows / seconds : 0;
  };
  const results: ViewMaterialization[] = [];
  for (const plan of plans) {
    const { view, features } = plan;
    let mark = plan.previous;
    let newest = mark?.newestEventTime ?? null;
    let viewRows = 0;
    let viewStored = 0;
    for (let ws = plan.from; ws < plan.to; ws += stepMs) {
      const we = Math.min(ws + stepMs, plan.to);
      const windowStart = new Date(ws);
      const windowEnd = new Date(we);
      const report = (windowFinished: boolean) =>
        options.onProgress?.({
          view,
          windowStart,
          windowEnd,
          windowsDone,
          windowsTotal,
          windowFinished,
          rows,
          rowsStored,
          rowsPerSecond: rate(),
        });
      let buffer: OnlineWrite[] = [];
      let pending: Promise<void> | null = null;
      const flush = async (): Promise<void> => {
        const batch = buffer;
        buffer = [];
        if (pending !== null) await pending;
        signal?.throwIfAborted();
        const write = online.write(view, features, batch).then((stored) => {
          rows += batch.length;
          viewRows += batch.length;
          rowsStored += stored;
          viewStored += stored;
          report(false);
        });
        // Awaited before the next write or at the window's end; handled now so that a failure
        // while the next chunk is read is not reported as unhandled.
        write.catch(() => undefined);
        pending = write;
      };
      try {
        for await (const chunk of offline.readLatest({
          repo,
          view,
          start: windowStart,
          end: windowEnd,
          ...(signal === undefined ? {} : { signal }),
        })) {
          for (const r of chunk) {
            const eventTime = floorMs(r.eventTimeUs);
            if (newest === null || eventTime > newest) newest = eventTime;
            buffer.push({
              key: entityKey(r.key),
              eventTime,
              createdTime: eventTime,
              values: r.values as FeatureValue[],
            });
            if (buffer.length >= chunkRows) await flush();
          }
        }
        if (buffer.length > 0) await flush();
      } finally {
        // A failed read must not leave a write unobserved; its own failure wins over none.
        if (pending !== null) await pending;
      }
      signal?.throwIfAborted();
      mark = {
        start: plan.markStart,
        // A forced rerun inside the marked range leaves the mark's end where it was.
        end: plan.continues ? Math.max(we, plan.previous!.end) : we,
        newestEventTime: newest,
        updatedAt: now(),
      };
      await online.setMaterialized(view, mark);
      windowsDone++;
      report(true);
    }
    results.push({
      view,
      from: new Date(plan.from),
      to: new Date(plan.to),
      resumed: plan.resumed,
      windows: windowsOf(plan),
      rows: viewRows,
      rowsStored: viewStored,
      mark,
    });
  }
  const seconds = (now() - began) / 1000;
  return {
    views: results,
    rows,
    rowsStored,
    seconds,
    rowsPerSecond: seconds > 0 ? rows / seconds : 0,
  };
}

/** Epoch microseconds to epoch milliseconds, rounded down (also before 1970). */
function floorMs(us: bigint): number {
  const ms = us / 1000n;
  return Number(us < 0n && ms * 1000n !== us ? ms - 1n : ms);
}
