/**
 * The stage model: users write up to three functions over async iterables and kiban runs them in
 * parallel. Records are plain JSON-like values (objects, arrays, strings, numbers, typed arrays):
 * they cross threads by structured clone and processes by msgpack.
 */

/** A record flowing through a stage. */
export type StageRecord = unknown;

/** Element-wise reductions of {@link StageContext.allreduce}. */
export type ReduceOp = 'sum' | 'mean';

/** What every stage function receives. */
export interface StageContext {
  /** This worker's index among the workers running the same function: 0 … size − 1. */
  rank: number;
  /** How many workers run this function (`count` for main, `numPreprocessors` for preprocess). */
  size: number;
  /** The stage's parameters, as given to the runner (JSON). */
  params: Record<string, unknown>;
  /** Writes a line to the stage's log, prefixed with the function and rank. */
  log(line: string): void;
  /** Aborted when the stage fails elsewhere or is cancelled; long loops should check it. */
  signal: AbortSignal;
  /**
   * Element-wise sum or mean of `array` over every main worker; resolves on every rank with a
   * new array of the same type and length. Every rank must call it the same number of times, in
   * the same order (like MPI). Only in `main`.
   */
  allreduce<T extends Float32Array | Float64Array>(array: T, op?: ReduceOp): Promise<T>;
  /** `value` from rank `root` (default 0) on every rank. Only in `main`. */
  broadcast<T>(value: T, root?: number): Promise<T>;
  /** Resolves once every main worker has called it. Only in `main`. */
  barrier(): Promise<void>;
}

/** What {@link StageDefinition.partitionBy} returns: records with equal keys go to the same main rank. */
export type PartitionKey = string | number;

/**
 * A stage: `preprocess` maps each input partition's records (like Spark's `mapPartitions`) and
 * runs on `numPreprocessors` workers; `main` consumes the stream of preprocessed records on
 * `count` workers (records are dealt out across them in batches, or by key with `partitionBy`)
 * and yields outputs; `postprocess` transforms each main worker's outputs into what the sink
 * receives.
 *
 * A record belongs to the stage once yielded: runners may move large typed arrays to another
 * thread without copying, after which the yielding side's array is empty. Do not reuse a typed
 * array after yielding it; yield a copy if you must.
 */
export interface StageDefinition<
  In = StageRecord,
  Mid = StageRecord,
  Out = StageRecord,
  Res = StageRecord,
> {
  name: string;
  preprocess?: (records: AsyncIterable<In>, ctx: StageContext) => AsyncIterable<Mid>;
  /**
   * `preprocess` a batch at a time (like Ray Data's `map_batches`), in place of `preprocess`
   * (a stage has one or the other): receives each partition's records as arrays of up to the
   * run's `batchSize` records and yields arrays of preprocessed records (of any length, empty
   * included). Worth it for small records: an async generator costs a few hundred nanoseconds
   * per record it yields, a batch costs that once. A yielded array belongs to the stage.
   */
  preprocessBatches?: (batches: AsyncIterable<In[]>, ctx: StageContext) => AsyncIterable<Mid[]>;
  /**
   * A keyed shuffle: the key of each preprocessed record. Records whose keys are equal (as
   * strings: `7` and `"7"` are one key) reach the same main rank, chosen by hashing the key
   * (MurmurHash3 of its string form, modulo `count`), on every runner; so a main rank that
   * groups or counts by key sees every record of its keys. Without it, records are dealt out
   * to the main ranks in turn, a batch at a time. Must return a string or a finite number.
   */
  partitionBy?: (record: Mid) => PartitionKey;
  main: (
    records: AsyncIterable<Mid>,
    ctx: StageContext,
  ) => AsyncIterable<Out> | Promise<Iterable<Out> | void>;
  postprocess?: (outputs: AsyncIterable<Out>, ctx: StageContext) => AsyncIterable<Res>;
}

/**
 * Defines a stage; returns the definition unchanged after checking its shape. Export it from a
 * module so that threads and other processes can load it as `{ module, export }`.
 *
 * @example
 * export const wordCount = defineStage({
 *   name: 'word-count',
 *   async *preprocess(lines) { for await (const l of lines) for (const w of String(l.text).split(/\s+/)) yield w; },
 *   partitionBy: (word) => word, // every occurrence of a word reaches the same main rank
 *   async *main(words) { const n = new Map(); for await (const w of words) n.set(w, (n.get(w) ?? 0) + 1); yield* n; },
 * });
 */
export function defineStage<In, Mid, Out, Res>(
  definition: StageDefinition<In, Mid, Out, Res>,
): StageDefinition<In, Mid, Out, Res> {
  if (
    typeof definition?.name !== 'string' ||
    !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(definition.name)
  ) {
    throw new TypeError('defineStage: name must be 1–64 letters, digits, ".", "_" or "-"');
  }
  if (typeof definition.main !== 'function')
    throw new TypeError(`defineStage(${definition.name}): main must be a function`);
  for (const key of ['preprocess', 'preprocessBatches', 'partitionBy', 'postprocess'] as const) {
    if (definition[key] !== undefined && typeof definition[key] !== 'function')
      throw new TypeError(`defineStage(${definition.name}): ${key} must be a function`);
  }
  if (definition.preprocess !== undefined && definition.preprocessBatches !== undefined)
    throw new TypeError(
      `defineStage(${definition.name}): preprocess and preprocessBatches are alternatives; define one`,
    );
  return definition;
}

/** Where a stage lives, so that another thread or process can import it. */
export interface StageRef {
  /** Absolute path (or file URL) of the module. */
  module: string;
  /** Export name. @defaultValue 'default' */
  export?: string;
}
