import { basename, dirname, resolve, sep } from 'node:path';
import { Command, Option } from 'commander';
import { openMetadataStore } from '../app/backends.js';
import { loadKibanConfig, storeFields } from '../app/config.js';
import { openArtifactStore } from '../app/open-artifact-store.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { deleteFoldedUpdates, foldVectorUpdates } from '../vectors/fold-vector-updates.js';
import { vectorIndexKind } from '../vectors/index-kinds.js';
import {
  readVectors,
  VECTOR_FILE_FORMATS,
  type VectorFileFormat,
} from '../vectors/read-vectors.js';
import {
  assertVectorIndexName,
  loadVectorIndex,
  readVectorIndexMeta,
  saveVectorIndex,
} from '../vectors/stored-index.js';
import type { VectorIndex } from '../vectors/vector-index.js';
import { flagOverlay } from './config-flags.js';
import { vectorsEmbedCommand } from './vectors-embed-command.js';
import {
  createFlaggedIndex,
  openConfiguredArtifacts,
  positiveFlag,
  type VectorIndexOptions,
  type VectorStoreOptions,
  withIndexOptions,
  withStoreOptions,
} from './vectors-options.js';

/** `kiban vectors`: build, query and describe vector indexes kept on the artifact store. */
export function vectorsCommand(): Command {
  return new Command('vectors')
    .description(
      'Build, query and describe nearest-neighbour indexes over vectors (embeddings), kept by name on the artifact store under vectors/NAME/.',
    )
    .addCommand(buildCommand())
    .addCommand(queryCommand())
    .addCommand(infoCommand())
    .addCommand(vectorsEmbedCommand());
}

type StoreOptions = VectorStoreOptions;

/** The store `--index` names by its folder, else the configured one. */
async function openStore(
  options: StoreOptions,
  command: Command,
  at: IndexRef = { name: '', root: null },
): Promise<ArtifactStore> {
  if (at.root !== null) return openArtifactStore(`file:${at.root}`, { field: '--index' });
  return openConfiguredArtifacts(options, command);
}

const formatOption = (): Option =>
  new Option('--format <format>', 'input format (default: from the extension)').choices(
    VECTOR_FILE_FORMATS,
  );

interface BuildOptions extends StoreOptions, VectorIndexOptions {
  metadata?: string;
  attributes?: string[];
  fold: boolean;
  input: string;
  output: string;
  format?: VectorFileFormat;
}

function buildCommand(): Command {
  return withStoreOptions(
    withIndexOptions(
      new Command('build')
        .description(
          'Read vectors from a file and store an index of them under a name (a new version, made current atomically). ' +
            'Inputs: .fvecs and .npy (float32, 2-D; ids are 0-based row numbers), or CSV / Parquet with an "id" column ' +
            'and a "vector" column (Parquet: a list of numbers; CSV: a JSON array in one quoted field, e.g. a,"[0.1, 0.2]").',
        )
        .requiredOption('--input <file>', 'vector file: .fvecs, .npy, .csv or .parquet')
        .requiredOption('--output <name>', 'index name (letters, digits, "-", "_")', (v) =>
          indexName('--output', v),
        ),
      'vectors',
    )
      .addOption(formatOption())
      .option(
        '--attributes <columns>',
        'CSV/Parquet: comma-separated extra columns kept as filterable attributes (GET …/similar?filter=category:stickers)',
        (v) => v.split(',').map((c) => c.trim()),
      )
      .option(
        '--no-fold',
        'do not fold the changes made over the API (PUT/DELETE /v1/vectors/NAME/items/ID) into the new version',
      )
      .option(
        '--metadata <url>',
        'metadata store holding those changes (default: stores.metadata): sqlite:PATH or postgres://…',
      ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  kiban vectors build --input items.fvecs --output items --metric ip\n' +
        '  kiban vectors build --input items.csv --output items --attributes category,lang\n',
    )
    .action(async (options: BuildOptions, command: Command) => {
      const read = await readVectors(options.input, {
        ...(options.format === undefined ? {} : { format: options.format }),
        ...(options.attributes === undefined
          ? {}
          : { attributes: options.attributes, attributesField: '--attributes' }),
      });
      let metadata: Awaited<ReturnType<typeof openMetadataStore>> | null = null;
      if (options.fold) {
        const config = await loadKibanConfig({
          ...(options.config === undefined ? {} : { file: options.config }),
          flags: flagOverlay(command, { metadata: ['stores.metadata', '--metadata'] }),
        });
        metadata = await openMetadataStore(config.stores.metadata, storeFields(config).metadata);
      }
      let file: ReturnType<typeof foldVectorUpdates>;
      try {
        // Read before the index is built: a change made from here on has a larger number than
        // any folded, so the servers apply it on top of the new version.
        file = foldVectorUpdates(
          read,
          metadata === null ? [] : await metadata.vectorUpdates.list(options.output),
        );
      } catch (error) {
        await metadata?.close();
        throw error;
      }
      const rows = file.vectors.length / file.dim;
      const started = performance.now();
      const { kind, index } = await createFlaggedIndex(options, rows, file.dim);
      const store = await openStore(options, command);
      try {
        const keys = new Uint32Array(rows);
        for (let i = 0; i < rows; i++) keys[i] = i;
        await index.add(keys, file.vectors);
        const seconds = (performance.now() - started) / 1000;
        const version = await saveVectorIndex(store, options.output, index, file.ids, {
          attributes: file.attributes,
          foldedThrough: file.foldedThrough,
        });
        const deleted =
          metadata === null
            ? 0
            : await deleteFoldedUpdates(
                store,
                options.output,
                metadata.vectorUpdates,
                file.settled,
              );
        const attributes = file.attributes.names;
        process.stdout.write(
          `built ${kind.name} index "${options.output}" (version ${version}): ${rows} vectors × ${file.dim}, ${options.metric}, in ${seconds.toFixed(2)} s` +
            `${attributes.length === 0 ? '' : `; attributes ${attributes.join(', ')}`}` +
            `${metadata === null ? '' : `; folded ${file.applied} change${file.applied === 1 ? '' : 's'} (through ${file.foldedThrough}${file.skipped === 0 ? '' : `, ${file.skipped} of another dimension skipped`}), deleted ${deleted} no longer needed`}\n`,
        );
      } finally {
        index.close();
        await store.close();
        await metadata?.close();
      }
    });
}

interface QueryOptions extends StoreOptions {
  index: IndexRef;
  queries: string;
  k: number;
  ef?: number;
  exact?: boolean;
  json?: boolean;
  format?: VectorFileFormat;
}

function queryCommand(): Command {
  return withStoreOptions(
    new Command('query')
      .description(
        'Search a stored index with every vector of a file (any format `build` reads; its ids are ignored). ' +
          'Prints the neighbours of the first queries and the time taken; with --json the last line is ' +
          '{"ids": [[…], …], "seconds": S}: per query, the ids closest first (0-based row numbers for indexes ' +
          'built from .fvecs or .npy, else the string ids), and the seconds the search took (loading excluded).',
      )
      .requiredOption(
        '--index <name-or-path>',
        'index name on the artifact store, or the folder of one (DIR/vectors/NAME, any file: store)',
        (v) => indexRef('--index', v),
      )
      .requiredOption('--queries <file>', 'query vectors: .fvecs, .npy, .csv or .parquet')
      .option('--k <n>', 'neighbours per query', (v) => positive('--k', v), 10)
      .option('--ef <n>', 'hnsw: search breadth (higher: better recall, slower)', (v) =>
        positive('--ef', v),
      )
      .option('--exact', 'answer by brute force over the stored vectors, whatever the index kind')
      .option('--json', 'print the answer as one JSON line')
      .addOption(formatOption()),
  )
    .addHelpText(
      'after',
      '\nExample:\n  kiban vectors query --index items --queries queries.fvecs --k 10 --json\n',
    )
    .action(async (options: QueryOptions, command: Command) => {
      const queries = await readInput(options.queries, options.format);
      const store = await openStore(options, command, options.index);
      let loaded: Awaited<ReturnType<typeof loadVectorIndex>>;
      try {
        loaded = await loadVectorIndex(store, options.index.name);
      } finally {
        await store.close();
      }
      let index: VectorIndex = loaded.index;
      try {
        if (queries.dim !== index.dim)
          throw new InvalidArgumentError(
            '--queries',
            `vectors have ${queries.dim} dimensions; index "${options.index.name}" has ${index.dim}`,
          );
        if (options.exact === true && index.kind !== 'exact') {
          index = await bruteForceCopy(index, loaded.meta.count);
          loaded.index.close();
        }
        const started = performance.now();
        const result = await index.search(queries.vectors, {
          k: options.k,
          ...(options.ef === undefined ? {} : { ef: options.ef }),
        });
        const seconds = (performance.now() - started) / 1000;
        const m = queries.vectors.length / queries.dim;
        const ids: (number | string)[][] = [];
        for (let q = 0; q < m; q++) {
          const row: (number | string)[] = [];
          for (let j = 0; j < result.counts[q]; j++) {
            const key = result.keys[q * result.k + j];
            row.push(loaded.ids === null ? key : loaded.ids[key]);
          }
          ids.push(row);
        }
        if (options.json !== true) {
          const shown = Math.min(m, 10);
          for (let q = 0; q < shown; q++) {
            const parts = ids[q].map(
              (id, j) => `${id} (${result.scores[q * result.k + j].toPrecision(4)})`,
            );
            process.stdout.write(`query ${q}: ${parts.join(', ')}\n`);
          }
          if (m > shown) process.stdout.write(`… ${m - shown} more queries\n`);
          process.stdout.write(
            `${m} queries, k ${options.k}, ${index.kind}${options.ef === undefined ? '' : ` ef ${options.ef}`}: ${seconds.toFixed(4)} s (${Math.round(m / Math.max(seconds, 1e-9))} queries/s)\n`,
          );
        }
        if (options.json === true) process.stdout.write(`${JSON.stringify({ ids, seconds })}\n`);
      } finally {
        index.close();
      }
    });
}

/** An exact index holding every vector of `index` (keys `0 … count - 1`, the layout `build` writes). */
async function bruteForceCopy(index: VectorIndex, count: number): Promise<VectorIndex> {
  const exact = await vectorIndexKind('exact').create(index.dim, index.metric);
  const keys = new Uint32Array(index.size);
  const vectors = new Float32Array(index.size * index.dim);
  let n = 0;
  for (let key = 0; key < count && n < index.size; key++) {
    const vector = index.get(key);
    if (vector === null) continue;
    keys[n] = key;
    vectors.set(vector, n * index.dim);
    n++;
  }
  await exact.add(keys.subarray(0, n), vectors.subarray(0, n * index.dim));
  return exact;
}

interface InfoOptions extends StoreOptions {
  json?: boolean;
}

function infoCommand(): Command {
  return withStoreOptions(
    new Command('info')
      .description('Describe a stored index: kind, dimensions, metric, vectors, bytes and version.')
      .argument('<name-or-path>', 'index name, or the folder of one (DIR/vectors/NAME)')
      .option('--json', 'print the description as one JSON line'),
  ).action(async (name: string, options: InfoOptions, command: Command) => {
    const at = indexRef('NAME', name);
    const store = await openStore(options, command, at);
    try {
      const { version, meta, bytes } = await readVectorIndexMeta(store, at.name);
      const info = {
        name,
        kind: meta.kind,
        dim: meta.dim,
        metric: meta.metric,
        count: meta.count,
        ids: meta.ids,
        bytes,
        version,
        created_at: meta.created_at,
        attributes: (meta.attributes ?? []).join(','),
        folded_through: meta.folded_through ?? 0,
      };
      if (options.json === true) process.stdout.write(`${JSON.stringify(info)}\n`);
      else
        for (const [key, value] of Object.entries(info))
          process.stdout.write(`${`${key}:`.padEnd(16)}${value}\n`);
    } finally {
      await store.close();
    }
  });
}

/** The vectors of `path`, in `format` or the one its extension names. */
function readInput(path: string, format: VectorFileFormat | undefined) {
  return readVectors(path, format === undefined ? {} : { format });
}

/** Where an index is: its name, and the folder of the `file:` store holding it when given as a path. */
interface IndexRef {
  name: string;
  root: string | null;
}

/** `NAME` (on the configured store) or a folder `DIR/vectors/NAME` (on the `file:` store DIR). */
function indexRef(flag: string, value: string): IndexRef {
  if (!value.includes('/') && !value.includes(sep))
    return { name: indexName(flag, value), root: null };
  const folder = resolve(value);
  if (basename(dirname(folder)) !== 'vectors')
    throw new InvalidArgumentError(
      flag,
      `"${value}" is neither an index name nor an index folder (DIR/vectors/NAME)`,
    );
  return { name: indexName(flag, basename(folder)), root: dirname(dirname(folder)) };
}

function indexName(flag: string, value: string): string {
  assertVectorIndexName(value, flag);
  return value;
}

const positive = positiveFlag;
