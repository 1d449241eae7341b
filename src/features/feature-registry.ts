/**
 * The feature registry (issue 20): the versioned record of a feature repository's definitions in
 * the metadata store. `plan` compares a repository with what is recorded, `apply` records a new
 * version of each object that changed (or a removal). The store is the {@link FeatureRegistry}
 * seam (`metadata.featureRegistry`); the comparison is here, shared by every implementation.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { relative, sep } from 'node:path';
import type { FeatureRepository } from './feature-types.js';

/** The kinds of registry objects, in the order plans list them. */
export const FEATURE_OBJECT_KINDS = ['entity', 'source', 'featureView', 'featureService'] as const;
export type FeatureObjectKind = (typeof FEATURE_OBJECT_KINDS)[number];

/** A definition as the registry stores it: JSON, with source paths relative to the repository. */
export type RegistryDefinition = Record<string, unknown>;

/** The current version of one registry object. */
export interface RegisteredFeatureObject {
  kind: FeatureObjectKind;
  name: string;
  /** 1 for the first apply, one more for each change. */
  version: number;
  definition: RegistryDefinition;
  /** SHA-256 (hex) of the canonical JSON of `definition`. */
  contentHash: string;
  appliedAt: Date;
  appliedBy: string;
}

/** One field that differs between the recorded and the new definition; absent = undefined. */
export interface FieldChange {
  /** Dotted path inside the definition, e.g. `ttlSeconds` or `features.clicks_7d.type`. */
  field: string;
  before?: unknown;
  after?: unknown;
}

/** What `apply` does (or did) to one object. */
export interface FeatureRegistryChange {
  kind: FeatureObjectKind;
  name: string;
  action: 'added' | 'changed' | 'removed' | 'unchanged';
  /** The recorded version before, if any. */
  fromVersion?: number;
  /** The version `apply` records (added, changed), or the current one (unchanged). */
  toVersion?: number;
  /** Field-level differences (changed only; empty otherwise). */
  fields: FieldChange[];
  /** The new definition (added, changed, unchanged). */
  definition?: RegistryDefinition;
  contentHash?: string;
}

/**
 * The registry seam (`metadata.featureRegistry`), kept in the metadata store's database
 * (`kiban_feature_registry`, SQLite or PostgreSQL).
 */
export interface FeatureRegistry {
  /** What {@link apply} would change, in kind then name order; writes nothing. */
  plan(repo: FeatureRepository): Promise<FeatureRegistryChange[]>;
  /**
   * Records a new version of every added or changed object and a removal of every object the
   * repository no longer defines, in one transaction; returns the changes (as `plan` would have).
   * Applying the same repository again records nothing (every change `unchanged`).
   * @throws ConflictError when another apply recorded a version in between.
   */
  apply(
    repo: FeatureRepository,
    options?: { appliedBy?: string },
  ): Promise<FeatureRegistryChange[]>;
  /** The current version of every object not removed, in kind then name order. */
  list(): Promise<RegisteredFeatureObject[]>;
  /** The current version of one object, or null when it was never applied or is removed. */
  get(kind: FeatureObjectKind, name: string): Promise<RegisteredFeatureObject | null>;
}

/** One object of a repository as the registry records it. */
export interface RegistryEntry {
  kind: FeatureObjectKind;
  name: string;
  definition: RegistryDefinition;
  contentHash: string;
}

/**
 * A repository's objects as registry entries. Source paths are stored relative to the
 * repository root (with `/`), so the same repository checked out elsewhere plans no change.
 */
export function registryEntries(repo: FeatureRepository): RegistryEntry[] {
  const entries: RegistryEntry[] = [];
  const push = (kind: FeatureObjectKind, name: string, definition: RegistryDefinition) =>
    entries.push({ kind, name, definition, contentHash: contentHash(definition) });
  for (const e of repo.entities.values())
    push(
      'entity',
      e.name,
      compact({ joinKey: e.joinKey, type: e.type, description: e.description }),
    );
  for (const s of repo.sources.values())
    push(
      'source',
      s.name,
      compact({
        path: s.path === undefined ? undefined : relative(repo.root, s.path).split(sep).join('/'),
        query: s.query,
        timestamp: s.timestamp,
        createdTimestamp: s.createdTimestamp,
        description: s.description,
      }),
    );
  for (const v of repo.featureViews.values())
    push(
      'featureView',
      v.name,
      compact({
        entities: v.entities,
        source: v.source,
        ttlSeconds: v.ttlSeconds,
        features: Object.fromEntries(
          v.features.map((f) => [f.name, compact({ type: f.type, description: f.description })]),
        ),
        owner: v.owner,
        description: v.description,
        tags: v.tags,
      }),
    );
  for (const s of repo.featureServices.values())
    push(
      'featureService',
      s.name,
      compact({
        features: s.features.map((f) => `${f.view}:${f.feature}`),
        owner: s.owner,
        description: s.description,
      }),
    );
  return entries.sort(byKindThenName);
}

/**
 * The changes that take `current` (the registry's current objects) to `repo`. `removed` holds
 * the last version (a removal) of objects removed earlier, keyed `kind:name`: one added again
 * continues from there.
 */
export function planFeatureRegistry(
  current: readonly RegisteredFeatureObject[],
  repo: FeatureRepository,
  removed: ReadonlyMap<string, number> = new Map(),
): FeatureRegistryChange[] {
  const recorded = new Map(current.map((o) => [`${o.kind}\u0000${o.name}`, o]));
  const changes: FeatureRegistryChange[] = [];
  for (const entry of registryEntries(repo)) {
    const key = `${entry.kind}\u0000${entry.name}`;
    const before = recorded.get(key);
    recorded.delete(key);
    const base = {
      kind: entry.kind,
      name: entry.name,
      definition: entry.definition,
      contentHash: entry.contentHash,
    };
    if (before === undefined)
      changes.push({
        ...base,
        action: 'added',
        toVersion: (removed.get(`${entry.kind}:${entry.name}`) ?? 0) + 1,
        fields: [],
      });
    else if (before.contentHash === entry.contentHash)
      changes.push({
        ...base,
        action: 'unchanged',
        fromVersion: before.version,
        toVersion: before.version,
        fields: [],
      });
    else
      changes.push({
        ...base,
        action: 'changed',
        fromVersion: before.version,
        toVersion: before.version + 1,
        fields: diffDefinitions(before.definition, entry.definition),
      });
  }
  for (const gone of recorded.values())
    changes.push({
      kind: gone.kind,
      name: gone.name,
      action: 'removed',
      fromVersion: gone.version,
      fields: [],
    });
  return changes.sort(byKindThenName);
}

/** Leaf-level differences of two definitions; arrays compare as whole values. */
export function diffDefinitions(before: unknown, after: unknown, prefix = ''): FieldChange[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) =>
      diffDefinitions(before[k], after[k], prefix === '' ? k : `${prefix}.${k}`),
    );
  }
  if (canonicalJson(before) === canonicalJson(after)) return [];
  return [
    {
      field: prefix,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    },
  ];
}

/** SHA-256 (hex) of the canonical JSON (keys sorted) of a definition. */
export function contentHash(definition: unknown): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

/** JSON with object keys sorted at every level, so equal definitions hash equal. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value))
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function byKindThenName(
  a: { kind: FeatureObjectKind; name: string },
  b: { kind: FeatureObjectKind; name: string },
): number {
  const k = FEATURE_OBJECT_KINDS.indexOf(a.kind) - FEATURE_OBJECT_KINDS.indexOf(b.kind);
  return k !== 0 ? k : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function compact(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
