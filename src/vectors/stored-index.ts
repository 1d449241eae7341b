/**
 * Vector indexes kept on the {@link ArtifactStore}, by name, in versions:
 *
 * ```
 * vectors/<name>/<version>/index.bin   the index's serialize()
 * vectors/<name>/<version>/ids         JSON array of the string ids in key order (absent: keys are row numbers)
 * vectors/<name>/<version>/attributes  the items' attributes, when they have any (VectorAttributes)
 * vectors/<name>/<version>/meta.json   {kind, dim, metric, count, ids, created_at, attributes?, folded_through?}
 * vectors/<name>/current               the current version, written last
 * ```
 *
 * Each `put` is atomic and the pointer is written after the version's objects, so a reader sees
 * the previous version or the whole new one, never a part. `meta.json` is written after the
 * version's other objects, so a version folder without it is partial (a build in progress, or
 * one that died: `kiban artifacts prune` removes those once they are old).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { type ArtifactStore, readArtifact } from '../storage/artifacts/artifact-store.js';
import { vectorIndexKind } from './index-kinds.js';
import { VectorAttributes } from './vector-attributes.js';
import { VECTOR_METRICS, type VectorIndex, type VectorMetric } from './vector-index.js';

/** What `meta.json` of a stored index holds. */
export interface StoredVectorIndexMeta {
  kind: string;
  dim: number;
  metric: VectorMetric;
  /** Keys in the index. */
  count: number;
  /** `strings`: an `ids` object maps key `i` to `ids[i]`; `row-numbers`: the key is the id. */
  ids: 'strings' | 'row-numbers';
  /** ISO 8601. */
  created_at: string;
  /** The attribute names items may be filtered by (absent: none). */
  attributes?: string[];
  /**
   * The highest incremental change (`VectorUpdate.seq`) folded into this version: a server
   * applies only later ones on top. Absent: 0, nothing folded (versions saved before folding).
   */
  folded_through?: number;
}

/** A stored index read back by {@link loadVectorIndex}. */
export interface LoadedVectorIndex {
  index: VectorIndex;
  /** Key `i`'s string id, or null when keys are row numbers. */
  ids: string[] | null;
  meta: StoredVectorIndexMeta;
  version: string;
  /** Key `i`'s attributes (empty when the version has none). */
  attributes: VectorAttributes;
}

const NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Checks an index name: 1 to 128 letters, digits, `-` and `_`.
 *
 * @throws InvalidArgumentError naming `field`.
 */
export function assertVectorIndexName(name: unknown, field = 'name'): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(name)} is not an index name: use 1 to 128 letters, digits, "-" and "_"`,
    );
}

/** The key prefix of an index's objects: `vectors/<name>/`. */
export function vectorIndexPrefix(name: string): string {
  assertVectorIndexName(name);
  return `vectors/${name}/`;
}

/** Options of {@link saveVectorIndex}. */
export interface SaveVectorIndexOptions {
  /**
   * Versions kept, the new one included; older ones are deleted once the pointer has moved
   * (a reader still loading one of those fails with NotFoundError and may retry). @defaultValue 2
   */
  keep?: number;
  /** The keys' attributes, stored with the version. @defaultValue none */
  attributes?: VectorAttributes;
  /** Recorded as `folded_through` (see {@link StoredVectorIndexMeta}). @defaultValue 0 */
  foldedThrough?: number;
}

/**
 * Stores `index` under `name` as a new version, makes it current, then deletes all but the
 * `keep` newest versions.
 *
 * @param ids - key `i`'s string id for `i` in `0 … index.size - 1` (keys must then be exactly
 *   those), or null when keys are row numbers.
 * @returns the new version.
 * @throws InvalidArgumentError naming `name` or `ids`.
 * @example
 * ```ts
 * const version = await saveVectorIndex(store, 'items', index, ['a', 'b', 'c']);
 * ```
 */
export async function saveVectorIndex(
  store: ArtifactStore,
  name: string,
  index: VectorIndex,
  ids: readonly string[] | null,
  options: SaveVectorIndexOptions = {},
): Promise<string> {
  const prefix = vectorIndexPrefix(name);
  const keep = options.keep ?? 2;
  if (!Number.isInteger(keep) || keep < 1)
    throw new InvalidArgumentError('keep', `must be a positive integer, got ${keep}`);
  if (ids !== null && ids.length !== index.size)
    throw new InvalidArgumentError(
      'ids',
      `holds ${ids.length} ids but the index holds ${index.size} keys`,
    );
  const version = `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const meta: StoredVectorIndexMeta = {
    kind: index.kind,
    dim: index.dim,
    metric: index.metric,
    count: index.size,
    ids: ids === null ? 'row-numbers' : 'strings',
    created_at: new Date().toISOString(),
  };
  const foldedThrough = options.foldedThrough ?? 0;
  if (!Number.isSafeInteger(foldedThrough) || foldedThrough < 0)
    throw new InvalidArgumentError(
      'foldedThrough',
      `must be a non-negative integer, got ${foldedThrough}`,
    );
  if (foldedThrough > 0) meta.folded_through = foldedThrough;
  const attributes = options.attributes?.serialize(index.size) ?? null;
  if (attributes !== null) meta.attributes = options.attributes!.names;
  await store.put(`${prefix}${version}/index.bin`, index.serialize());
  if (ids !== null) await store.put(`${prefix}${version}/ids`, JSON.stringify(ids));
  if (attributes !== null) await store.put(`${prefix}${version}/attributes`, attributes);
  await store.put(`${prefix}${version}/meta.json`, `${JSON.stringify(meta, null, 2)}\n`);
  await store.put(`${prefix}current`, `${version}\n`);
  // Versions start with their UTC time, so key order is age order.
  const objects = await store.list(prefix);
  const versions = [...new Set(objects.map((o) => o.key.slice(prefix.length).split('/')[0]))]
    .filter((v) => v !== 'current' && v !== version)
    .sort();
  const stale = new Set(versions.slice(0, Math.max(0, versions.length - (keep - 1))));
  for (const { key } of objects)
    if (stale.has(key.slice(prefix.length).split('/')[0])) await store.delete(key);
  return version;
}

/**
 * The current version of the index `name` and its metadata, without loading the index.
 *
 * @throws NotFoundError when no index has that name.
 * @throws DataError when its metadata is malformed.
 */
export async function readVectorIndexMeta(
  store: ArtifactStore,
  name: string,
): Promise<{ version: string; meta: StoredVectorIndexMeta; bytes: number }> {
  const prefix = vectorIndexPrefix(name);
  const pointer = await store.stat(`${prefix}current`);
  if (pointer === null) throw new NotFoundError(`vector index "${name}"`);
  const version = (await readArtifact(store, `${prefix}current`)).toString('utf8').trim();
  const metaKey = `${prefix}${version}/meta.json`;
  let meta: StoredVectorIndexMeta;
  try {
    meta = JSON.parse((await readArtifact(store, metaKey)).toString('utf8'));
  } catch (cause) {
    if (cause instanceof NotFoundError) throw cause;
    throw new DataError({ file: metaKey }, 'is not JSON', { cause });
  }
  if (
    typeof meta?.kind !== 'string' ||
    !Number.isInteger(meta.dim) ||
    !Number.isInteger(meta.count) ||
    !VECTOR_METRICS.includes(meta.metric) ||
    (meta.ids !== 'strings' && meta.ids !== 'row-numbers') ||
    (meta.folded_through !== undefined &&
      (!Number.isSafeInteger(meta.folded_through) || meta.folded_through < 0)) ||
    (meta.attributes !== undefined && !Array.isArray(meta.attributes))
  )
    throw new DataError(
      { file: metaKey },
      'lacks kind, dim, metric, count or ids, or has a malformed folded_through or attributes',
    );
  let bytes = 0;
  for (const info of await store.list(`${prefix}${version}/`)) bytes += info.size;
  return { version, meta, bytes };
}

/**
 * Loads the current version of the index `name`.
 *
 * @throws NotFoundError when no index has that name.
 * @throws DataError when a stored object is malformed.
 * @example
 * ```ts
 * const { index, ids } = await loadVectorIndex(store, 'items');
 * ```
 */
export async function loadVectorIndex(
  store: ArtifactStore,
  name: string,
): Promise<LoadedVectorIndex> {
  const { version, meta } = await readVectorIndexMeta(store, name);
  const base = `${vectorIndexPrefix(name)}${version}/`;
  const kind = vectorIndexKind(meta.kind, `${base}meta.json kind`);
  const stored = await readArtifact(store, `${base}index.bin`);
  // A plain Uint8Array view, not the Buffer: Buffer#slice shares memory where Uint8Array#slice
  // copies, and a pooled Buffer sits at an arbitrary offset of its ArrayBuffer.
  const index = await kind.deserialize(
    new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength),
  );
  let ids: string[] | null = null;
  if (meta.ids === 'strings') {
    const parsed: unknown = JSON.parse((await readArtifact(store, `${base}ids`)).toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== meta.count) {
      index.close();
      throw new DataError({ file: `${base}ids` }, `is not a JSON array of ${meta.count} ids`);
    }
    ids = parsed.map(String);
  }
  let attributes = new VectorAttributes();
  if (meta.attributes !== undefined && meta.attributes.length > 0) {
    try {
      const text = (await readArtifact(store, `${base}attributes`)).toString('utf8');
      attributes = VectorAttributes.parse(text, meta.count, `${base}attributes`);
    } catch (error) {
      index.close();
      throw error;
    }
  }
  return { index, ids, meta, version, attributes };
}
