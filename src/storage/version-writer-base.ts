import { InvalidArgumentError, KibanError } from '../core/errors.js';
import type { ExternalId } from '../data/id-map.js';
import {
  checkListName,
  encodeItems,
  encodeKey,
  encodeVector,
  vectorSpaceList,
  yieldToEventLoop,
} from './serving-codec.js';
import type { ScoredItem, VersionWriter } from './serving-store.js';

/**
 * One encoded row handed to a backend: the key's string form and the encoded ranked list (or, in
 * an internal `@space` list, the vector's bytes).
 */
export type EncodedRow = readonly [key: string, items: Buffer];

type WriterState = 'open' | 'committing' | 'committed' | 'aborted';

/**
 * The life cycle every backend's {@link VersionWriter} shares, so they behave identically:
 *
 * - operations run one at a time in call order (a `commit()` issued while `putLists` calls are
 *   still running waits for them), so callers may fire `putLists` for several lists at once;
 * - entries are validated and encoded in batches of `batchSize` rows, handed to
 *   {@link writeBatch}, with a turn of the event loop between batches so a long publish does not
 *   starve readers in the same process;
 * - `putLists`, `commit` after `commit` or `abort` throw {@link InvalidArgumentError} (field
 *   `version`); `abort` after `commit` or `abort` is a no-op, so it is safe in a `finally`;
 * - once {@link switchIn} has succeeded the version is live: a failure of the clean-up that
 *   follows ({@link collect}) is reported as an `INTERNAL` error saying so, and the next commit
 *   retries the clean-up.
 */
export abstract class BaseVersionWriter implements VersionWriter {
  #state: WriterState = 'open';
  #tail: Promise<unknown> = Promise.resolve();

  protected constructor(
    readonly version: string,
    private readonly batchSize: number,
  ) {}

  /** Stores one batch of encoded rows of `list` (all rows of one batch belong to one list). */
  protected abstract writeBatch(list: string, rows: readonly EncodedRow[]): Promise<void>;
  /**
   * Waits for batches {@link writeBatch} left in flight; `putLists` calls it before it settles,
   * success or failure, so no write of this writer outlives the call. @defaultValue nothing to wait for
   */
  protected async flushWrites(): Promise<void> {}
  /** Makes the version current in one atomic step, stamping `publishedAt` (ISO-8601). */
  protected abstract switchIn(publishedAt: string): Promise<void>;
  /** Removes the versions {@link versionsToCollect} picks after {@link switchIn}. */
  protected abstract collect(): Promise<void>;
  /** Deletes everything this writer stored and unregisters the version. */
  protected abstract discard(): Promise<void>;

  putLists(
    list: string,
    entries: Iterable<readonly [key: ExternalId, items: readonly ScoredItem[]]>,
  ): Promise<void> {
    return this.#putRows(
      'putLists',
      () => checkListName(list),
      entries,
      (items, i) => encodeItems(items, `entries[${i}].items`),
    );
  }

  putVectors(
    space: string,
    entries: Iterable<readonly [key: ExternalId, vector: Float32Array]>,
  ): Promise<void> {
    // Vectors are rows of an internal list name that no list can have (`@` + space).
    return this.#putRows(
      'putVectors',
      () => vectorSpaceList(space),
      entries,
      (vector, i) => encodeVector(vector, `entries[${i}].vector`),
    );
  }

  #putRows<V>(
    operation: string,
    listName: () => string,
    entries: Iterable<readonly [key: ExternalId, value: V]>,
    encode: (value: V, i: number) => Buffer,
  ): Promise<void> {
    return this.#serialise(async () => {
      this.#assertOpen(operation);
      const list = listName();
      let batch: EncodedRow[] = [];
      let i = 0;
      try {
        for (const [key, value] of entries) {
          batch.push([encodeKey(key, `entries[${i}].key`), encode(value, i)]);
          i++;
          if (batch.length >= this.batchSize) {
            await this.writeBatch(list, batch);
            batch = [];
            await yieldToEventLoop();
          }
        }
        if (batch.length > 0) await this.writeBatch(list, batch);
      } finally {
        await this.flushWrites();
      }
    });
  }

  commit(): Promise<void> {
    return this.#serialise(async () => {
      this.#assertOpen('commit');
      this.#state = 'committing';
      try {
        await this.switchIn(new Date().toISOString());
      } catch (error) {
        // The switch did not happen: the writer stays usable, so the caller can abort.
        this.#state = 'open';
        throw error;
      }
      this.#state = 'committed';
      try {
        await this.collect();
      } catch (cause) {
        throw new KibanError(
          'INTERNAL',
          `version ${this.version} is live, but removing older versions failed; the next commit retries`,
          { cause },
        );
      }
    });
  }

  abort(): Promise<void> {
    return this.#serialise(async () => {
      if (this.#state !== 'open') return;
      this.#state = 'aborted';
      await this.discard();
    });
  }

  #assertOpen(operation: string): void {
    if (this.#state !== 'open') {
      throw new InvalidArgumentError(
        'version',
        `cannot ${operation} version ${this.version}: the writer is ${this.#state}`,
      );
    }
  }

  #serialise<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(operation);
    // A failed operation must not poison the ones queued behind it.
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/** A version a store holds, as {@link versionsToCollect} weighs it. */
export interface HeldVersionEntry {
  readonly version: string;
  /** Begin order (larger began later). */
  readonly seq: number;
  /** When it was switched in (ISO-8601), or null while it is not committed. */
  readonly publishedAt: string | null;
}

/**
 * Orders committed versions newest published first, ties by begin order (later first): the order
 * of `ServingStore.listVersions` and of retention.
 */
export function newestPublishedFirst(a: HeldVersionEntry, b: HeldVersionEntry): number {
  const at = (a.publishedAt ?? '').localeCompare(b.publishedAt ?? '');
  return at !== 0 ? -at : b.seq - a.seq;
}

/**
 * The versions a commit collects, the same rule on every backend: of the committed versions, keep
 * every name in `keep` (the new version, the one it replaced, whichever is current now) and then
 * the most recently published others until `retain` are kept; drop the rest. A version never
 * committed is dropped once it began before the oldest (by begin order) committed version kept,
 * so an abandoned writer goes after a few publishes.
 */
export function versionsToCollect(
  held: readonly HeldVersionEntry[],
  keep: ReadonlySet<string>,
  retain: number,
): string[] {
  const committed = held.filter((v) => v.publishedAt !== null).sort(newestPublishedFirst);
  const kept = new Set([...keep].filter((name) => committed.some((v) => v.version === name)));
  for (const v of committed) {
    if (kept.size >= retain) break;
    kept.add(v.version);
  }
  let oldestKept = Number.POSITIVE_INFINITY;
  for (const v of committed) if (kept.has(v.version)) oldestKept = Math.min(oldestKept, v.seq);
  return held
    .filter((v) =>
      v.publishedAt !== null ? !kept.has(v.version) : v.seq < oldestKept && !keep.has(v.version),
    )
    .map((v) => v.version);
}

/**
 * Checks the `retainVersions` store option: an integer ≥ 2 (the current version and the one it
 * replaced are always kept).
 * @throws InvalidArgumentError naming `retainVersions`.
 */
export function checkRetainVersions(retain: unknown): number {
  if (typeof retain !== 'number' || !Number.isSafeInteger(retain) || retain < 2) {
    throw new InvalidArgumentError(
      'retainVersions',
      `must be an integer ≥ 2 (the current and the previous version), got ${String(retain)}`,
    );
  }
  return retain;
}
