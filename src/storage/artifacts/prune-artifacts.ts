import { InvalidArgumentError } from '../../core/errors.js';
import type { ArtifactStore } from './artifact-store.js';

/**
 * The folders of the artifact key layout that retention manages. A *group* is one folder below
 * them, e.g. `runs/2026-12-01-ab12` (a run's work files and candidates) or `models/als-7` (a
 * trained model or tagger with its files); its age is that of its newest object. Keys outside
 * these folders are never pruned.
 */
export const RETAINED_FOLDERS = Object.freeze({ runs: 'runs', models: 'models' } as const);

/** How many of the newest groups of each folder {@link pruneArtifacts} keeps. */
export interface RetentionCounts {
  /** @defaultValue 30 */
  runs?: number;
  /** @defaultValue 10 */
  models?: number;
}

/** The policy of {@link pruneArtifacts}. */
export interface ArtifactRetention {
  /** How many of the newest groups to keep in each folder, whatever references them. */
  keep?: RetentionCounts;
  /**
   * Keys or folders that something still uses: the files of every published version, every
   * pinned model, every run that is not finished. A group is kept when an entry lies in it
   * (`models/als-7/model.bin`), names it (`models/als-7`, `models/als-7/`) or contains it (`models`).
   */
  referenced: Iterable<string>;
  /** Report what would go without deleting anything. @defaultValue false */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** The defaults of {@link ArtifactRetention}. */
export const ARTIFACT_RETENTION_DEFAULTS = Object.freeze({
  keep: Object.freeze({ runs: 30, models: 10 }),
  dryRun: false,
});

/** What {@link pruneArtifacts} kept and deleted. */
export interface PruneResult {
  /** The groups kept (`runs/ID`, `models/ID`), sorted by name. */
  kept: string[];
  /** The groups deleted (or that would be, with `dryRun`), sorted by name. */
  deleted: string[];
  /** The objects deleted (or that would be), sorted by key. */
  deletedKeys: string[];
}

interface Group {
  name: string;
  keys: string[];
  newest: number;
}

/**
 * Deletes the run and model groups that nothing needs any more: in each of `runs/` and
 * `models/`, every group that is neither among the `keep` newest (by its newest object's
 * modification time; ties by name, the greater first) nor referenced. Everything else in the
 * store is left alone. Deleting is object by object, so a crash leaves a group partly deleted;
 * the next prune finishes it (a group no one references stays unreferenced).
 *
 * Callers gather `referenced` from the metadata store (published versions, pinned models) and the
 * workflow store (runs in progress) just before pruning, so that nothing published in between is
 * lost: a group written after the references were gathered is among the newest.
 *
 * @throws InvalidArgumentError naming `keep.runs` or `keep.models` when a count is not a
 *   non-negative integer.
 * @example
 * ```ts
 * const { deleted } = await pruneArtifacts(store, {
 *   keep: { runs: 30, models: 10 },
 *   referenced: ['models/als-7/model.bin', 'runs/2026-12-01-ab12/candidates.csv'],
 * });
 * ```
 */
export async function pruneArtifacts(
  store: Pick<ArtifactStore, 'list' | 'delete'>,
  retention: ArtifactRetention,
): Promise<PruneResult> {
  const keep = { ...ARTIFACT_RETENTION_DEFAULTS.keep, ...definedOnly(retention.keep ?? {}) };
  for (const folder of ['runs', 'models'] as const) {
    const count = keep[folder];
    if (!Number.isInteger(count) || count < 0)
      throw new InvalidArgumentError(
        `keep.${folder}`,
        `must be a non-negative integer, got ${count}`,
      );
  }
  const referenced = [...retention.referenced].map((entry) => entry.replace(/\/+$/, ''));
  const signal = retention.signal;
  const result: PruneResult = { kept: [], deleted: [], deletedKeys: [] };
  for (const [folder, count] of [
    [RETAINED_FOLDERS.runs, keep.runs],
    [RETAINED_FOLDERS.models, keep.models],
  ] as const) {
    const groups = groupsOf(await store.list(`${folder}/`, { signal }));
    groups.sort((a, b) => b.newest - a.newest || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const [rank, group] of groups.entries()) {
      if (rank < count || referenced.some((entry) => protects(entry, group.name))) {
        result.kept.push(group.name);
        continue;
      }
      result.deleted.push(group.name);
      for (const key of group.keys) {
        signal?.throwIfAborted();
        if (retention.dryRun !== true) await store.delete(key, { signal });
        result.deletedKeys.push(key);
      }
    }
  }
  result.kept.sort();
  result.deleted.sort();
  result.deletedKeys.sort();
  return result;
}

/** Groups the listed objects by their first two key segments (`runs/ID`). */
function groupsOf(objects: { key: string; modified: Date }[]): Group[] {
  const groups = new Map<string, Group>();
  for (const { key, modified } of objects) {
    const segments = key.split('/');
    const name = segments.slice(0, 2).join('/');
    let group = groups.get(name);
    if (group === undefined) {
      group = { name, keys: [], newest: Number.NEGATIVE_INFINITY };
      groups.set(name, group);
    }
    group.keys.push(key);
    group.newest = Math.max(group.newest, modified.getTime());
  }
  return [...groups.values()];
}

/** Whether a referenced key or folder keeps `group`: it lies in the group, names it, or contains it. */
function protects(entry: string, group: string): boolean {
  return entry === group || entry.startsWith(`${group}/`) || group.startsWith(`${entry}/`);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
