/**
 * Retention for the stored vector indexes (`vectors/<name>/<version>/…`, see `stored-index.ts`).
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import { type ArtifactStore, readArtifact } from '../storage/artifacts/artifact-store.js';

/** Defaults of {@link pruneVectorIndexes}. */
export const VECTOR_RETENTION_DEFAULTS = Object.freeze({
  /** Newest complete versions kept per index, the current one counted among them when it is one of them. */
  keep: 2,
  /** A version without `meta.json` whose newest object is older than this is an orphan. */
  partialAgeMs: 60 * 60 * 1000,
});

/** Options of {@link pruneVectorIndexes}. */
export interface VectorRetention {
  /** @defaultValue {@link VECTOR_RETENTION_DEFAULTS}.keep */
  keep?: number;
  /** @defaultValue {@link VECTOR_RETENTION_DEFAULTS}.partialAgeMs */
  partialAgeMs?: number;
  /** Delete nothing; report what would go. @defaultValue false */
  dryRun?: boolean;
  /** The clock partial versions are aged by. @defaultValue Date.now() */
  now?: number;
  signal?: AbortSignal;
}

/** What {@link pruneVectorIndexes} did. */
export interface VectorPruneResult {
  /** The version folders kept (`vectors/NAME/VERSION`), sorted. */
  kept: string[];
  /** The version folders deleted (or that would be), sorted. */
  deleted: string[];
  /** The objects deleted (or that would be), sorted. */
  deletedKeys: string[];
}

interface Version {
  keys: string[];
  complete: boolean;
  newest: number;
}

/**
 * Deletes old versions of every vector index on `store`: per index it keeps the version its
 * `current` pointer names and the `keep` newest complete versions (version names start with their
 * UTC time, so name order is age order), and deletes the other complete versions and the partial
 * ones (no `meta.json`: a build that died) whose newest object is older than `partialAgeMs`. A
 * younger partial version may be a build still writing and is kept; so is a younger complete
 * version newer than the current one (a build about to move the pointer). Indexes without a `current` pointer
 * lose only old partial versions.
 *
 * @throws InvalidArgumentError naming `keep` or `partialAgeMs`.
 * @example
 * const { deleted } = await pruneVectorIndexes(store, { keep: 2 });
 */
export async function pruneVectorIndexes(
  store: ArtifactStore,
  options: VectorRetention = {},
): Promise<VectorPruneResult> {
  const keep = options.keep ?? VECTOR_RETENTION_DEFAULTS.keep;
  const partialAgeMs = options.partialAgeMs ?? VECTOR_RETENTION_DEFAULTS.partialAgeMs;
  if (!Number.isInteger(keep) || keep < 0)
    throw new InvalidArgumentError('keep', `must be a non-negative integer, got ${keep}`);
  if (!Number.isFinite(partialAgeMs) || partialAgeMs < 0)
    throw new InvalidArgumentError(
      'partialAgeMs',
      `must be a non-negative number, got ${partialAgeMs}`,
    );
  const now = options.now ?? Date.now();
  const indexes = new Map<string, { current: boolean; versions: Map<string, Version> }>();
  for (const info of await store.list(
    'vectors/',
    options.signal ? { signal: options.signal } : {},
  )) {
    const [, name, version, ...rest] = info.key.split('/');
    if (name === undefined || version === undefined) continue;
    let index = indexes.get(name);
    if (index === undefined) indexes.set(name, (index = { current: false, versions: new Map() }));
    if (version === 'current' && rest.length === 0) {
      index.current = true;
      continue;
    }
    let v = index.versions.get(version);
    if (v === undefined)
      index.versions.set(version, (v = { keys: [], complete: false, newest: 0 }));
    v.keys.push(info.key);
    if (rest.length === 1 && rest[0] === 'meta.json') v.complete = true;
    v.newest = Math.max(v.newest, info.modified.getTime());
  }
  const kept: string[] = [];
  const deleted: string[] = [];
  const deletedKeys: string[] = [];
  for (const [name, index] of indexes) {
    const current = index.current
      ? (await readArtifact(store, `vectors/${name}/current`)).toString('utf8').trim()
      : null;
    const names = [...index.versions.keys()].sort();
    const complete = names.filter((v) => index.versions.get(v)!.complete);
    const newestComplete = new Set(keep === 0 ? [] : complete.slice(-keep));
    for (const version of names) {
      const v = index.versions.get(version)!;
      const folder = `vectors/${name}/${version}`;
      const keepIt =
        version === current ||
        (v.complete
          ? newestComplete.has(version) ||
            (current !== null && version > current && now - v.newest < partialAgeMs)
          : now - v.newest < partialAgeMs);
      if (keepIt) {
        kept.push(folder);
        continue;
      }
      deleted.push(folder);
      deletedKeys.push(...v.keys);
    }
  }
  deletedKeys.sort();
  if (options.dryRun !== true)
    for (const key of deletedKeys) {
      options.signal?.throwIfAborted();
      await store.delete(key);
    }
  return { kept: kept.sort(), deleted: deleted.sort(), deletedKeys };
}
