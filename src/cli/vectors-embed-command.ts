import { extname } from 'node:path';
import { Command, Option } from 'commander';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { type Progress, startProgress } from '../core/progress.js';
import { assertVectorIndexName, saveVectorIndex } from '../vectors/stored-index.js';
import {
  type ItemTableSource,
  readItemFeatures,
  readItemTexts,
} from './vectors-embed-command-input.js';
import {
  createFlaggedIndex,
  openConfiguredArtifacts,
  positiveFlag,
  type VectorIndexOptions,
  type VectorStoreOptions,
  withIndexOptions,
  withStoreOptions,
} from './vectors-options.js';

/** Texts and rows smaller than this embed without a progress bar. */
const PROGRESS_MIN_ROWS = 5_000;

interface EmbedOptions extends VectorStoreOptions, VectorIndexOptions {
  input: string;
  output: string;
  format?: 'csv' | 'parquet' | 'fvecs' | 'npy';
  idColumn: string;
  tagger?: string;
  textColumns?: string[];
  onnx?: string;
  featureColumns?: string[];
  vectorColumn?: string;
  onnxInput?: string;
  onnxOutput?: string;
  batchSize: number;
  threads?: number;
  json?: boolean;
}

/** What was embedded, before the index is built. */
interface Embedded {
  /** Row `i`'s id, or null when rows are keyed by their 0-based number (.fvecs, .npy). */
  ids: string[] | null;
  count: number;
  dim: number;
  vectors: Float32Array;
  /** Items left out (text with no learned feature), with their ids. */
  skipped: string[];
  source: string;
  seconds: number;
}

/** `kiban vectors embed`: item vectors from item text (a tagger model) or an ONNX encoder, stored as an index. */
export function vectorsEmbedCommand(): Command {
  const command = new Command('embed')
    .description(
      'Embed items and store a nearest-neighbour index of them under a name (like `kiban vectors build`). ' +
        'From text: --tagger FILE (a model of `kiban tags train`) and --text-columns; each item is the mean of the ' +
        "tagger's learned vectors for its words and n-grams, normalised, so items with related words come out near. " +
        'From an ONNX encoder: --onnx FILE (float32 input [batch, …], output [batch, dim]) fed with --feature-columns, ' +
        'a --vector-column, or the rows of an .fvecs / .npy file.',
    )
    .requiredOption('--input <file>', 'items: .csv or .parquet (or .fvecs / .npy with --onnx)')
    .requiredOption('--output <name>', 'index name (letters, digits, "-", "_")', (v) => {
      assertVectorIndexName(v, '--output');
      return v;
    })
    .addOption(
      new Option('--format <format>', 'input format (default: from the extension)').choices([
        'csv',
        'parquet',
        'fvecs',
        'npy',
      ]),
    )
    .option('--id-column <name>', 'column holding the item ids', 'id')
    .option('--tagger <file>', 'text: a tagger model file (kiban tags train --output)')
    .option(
      '--text-columns <names>',
      'text: columns joined into each item text, e.g. title,tags',
      list('--text-columns'),
    )
    .option('--onnx <file>', 'an ONNX encoder model (loads onnxruntime-node)')
    .option(
      '--feature-columns <names>',
      'onnx: number columns fed as one row, e.g. f1,f2,f3',
      list('--feature-columns'),
    )
    .option('--vector-column <name>', 'onnx: one list column fed as the row (CSV: a JSON array)')
    .option('--onnx-input <name>', 'onnx: the input to feed (default: the only one)')
    .option('--onnx-output <name>', 'onnx: the output holding the embeddings (default: the first)')
    .option(
      '--batch-size <n>',
      'onnx: rows per run of the model',
      (v) => positive('--batch-size', v),
      256,
    )
    .option('--threads <n>', 'onnx: threads per run (default: one per core)', (v) =>
      positive('--threads', v),
    )
    .option('--json', 'print a summary as one JSON line last')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  kiban tags train --input items-tagged.txt --output tagger.bin',
        '  kiban vectors embed --input movies.csv --id-column movieId --text-columns title,genres \\',
        '    --tagger tagger.bin --output movie-text',
        '  kiban vectors embed --input images.parquet --vector-column pixels --onnx encoder.onnx --output images',
        '  kiban vectors query --index movie-text --queries q.npy --k 10',
        '',
        'Items whose text has no word or n-gram the tagger learned are left out (counted on stderr).',
        '',
      ].join('\n'),
    )
    .action(async (options: EmbedOptions, command: Command) => {
      const embedded = await embed(options);
      const rows = embedded.count;
      const started = performance.now();
      const { kind, index } = await createFlaggedIndex(options, rows, embedded.dim);
      try {
        const keys = new Uint32Array(rows);
        for (let i = 0; i < rows; i++) keys[i] = i;
        await index.add(keys, embedded.vectors);
        const buildSeconds = (performance.now() - started) / 1000;
        const store = await openConfiguredArtifacts(options, command);
        let version: string;
        try {
          version = await saveVectorIndex(store, options.output, index, embedded.ids);
        } finally {
          await store.close();
        }
        if (embedded.skipped.length > 0)
          process.stderr.write(
            `kiban: ${embedded.skipped.length} items left out: their text has no word or n-gram the tagger learned (${embedded.skipped
              .slice(0, 5)
              .map((id) => JSON.stringify(id))
              .join(', ')}${embedded.skipped.length > 5 ? ', …' : ''})\n`,
          );
        const perSecond = rows / Math.max(embedded.seconds, 1e-9);
        process.stdout.write(
          `embedded ${rows} items with ${embedded.source} in ${embedded.seconds.toFixed(2)} s (${Math.round(perSecond)} items/s); ` +
            `built ${kind.name} index "${options.output}" (version ${version}): ${rows} vectors × ${embedded.dim}, ${options.metric}, in ${buildSeconds.toFixed(2)} s\n`,
        );
        if (options.json === true)
          process.stdout.write(
            `${JSON.stringify({
              name: options.output,
              version,
              kind: kind.name,
              count: rows,
              dim: embedded.dim,
              metric: options.metric,
              skipped: embedded.skipped.length,
              embedSeconds: embedded.seconds,
              itemsPerSecond: perSecond,
              buildSeconds,
            })}\n`,
          );
      } finally {
        index.close();
      }
    });
  return withStoreOptions(withIndexOptions(command, 'items'));
}

/** Embeds the input as the flags say: text through the tagger, or rows through the ONNX model. */
async function embed(options: EmbedOptions): Promise<Embedded> {
  const format = options.format ?? formatOf(options.input);
  if ((options.tagger === undefined) === (options.onnx === undefined))
    throw new InvalidArgumentError(
      options.tagger === undefined ? '--tagger' : '--onnx',
      'give either --tagger FILE (embed item text) or --onnx FILE (run an ONNX encoder), not both',
    );
  if (options.tagger !== undefined) {
    for (const flag of ['featureColumns', 'vectorColumn', 'onnxInput', 'onnxOutput'] as const)
      if (options[flag] !== undefined)
        throw new InvalidArgumentError(`--${kebab(flag)}`, 'applies to --onnx only');
    if (options.textColumns === undefined)
      throw new InvalidArgumentError(
        '--text-columns',
        'name the text columns, e.g. --text-columns title,tags',
      );
    if (format !== 'csv' && format !== 'parquet')
      throw new InvalidArgumentError(
        '--input',
        `text is read from .csv or .parquet, not ${format}`,
      );
    return embedText(options, {
      path: options.input,
      format,
      idColumn: options.idColumn,
      idFlag: '--id-column',
    });
  }
  if (options.textColumns !== undefined)
    throw new InvalidArgumentError(
      '--text-columns',
      'applies to --tagger only; an ONNX encoder takes --feature-columns or --vector-column',
    );
  return embedOnnx(options, format);
}

async function embedText(options: EmbedOptions, source: ItemTableSource): Promise<Embedded> {
  const { readTextEmbedder } = await import('../vectors/text-embeddings.js');
  const embedder = await readTextEmbedder(options.tagger!).catch((error: unknown) => {
    throw asFlagError(error, '--tagger');
  });
  const { ids, texts } = await readItemTexts(source, options.textColumns!, '--text-columns');
  const progress = progressFor('embedding', texts.length);
  const started = performance.now();
  let embedded: ReturnType<typeof embedder.embedMany>;
  try {
    embedded = embedder.embedMany(texts, { onProgress: (done) => progress.update(done) });
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const { vectors, featureless } = embedded;
  const dim = embedder.dim;
  const keptIds: string[] = [];
  const skipped: string[] = [];
  let kept = 0;
  for (let i = 0; i < ids.length; i++) {
    if (featureless[i] === 1) {
      skipped.push(ids[i]);
      continue;
    }
    // Compact in place: row `kept` ≤ `i` is already read.
    if (kept !== i) vectors.copyWithin(kept * dim, i * dim, (i + 1) * dim);
    keptIds.push(ids[i]);
    kept++;
  }
  if (kept === 0)
    throw new DataError(
      { file: options.input },
      `no item's text (${options.textColumns!.join(', ')}) has a word or n-gram the tagger ${options.tagger} learned`,
    );
  return {
    ids: keptIds,
    count: kept,
    dim,
    vectors: vectors.subarray(0, kept * dim),
    skipped,
    source: `the tagger ${options.tagger} (text: ${options.textColumns!.join(', ')})`,
    seconds,
  };
}

async function embedOnnx(
  options: EmbedOptions,
  format: NonNullable<EmbedOptions['format']>,
): Promise<Embedded> {
  // Rows of .fvecs / .npy files are keyed by their 0-based numbers, as `kiban vectors build` keeps them.
  let ids: string[] | null;
  let width: number;
  let rows: Float32Array;
  let field: string;
  if (format === 'fvecs' || format === 'npy') {
    if (options.featureColumns !== undefined || options.vectorColumn !== undefined)
      throw new InvalidArgumentError(
        options.featureColumns !== undefined ? '--feature-columns' : '--vector-column',
        `a .${format} input is its rows; columns apply to .csv and .parquet`,
      );
    const { readVectors } = await import('../vectors/read-vectors.js');
    const file = await readVectors(options.input, { format });
    ids = file.ids;
    width = file.dim;
    rows = file.vectors;
    field = '--input';
  } else {
    if ((options.featureColumns === undefined) === (options.vectorColumn === undefined))
      throw new InvalidArgumentError(
        options.featureColumns === undefined ? '--feature-columns' : '--vector-column',
        'give either --feature-columns A,B,… (number columns) or --vector-column NAME (one list column), not both',
      );
    field = options.featureColumns !== undefined ? '--feature-columns' : '--vector-column';
    const source = {
      path: options.input,
      format,
      idColumn: options.idColumn,
      idFlag: '--id-column',
    };
    const read = await readItemFeatures(
      source,
      options.featureColumns !== undefined
        ? { featureColumns: options.featureColumns }
        : { vectorColumn: options.vectorColumn! },
      field,
    );
    ids = read.ids;
    width = read.width;
    rows = read.rows;
  }
  const { OnnxEncoder } = await import('../vectors/onnx-encoder.js');
  const encoder = await OnnxEncoder.load(options.onnx!, {
    field: '--onnx',
    batchSize: options.batchSize,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.onnxInput === undefined ? {} : { inputName: options.onnxInput }),
    ...(options.onnxOutput === undefined ? {} : { outputName: options.onnxOutput }),
  }).catch((error: unknown) => {
    throw asFlagError(error, '--onnx', { inputName: '--onnx-input', outputName: '--onnx-output' });
  });
  const n = rows.length / width;
  const progress = progressFor('encoding', n);
  const started = performance.now();
  try {
    const { dim, vectors } = await encoder.encode(rows, width, {
      field,
      onProgress: (done) => progress.update(done),
    });
    return {
      ids,
      count: n,
      dim,
      vectors,
      skipped: [],
      source: `the ONNX model ${options.onnx}`,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    progress.stop();
    await encoder.close();
  }
}

/** A progress bar on stderr for long runs on a terminal. */
function progressFor(label: string, total: number): Progress {
  return startProgress(label, total, total >= PROGRESS_MIN_ROWS ? 'auto' : false);
}

function formatOf(path: string): NonNullable<EmbedOptions['format']> {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.fvecs') return 'fvecs';
  if (ext === '.npy') return 'npy';
  throw new InvalidArgumentError(
    '--input',
    `cannot tell the format of "${path}" from its extension; use .csv, .parquet, .fvecs or .npy (or --format)`,
  );
}

/** An InvalidArgumentError about the model's own fields re-issued under the CLI flag naming them. */
function asFlagError(error: unknown, flag: string, fields: Record<string, string> = {}): unknown {
  if (!(error instanceof InvalidArgumentError) || error.field.startsWith('--')) return error;
  return new InvalidArgumentError(fields[error.field] ?? flag, error.reason, { cause: error });
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function list(flag: string): (value: string) => string[] {
  return (value) => {
    const names = value.split(',').map((s) => s.trim());
    if (names.some((s) => s === ''))
      throw new InvalidArgumentError(
        flag,
        `"${value}" is not a comma-separated list of column names`,
      );
    return names;
  };
}

const positive = positiveFlag;
