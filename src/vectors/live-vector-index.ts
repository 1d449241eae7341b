import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { childLogger, type Logger, processLogger } from '../core/log.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { assertVectorIndexName, loadVectorIndex, readVectorIndexMeta } from './stored-index.js';
import {
  type AttributeFilter,
  assertItemAttributes,
  type ItemAttributes,
  type VectorAttributes,
} from './vector-attributes.js';
import type { VectorIndex, VectorMetric } from './vector-index.js';
import type { VectorUpdate, VectorUpdateStore } from './vector-update-store.js';
import { Poller } from '../core/poller.js';

/** Options of {@link LiveVectorIndex}. */
export interface LiveVectorIndexOptions {
  /** How often the index's `current` pointer is read. @defaultValue 2000 */
  pollMs?: number;
  /**
   * Where incremental changes are kept (`metadata.vectorUpdates`): those a loaded version has not
   * folded (`seq` above its `folded_through`) are applied on top of it, and {@link LiveVectorIndex.upsert} and {@link LiveVectorIndex.delete}
   * write them there first. @defaultValue none: changes are refused
   */
  updates?: VectorUpdateStore;
  /** Where swaps (info) and load problems (error) are reported. @defaultValue the process logger's `vectors` child */
  logger?: Logger;
}

/** A loaded version of a named index, with its string ids. */
export interface LiveVectorSnapshot {
  readonly name: string;
  readonly version: string;
  readonly index: VectorIndex;
  readonly dim: number;
  readonly metric: VectorMetric;
  /** Key `k`'s string id (keys past the loaded ones were added by incremental changes). */
  readonly ids: readonly string[];
  /** String id → key, for every id that has (or had) a key. */
  readonly keys: ReadonlyMap<string, number>;
  /** The attribute names items can be filtered by (see {@link LiveVectorSearchOptions.filter}). */
  readonly attributeNames: readonly string[];
  /** The highest incremental change folded into the stored version (0: none). */
  readonly foldedThrough: number;
}

/** One neighbour in an answer. */
export interface LiveVectorHit {
  id: string;
  /** Similarity (`cosine`, `ip`: higher is closer) or squared distance (`l2`: lower is closer). */
  score: number;
}

/** What {@link LiveVectorIndex.search} is asked besides the queries. */
export interface LiveVectorSearchOptions {
  k: number;
  /** String ids never answered. */
  exclude?: Iterable<string>;
  /** Only items whose attributes hold (every attribute one of its values). */
  filter?: AttributeFilter;
  /** The request field named when `filter` is refused. @defaultValue 'filter' */
  filterField?: string;
}

interface Mutable {
  name: string;
  version: string;
  index: VectorIndex;
  dim: number;
  metric: VectorMetric;
  ids: string[];
  keys: Map<string, number>;
  attributes: VectorAttributes;
  foldedThrough: number;
  readonly attributeNames: readonly string[];
}

/**
 * The current version of one named vector index, as a serving process answers with it. Every
 * `pollMs` it reads the index's `current` pointer on the {@link ArtifactStore}; when a new version
 * was saved it loads it beside the current one, applies the persisted incremental changes it has
 * not folded (`seq` above its `folded_through`) on top,
 * then swaps the reference in one assignment (a search holds the snapshot it started with). A
 * version that fails to load is reported once and the current one keeps answering.
 *
 * Incremental changes (`upsert`, `delete`) are written to the {@link VectorUpdateStore} first and
 * then applied to the loaded index at once: an id the version does not know gets the next key
 * past those in use. Changes and swaps are serialised, so a change made while a new version loads
 * is applied to that version too.
 *
 * @example
 * ```ts
 * const live = new LiveVectorIndex(artifacts, 'items', { updates: metadata.vectorUpdates });
 * live.start();
 * const [hits] = await live.search(query, { k: 10 });
 * ```
 */
export class LiveVectorIndex {
  readonly name: string;
  readonly #artifacts: ArtifactStore;
  readonly #updates: VectorUpdateStore | undefined;
  readonly #logger: Logger;
  #current: Mutable | null = null;
  readonly #poller: Poller<LiveVectorSnapshot | null>;
  #failed: string | null = null;
  #closed = false;
  /** Tail of the chain that serialises changes and swaps. */
  #lock: Promise<unknown> = Promise.resolve();

  /** @throws InvalidArgumentError naming `name` when it is not an index name. */
  constructor(artifacts: ArtifactStore, name: string, options: LiveVectorIndexOptions = {}) {
    assertVectorIndexName(name);
    const pollMs = options.pollMs ?? 2000;
    if (!Number.isInteger(pollMs) || pollMs < 1)
      throw new InvalidArgumentError('pollMs', `must be a positive integer, got ${pollMs}`);
    this.name = name;
    this.#artifacts = artifacts;
    this.#poller = new Poller(() => this.#check(), pollMs);
    this.#updates = options.updates;
    this.#logger = options.logger ?? childLogger(processLogger(), 'vectors');
  }

  /** The version answering now, or null before one is loaded. */
  get current(): LiveVectorSnapshot | null {
    return this.#current;
  }

  /** Starts polling (the timer does not keep the process alive). */
  start(): void {
    if (this.#closed) return;
    this.#poller.start();
  }

  /**
   * Reads the pointer now and loads a newer version if there is one; concurrent calls share one
   * check. Never throws: problems are logged and the current version stays.
   */
  refresh(): Promise<LiveVectorSnapshot | null> {
    return this.#poller.run();
  }

  /** Stops polling and releases the loaded index. */
  close(): void {
    this.#closed = true;
    this.#poller.stop();
    const current = this.#current;
    this.#current = null;
    // After any change in flight: it may still be writing into the index.
    void this.#serial(async () => current?.index.close());
  }

  /**
   * The `k` nearest ids to each of the `queries` (`m × dim`, row-major) in `snapshot` (a
   * {@link current} value: a search keeps answering from the version it started with), closest
   * first, leaving out the `exclude` ids and, with `filter`, the items whose attributes do not
   * match. A filter leaves the search exact for exact indexes and, for HNSW, over-fetches and
   * falls back to an exact scan of the matching items, so a selective filter still answers `k`
   * items when that many match.
   *
   * @throws InvalidArgumentError naming `vector` when the length is not a positive multiple of
   *   `dim`, or `filterField` when the filter names an attribute the index does not have.
   */
  async search(
    snapshot: LiveVectorSnapshot,
    queries: Float32Array,
    options: LiveVectorSearchOptions,
  ): Promise<LiveVectorHit[][]> {
    const { index, ids, keys, dim } = snapshot;
    const attributes = (snapshot as Mutable).attributes;
    if (queries.length === 0 || queries.length % dim !== 0)
      throw new InvalidArgumentError(
        'vector',
        `has ${queries.length} numbers, not a multiple of the index's dimension ${dim}`,
      );
    const excluded = new Set<number>();
    for (const id of options.exclude ?? []) {
      const key = keys.get(id);
      if (key !== undefined) excluded.add(key);
    }
    const matches =
      options.filter === undefined || attributes === undefined
        ? null
        : attributes.matcher(options.filter, options.filterField ?? 'filter');
    let filter: ((key: number) => boolean) | undefined;
    if (matches !== null)
      filter = excluded.size === 0 ? matches : (key) => !excluded.has(key) && matches(key);
    else if (excluded.size > 0) filter = (key) => !excluded.has(key);
    const result = await index.search(
      queries,
      filter === undefined ? { k: options.k } : { k: options.k, filter },
    );
    const answers: LiveVectorHit[][] = [];
    for (let q = 0; q < result.counts.length; q++) {
      const hits: LiveVectorHit[] = [];
      for (let j = 0; j < result.counts[q]!; j++) {
        const key = result.keys[q * result.k + j]!;
        hits.push({ id: ids[key] ?? String(key), score: result.scores[q * result.k + j]! });
      }
      answers.push(hits);
    }
    return answers;
  }

  /**
   * Stores `vector` (and, when given, `attributes`: the item's whole set from now on; omitted or
   * null keeps those it has) as `id`'s and applies it to the loaded index.
   *
   * @throws NotFoundError when no version is loaded; InvalidArgumentError naming `field` when
   *   the length is not the index's dimension or a value is not finite, `attributesField` for
   *   malformed attributes, or `updates` when this index keeps no changes.
   */
  upsert(
    id: string,
    vector: Float32Array,
    field = 'vector',
    attributes: ItemAttributes | null = null,
    attributesField = 'attributes',
  ): Promise<void> {
    return this.#serial(async () => {
      const current = this.#requireLoaded();
      if (vector.length !== current.dim)
        throw new InvalidArgumentError(
          field,
          `has ${vector.length} numbers, but the index "${this.name}" has dimension ${current.dim}`,
        );
      for (let i = 0; i < vector.length; i++)
        if (!Number.isFinite(vector[i]))
          throw new InvalidArgumentError(field, `element ${i} is not a finite number`);
      if (attributes !== null) assertItemAttributes(attributes, attributesField);
      const at = new Date();
      const seq = await this.#requireUpdates().upsert(this.name, id, vector, at, attributes);
      await this.#apply(current, [{ id, vector, attributes, at, seq }]);
    });
  }

  /**
   * Records that `id` is deleted and removes it from the loaded index.
   *
   * @returns whether the id was in the index.
   * @throws NotFoundError when no version is loaded; InvalidArgumentError naming `updates` when
   *   this index keeps no changes.
   */
  delete(id: string): Promise<boolean> {
    return this.#serial(async () => {
      const current = this.#requireLoaded();
      const key = current.keys.get(id);
      const present = key !== undefined && current.index.has(key);
      const at = new Date();
      const seq = await this.#requireUpdates().upsert(this.name, id, null, at);
      await this.#apply(current, [{ id, vector: null, attributes: null, at, seq }]);
      return present;
    });
  }

  #requireLoaded(): Mutable {
    if (this.#current === null) throw new NotFoundError(`vector index "${this.name}"`);
    return this.#current;
  }

  #requireUpdates(): VectorUpdateStore {
    if (this.#updates === undefined)
      throw new InvalidArgumentError(
        'updates',
        `the vector index "${this.name}" is served without an update store: changes are not kept`,
      );
    return this.#updates;
  }

  /** Runs `task` after every earlier one (changes and swaps), whatever they ended with. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task, task);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #check(): Promise<LiveVectorSnapshot | null> {
    if (this.#closed) return this.#current;
    let version: string;
    try {
      ({ version } = await readVectorIndexMeta(this.#artifacts, this.name));
    } catch (error) {
      if (!(error instanceof NotFoundError))
        this.#logger.error(
          { index: this.name, err: error },
          `vectors: cannot read the index "${this.name}": ${(error as Error).message}`,
        );
      return this.#current;
    }
    if (version === this.#current?.version || version === this.#failed) return this.#current;
    let loaded: Mutable;
    try {
      const stored = await loadVectorIndex(this.#artifacts, this.name);
      const ids = stored.ids ?? Array.from({ length: stored.meta.count }, (_, i) => String(i));
      const keys = new Map<string, number>();
      for (let k = 0; k < ids.length; k++) keys.set(ids[k]!, k);
      const { attributes } = stored;
      loaded = {
        name: this.name,
        version: stored.version,
        index: stored.index,
        dim: stored.index.dim,
        metric: stored.index.metric,
        ids,
        keys,
        attributes,
        foldedThrough: stored.meta.folded_through ?? 0,
        get attributeNames() {
          return attributes.names;
        },
      };
    } catch (error) {
      this.#failed = version;
      this.#logger.error(
        { index: this.name, version, err: error },
        `vectors: cannot load version ${version} of "${this.name}": ${(error as Error).message}; ${this.#current === null ? 'none is served' : `still serving ${this.#current.version}`}`,
      );
      return this.#current;
    }
    // Under the lock: the changes listed are all those made before the swap, and any made after
    // it are applied to the new version.
    return this.#serial(async () => {
      if (this.#closed) {
        loaded.index.close();
        return null;
      }
      try {
        if (this.#updates !== undefined)
          await this.#apply(
            loaded,
            await this.#updates.list(this.name, { after: loaded.foldedThrough }),
          );
      } catch (error) {
        loaded.index.close();
        this.#logger.error(
          { index: this.name, version, err: error },
          `vectors: cannot apply the changes to version ${version} of "${this.name}": ${(error as Error).message}`,
        );
        return this.#current;
      }
      this.#current = loaded;
      this.#failed = null;
      this.#logger.info(
        { index: this.name, version, size: loaded.index.size },
        `vectors: "${this.name}" now answers with version ${version} (${loaded.index.size} vectors)`,
      );
      // Searches may still hold the previous snapshot, so it is not closed here: it is left to the
      // garbage collector once they finish.
      return loaded;
    });
  }

  /** Applies changes to `target` in two batches (removals, then adds); a vector of another dimension is skipped and reported. */
  async #apply(target: Mutable, updates: readonly VectorUpdate[]): Promise<void> {
    const removed: number[] = [];
    const added: number[] = [];
    const rows: Float32Array[] = [];
    for (const update of updates) {
      if (update.vector === null) {
        const key = target.keys.get(update.id);
        if (key !== undefined && target.index.has(key)) removed.push(key);
        if (key !== undefined) target.attributes.set(key, null);
        continue;
      }
      if (update.vector.length !== target.dim) {
        this.#logger.warn(
          { index: this.name, id: update.id, dim: update.vector.length },
          `vectors: skipping the change to "${update.id}": ${update.vector.length} numbers, the index "${this.name}" has dimension ${target.dim}`,
        );
        continue;
      }
      let key = target.keys.get(update.id);
      if (key === undefined) {
        key = target.ids.length;
        target.ids.push(update.id);
        target.keys.set(update.id, key);
      }
      if (update.attributes !== null) target.attributes.set(key, update.attributes);
      added.push(key);
      rows.push(update.vector);
    }
    if (removed.length > 0) await target.index.remove(removed);
    if (added.length > 0) {
      const matrix = new Float32Array(added.length * target.dim);
      for (let i = 0; i < rows.length; i++) matrix.set(rows[i]!, i * target.dim);
      await target.index.add(Uint32Array.from(added), matrix);
    }
  }
}
