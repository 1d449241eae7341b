/**
 * What `kiban vectors build` and `kiban vectors embed` share: the store flags and how the store
 * is opened, and the flags choosing the index built (`--kind`, `--metric`, the HNSW ones) with
 * the index they give.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { artifactStoreUrl, openArtifactStore } from '../app/open-artifact-store.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import {
  type VectorIndexKind,
  vectorIndexKind,
  vectorIndexKindNames,
} from '../vectors/index-kinds.js';
import { VECTOR_METRICS, type VectorIndex, type VectorMetric } from '../vectors/vector-index.js';
import { flagOverlay } from './config-flags.js';

/** `--kind auto` builds an exact index below this many vectors, an approximate (HNSW) one from it. */
export const AUTO_EXACT_MAX_ROWS = 50_000;

/** The store flags of {@link withStoreOptions}. */
export interface VectorStoreOptions {
  config?: string;
  artifacts?: string;
}

/** The index flags of {@link withIndexOptions}. */
export interface VectorIndexOptions {
  kind: string;
  metric: VectorMetric;
  connectivity?: number;
  efConstruction?: number;
}

/** Adds `--config` and `--artifacts` (the artifact store holding the indexes). */
export function withStoreOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration naming the stores (default: the embedded ones)')
    .option(
      '--artifacts <url>',
      'artifact store holding the indexes (default: stores.artifacts), file:DIR or s3://BUCKET/PREFIX?endpoint=…',
    );
}

/** The artifact store named by `--artifacts`, else by the configuration's `stores.artifacts`. */
export async function openConfiguredArtifacts(
  options: VectorStoreOptions,
  command: Command,
): Promise<ArtifactStore> {
  const config = await loadKibanConfig({
    ...(options.config === undefined ? {} : { file: options.config }),
    flags: flagOverlay(command, { artifacts: ['stores.artifacts', '--artifacts'] }),
  });
  return openArtifactStore(artifactStoreUrl(config.stores.artifacts), {
    field: options.artifacts === undefined ? 'stores.artifacts' : '--artifacts',
  });
}

/** Adds `--kind`, `--metric`, `--connectivity` and `--ef-construction`; `unit` names the rows in help. */
export function withIndexOptions(command: Command, unit: string): Command {
  return command
    .addOption(
      new Option(
        '--kind <kind>',
        `index kind: exact (brute force), hnsw (approximate), or auto (exact below ${AUTO_EXACT_MAX_ROWS.toLocaleString('en')} ${unit})`,
      )
        .choices(['auto', 'exact', 'hnsw'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--metric <metric>',
        'cosine similarity, inner product (ip) or squared L2 distance',
      )
        .choices(VECTOR_METRICS)
        .default('cosine'),
    )
    .option('--connectivity <n>', 'hnsw: links per node (M)', (v) =>
      positiveFlag('--connectivity', v),
    )
    .option('--ef-construction <n>', 'hnsw: search breadth while building', (v) =>
      positiveFlag('--ef-construction', v),
    );
}

/** An empty index of the kind the flags ask for (`auto`: by `rows`), for `dim`-dimensional rows. */
export async function createFlaggedIndex(
  options: VectorIndexOptions,
  rows: number,
  dim: number,
): Promise<{ kind: VectorIndexKind; index: VectorIndex }> {
  const name =
    options.kind === 'auto'
      ? rows < AUTO_EXACT_MAX_ROWS || !vectorIndexKindNames().includes('hnsw')
        ? 'exact'
        : 'hnsw'
      : options.kind;
  const kind = vectorIndexKind(name, '--kind');
  const index = await kind.create(dim, options.metric, {
    ...(options.connectivity === undefined ? {} : { connectivity: options.connectivity }),
    ...(options.efConstruction === undefined ? {} : { expansionAdd: options.efConstruction }),
  });
  return { kind, index };
}

/** Parses a flag's positive integer. @throws InvalidArgumentError naming `flag`. */
export function positiveFlag(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(flag, `must be a positive integer, got "${value}"`);
  return n;
}
