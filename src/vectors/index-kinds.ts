/**
 * The registry of {@link VectorIndex} kinds: a kind name (`exact`, `hnsw`) to the functions that
 * make an empty index of that kind and read one back from its serialized bytes. Each
 * implementation is loaded by dynamic import when first asked for, so a process that never uses
 * HNSW never loads usearch.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { VectorIndex, VectorMetric } from './vector-index.js';

/** Build settings a kind may use (each ignores those it has no use for). */
export interface VectorIndexBuildOptions {
  /** HNSW: links per node (M). */
  connectivity?: number;
  /** HNSW: search breadth while building (efConstruction). */
  expansionAdd?: number;
  /** HNSW: default search breadth (ef). */
  expansionSearch?: number;
  /** HNSW: threads for batches of adds and queries. */
  threads?: number;
}

/** How one kind of index is made and read back. */
export interface VectorIndexKind {
  /** The name stored in an index's `meta.json` and given to `--kind`. */
  readonly name: string;
  /** Whether the kind answers exactly (else approximately). */
  readonly exact: boolean;
  /** A new, empty index. */
  create(
    dim: number,
    metric: VectorMetric,
    options?: VectorIndexBuildOptions,
  ): Promise<VectorIndex>;
  /** The inverse of the kind's {@link VectorIndex.serialize}. */
  deserialize(bytes: Uint8Array): Promise<VectorIndex>;
}

const KINDS: ReadonlyMap<string, VectorIndexKind> = new Map<string, VectorIndexKind>([
  [
    'exact',
    {
      name: 'exact',
      exact: true,
      create: async (dim, metric) => {
        const { ExactVectorIndex } = await import('./exact-index.js');
        return new ExactVectorIndex({ dim, metric });
      },
      deserialize: async (bytes) => {
        const { ExactVectorIndex } = await import('./exact-index.js');
        return ExactVectorIndex.deserialize(bytes);
      },
    },
  ],
  [
    'hnsw',
    {
      name: 'hnsw',
      exact: false,
      create: async (dim, metric, options = {}) => {
        const { HnswVectorIndex } = await import('./hnsw-index.js');
        return HnswVectorIndex.create(dim, metric, options);
      },
      deserialize: async (bytes) => {
        const { HnswVectorIndex } = await import('./hnsw-index.js');
        return HnswVectorIndex.deserialize(bytes);
      },
    },
  ],
]);

/** The registered kind names, in registration order. */
export function vectorIndexKindNames(): string[] {
  return [...KINDS.keys()];
}

/**
 * The kind registered under `name`.
 *
 * @param field - the name errors give the kind (an option or file field).
 * @throws InvalidArgumentError naming `field` when no kind has that name.
 * @example
 * ```ts
 * const index = await vectorIndexKind('exact').create(64, 'cosine');
 * ```
 */
export function vectorIndexKind(name: string, field = 'kind'): VectorIndexKind {
  const kind = KINDS.get(name);
  if (kind === undefined)
    throw new InvalidArgumentError(
      field,
      `unknown vector index kind "${name}"; known: ${vectorIndexKindNames().join(', ')}`,
    );
  return kind;
}
