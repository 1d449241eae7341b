/**
 * Embeddings from a user-supplied ONNX model (an image or text encoder exported from PyTorch,
 * scikit-learn, …) run on the CPU through `onnxruntime-node`, which is imported only when an
 * encoder is loaded: nothing else in kiban pays for the native runtime.
 *
 * The model takes one float32 tensor whose first dimension is the batch (`[n, d]`, or
 * `[n, c, h, w]` and the like, fed from rows of `c·h·w` values) and gives one float32 output
 * `[n, dim]`, the embeddings.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';

/** Options of {@link OnnxEncoder.load}. */
export interface OnnxEncoderOptions {
  /** The input to feed; needed only when the model has several. @defaultValue the only input */
  inputName?: string;
  /** The output holding the embeddings. @defaultValue the model's first output */
  outputName?: string;
  /** Rows per run of the model (a model with a fixed batch size uses that instead). @defaultValue 256 */
  batchSize?: number;
  /** Threads inside one run; 0 lets onnxruntime choose (one per core). @defaultValue 0 */
  threads?: number;
  /** The name errors give the model, e.g. a CLI flag. @defaultValue 'model' */
  field?: string;
}

/** Defaults of {@link OnnxEncoderOptions}. */
export const ONNX_ENCODER_DEFAULTS = Object.freeze({ batchSize: 256, threads: 0, field: 'model' });

/** Options of {@link OnnxEncoder.encode}. */
export interface EncodeOptions {
  /** Called with the number of rows encoded so far after every batch. */
  onProgress?: (done: number) => void;
  /** Checked between batches; an aborted signal stops with its reason. */
  signal?: AbortSignal;
  /** The name errors give the rows, e.g. a CLI flag. @defaultValue 'rows' */
  field?: string;
}

/** What {@link OnnxEncoder.encode} returns. */
export interface EncodedRows {
  /** Components per embedding: the output's second dimension. */
  dim: number;
  /** `n × dim`, row-major, row `i` the embedding of input row `i`. */
  vectors: Float32Array;
}

type Ort = typeof import('onnxruntime-node');

/**
 * A loaded ONNX encoder. Checks the model's declared input and output when loading, so that a
 * model that cannot give embeddings is refused before any data is read.
 *
 * @example
 * ```ts
 * const encoder = await OnnxEncoder.load('image-encoder.onnx');
 * const { dim, vectors } = await encoder.encode(pixels, encoder.rowSize!); // pixels: n × (3·224·224)
 * await encoder.close();
 * ```
 */
export class OnnxEncoder {
  /** The input fed. */
  readonly inputName: string;
  /** The output read. */
  readonly outputName: string;
  /** The input's declared shape after the batch dimension (`[4]`, `[3, 224, 224]`; empty when undeclared). */
  readonly rowShape: readonly number[];
  /** Values per input row (the product of {@link OnnxEncoder.rowShape}), or null when the model leaves it open. */
  readonly rowSize: number | null;
  /** The output's declared second dimension, or null when it is symbolic. */
  readonly declaredDim: number | null;

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    private readonly source: string,
    private readonly batchSize: number,
    private readonly fixedBatch: number | null,
    io: { input: string; output: string; rowShape: number[]; declaredDim: number | null },
  ) {
    this.inputName = io.input;
    this.outputName = io.output;
    this.rowShape = Object.freeze(io.rowShape);
    this.rowSize = io.rowShape.length === 0 ? null : io.rowShape.reduce((p, d) => p * d, 1);
    this.declaredDim = io.declaredDim;
  }

  /**
   * Loads an ONNX model from a file (or its bytes) and checks that it can embed rows.
   *
   * @throws NotFoundError when the file does not exist.
   * @throws DataError naming the file when onnxruntime cannot load it.
   * @throws InvalidArgumentError naming `options.field` (or `inputName` / `outputName`) when the
   *   model's input is not float32, has rank below 2 (no batch dimension), has symbolic sizes
   *   after the batch in a rank above 2, or the output is declared with a rank other than 2;
   *   when a named input or output does not exist, or the model has several inputs and none is
   *   named; or when `batchSize` or `threads` is not a positive (non-negative) integer.
   */
  static async load(
    model: string | Uint8Array,
    options: OnnxEncoderOptions = {},
  ): Promise<OnnxEncoder> {
    const { batchSize, threads, field } = { ...ONNX_ENCODER_DEFAULTS, ...options };
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new InvalidArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(threads) || threads < 0)
      throw new InvalidArgumentError('threads', `must be a non-negative integer, got ${threads}`);
    const source = typeof model === 'string' ? model : 'the ONNX model';
    if (typeof model === 'string') {
      const info = await stat(model).catch(() => null);
      if (info === null) throw new NotFoundError(`ONNX model file ${model}`);
      if (!info.isFile()) throw new DataError({ file: model }, 'not a regular file');
    }
    const ort: Ort = await import('onnxruntime-node');
    const sessionOptions: InferenceSession.SessionOptions = {
      // Warnings (unused initialisers and the like) are the model author's business, not the user's.
      logSeverityLevel: 3,
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    };
    let session: InferenceSession;
    try {
      session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, sessionOptions)
          : await ort.InferenceSession.create(model, sessionOptions);
    } catch (cause) {
      throw new DataError(
        { file: source },
        `onnxruntime cannot load it as an ONNX model: ${firstLine(cause)}`,
        { cause },
      );
    }
    try {
      const io = checkModel(session, options, field, source);
      return new OnnxEncoder(ort, session, source, batchSize, io.fixedBatch, io);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /**
   * Runs the model over `rows` (`n × rowWidth`, row-major) in batches and returns the
   * embeddings, row `i` for input row `i`. Each row is reshaped to {@link OnnxEncoder.rowShape}.
   *
   * @throws InvalidArgumentError naming `options.field` when `rows` is not a whole number of
   *   rows of `rowWidth`, or `rowWidth` differs from the values per row the model takes.
   * @throws DataError naming the model when its output is not a float32 `[batch, dim]` tensor
   *   with `dim` the same for every batch, or holds NaN or an infinity (naming the row).
   */
  async encode(
    rows: Float32Array,
    rowWidth: number,
    options: EncodeOptions = {},
  ): Promise<EncodedRows> {
    const { onProgress, signal, field = 'rows' } = options;
    if (!Number.isInteger(rowWidth) || rowWidth < 1 || rows.length % rowWidth !== 0)
      throw new InvalidArgumentError(
        field,
        `${rows.length} values are not a whole number of rows of ${rowWidth}`,
      );
    if (this.rowSize !== null && rowWidth !== this.rowSize)
      throw new InvalidArgumentError(
        field,
        `rows have ${rowWidth} values; input "${this.inputName}" of ${this.source} takes ${this.rowShape.length > 1 ? `${this.rowShape.join('×')} = ` : ''}${this.rowSize} per row`,
      );
    const shape = this.rowShape.length === 0 ? [rowWidth] : [...this.rowShape];
    const n = rows.length / rowWidth;
    const step = this.fixedBatch ?? this.batchSize;
    let dim = -1;
    let out = new Float32Array(0);
    for (let start = 0; start < n; start += step) {
      signal?.throwIfAborted();
      const count = Math.min(step, n - start);
      let batch = rows.subarray(start * rowWidth, (start + count) * rowWidth);
      if (this.fixedBatch !== null && count < this.fixedBatch) {
        // A model exported with a fixed batch size takes whole batches: pad the last one.
        const padded = new Float32Array(this.fixedBatch * rowWidth);
        padded.set(batch);
        batch = padded;
      }
      const feed = new this.ort.Tensor('float32', batch, [batch.length / rowWidth, ...shape]);
      const result = await this.session.run({ [this.inputName]: feed }, [this.outputName]);
      const tensor = result[this.outputName] as Tensor;
      const batchDim = this.checkOutput(tensor, batch.length / rowWidth, dim);
      if (dim < 0) {
        dim = batchDim;
        out = new Float32Array(n * dim);
      }
      const data = tensor.data as Float32Array;
      for (let i = 0; i < count * dim; i++) {
        const x = data[i];
        if (x - x !== 0)
          throw new DataError(
            { file: this.source, row: start + Math.floor(i / dim) + 1 },
            `output "${this.outputName}" component ${(i % dim) + 1} is ${x}; embeddings must be finite`,
          );
      }
      out.set(data.subarray(0, count * dim), start * dim);
      tensor.dispose();
      onProgress?.(start + count);
    }
    return { dim: dim < 0 ? (this.declaredDim ?? 0) : dim, vectors: out };
  }

  /** Releases the native session; the encoder is not used afterwards. */
  async close(): Promise<void> {
    await this.session.release();
  }

  /** The output's second dimension, checked against the batch and earlier batches. */
  private checkOutput(tensor: Tensor, rows: number, dim: number): number {
    const where = `output "${this.outputName}" of ${this.source}`;
    if (tensor.type !== 'float32')
      throw new DataError(
        { file: this.source },
        `${where} is ${tensor.type}; embeddings are read as float32`,
      );
    const dims = tensor.dims;
    if (dims.length !== 2)
      throw new DataError(
        { file: this.source },
        `${where} has shape [${dims.join(', ')}]; an embedding output must be 2-D [rows, dim]`,
      );
    if (dims[0] !== rows || dims[1] < 1 || (dim >= 0 && dims[1] !== dim))
      throw new DataError(
        { file: this.source },
        `${where} has shape [${dims.join(', ')}] for a batch of ${rows} rows; expected [${rows}, ${dim >= 0 ? dim : 'dim ≥ 1'}]`,
      );
    return dims[1];
  }
}

interface CheckedModel {
  input: string;
  output: string;
  rowShape: number[];
  declaredDim: number | null;
  fixedBatch: number | null;
}

/** Picks and checks the input and output (see {@link OnnxEncoder.load}). */
function checkModel(
  session: InferenceSession,
  options: OnnxEncoderOptions,
  field: string,
  source: string,
): CheckedModel {
  const inputs = session.inputMetadata;
  const outputs = session.outputMetadata;
  const names = (list: readonly InferenceSession.ValueMetadata[]) =>
    list.map((m) => `"${m.name}"`).join(', ');
  let input: InferenceSession.ValueMetadata | undefined;
  if (options.inputName !== undefined) {
    input = inputs.find((m) => m.name === options.inputName);
    if (input === undefined)
      throw new InvalidArgumentError(
        'inputName',
        `${source} has no input "${options.inputName}"; its inputs: ${names(inputs)}`,
      );
  } else if (inputs.length !== 1) {
    throw new InvalidArgumentError(
      'inputName',
      `${source} has ${inputs.length} inputs (${names(inputs)}); name the one to feed`,
    );
  } else {
    input = inputs[0];
  }
  const output =
    options.outputName === undefined
      ? outputs[0]
      : outputs.find((m) => m.name === options.outputName);
  if (output === undefined)
    throw new InvalidArgumentError(
      'outputName',
      options.outputName === undefined
        ? `${source} has no output`
        : `${source} has no output "${options.outputName}"; its outputs: ${names(outputs)}`,
    );

  const what = `input "${input.name}" of ${source}`;
  if (!input.isTensor) throw new InvalidArgumentError(field, `${what} is not a tensor`);
  if (input.type !== 'float32')
    throw new InvalidArgumentError(
      field,
      `${what} is ${input.type}; the encoder feeds float32 (a model taking token ids needs its tokeniser outside kiban)`,
    );
  const shape = input.shape;
  let rowShape: number[] = [];
  let fixedBatch: number | null = null;
  if (shape.length > 0) {
    if (shape.length < 2)
      throw new InvalidArgumentError(
        field,
        `${what} has rank ${shape.length} ([${shape.join(', ')}]); the encoder feeds batches: rank ≥ 2, rows first ([batch, …])`,
      );
    const rest = shape.slice(1);
    const fixed = rest.every((d) => typeof d === 'number' && d > 0);
    if (!fixed && rest.length > 1)
      throw new InvalidArgumentError(
        field,
        `${what} has shape [${shape.join(', ')}]; the sizes after the batch must be fixed to reshape rows into it`,
      );
    if (fixed) rowShape = rest as number[];
    if (typeof shape[0] === 'number' && shape[0] > 0) fixedBatch = shape[0];
  }
  let declaredDim: number | null = null;
  if (output.isTensor && output.shape.length > 0) {
    if (output.shape.length !== 2)
      throw new InvalidArgumentError(
        field,
        `output "${output.name}" of ${source} has shape [${output.shape.join(', ')}]; an embedding output must be 2-D [rows, dim]`,
      );
    if (typeof output.shape[1] === 'number' && output.shape[1] > 0) declaredDim = output.shape[1];
  }
  return { input: input.name, output: output.name, rowShape, declaredDim, fixedBatch };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
