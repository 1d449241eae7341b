import { InvalidArgumentError } from '../core/errors.js';
import { murmur3 } from '../core/murmur3.js';
import type { ServingSourceOpener, SourcePartition, SourceSpec } from './source.js';
import { readPartition } from './sources.js';
import type { PartitionKey, StageContext, StageDefinition } from './stage.js';

/** Collective operations among main workers, provided by each runner's transport. */
export type Collectives = Pick<StageContext, 'allreduce' | 'broadcast' | 'barrier'>;

const NO_COLLECTIVES: Collectives = {
  allreduce: () => Promise.reject(new Error('allreduce is only available in main')),
  broadcast: () => Promise.reject(new Error('broadcast is only available in main')),
  barrier: () => Promise.reject(new Error('barrier is only available in main')),
};

/** Counts a role reports when it ends. */
export interface RoleFigures {
  read: number;
  preprocessed: number;
  written: number;
}

/**
 * One preprocess worker: takes partitions until there are none left, runs `preprocess` over each
 * partition's records (identity without one) and deals the results, in batches, to the main
 * workers in turn, or, when the stage has `partitionBy`, to the main rank of each record's key
 * ({@link mainRankOf}). `send` may wait (back-pressure). Shared by every runner, so that they
 * all mean the same thing by a stage.
 */
export async function runPreprocessRole(args: {
  stage: StageDefinition;
  rank: number;
  size: number;
  params: Record<string, unknown>;
  source: SourceSpec;
  nextPartition: () => Promise<SourcePartition | null>;
  mains: number;
  send: (main: number, batch: unknown[]) => Promise<void>;
  batchSize: number;
  signal: AbortSignal;
  log: (line: string) => void;
  /** Opens the store of a `serving` source (see `PlanOptions.openServingSource`). */
  openServingSource?: ServingSourceOpener;
}): Promise<RoleFigures> {
  const ctx = contextFor('preprocess', args, NO_COLLECTIVES);
  if (args.stage.partitionBy !== undefined)
    return preprocessByKey(args, args.stage.partitionBy, ctx);
  const figures: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
  let turn = args.rank % Math.max(1, args.mains);
  let batch: unknown[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    await args.send(turn, out);
    turn = (turn + 1) % args.mains;
  };
  const take = (record: unknown): Promise<void> | undefined => {
    batch.push(record);
    return batch.length >= args.batchSize ? flush() : undefined;
  };
  for await (const mapped of preprocessedPartitions(args, ctx, figures)) {
    await forEachPreprocessed(mapped, figures, take);
    await flush();
  }
  return figures;
}

/** {@link runPreprocessRole} for a stage with `partitionBy`: one batch per main rank, each sent when full. */
async function preprocessByKey(
  args: Parameters<typeof runPreprocessRole>[0],
  partitionBy: (record: unknown) => PartitionKey,
  ctx: StageContext,
): Promise<RoleFigures> {
  const figures: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
  const mains = Math.max(1, args.mains);
  const batches: unknown[][] = Array.from({ length: mains }, () => []);
  const flush = async (main: number): Promise<void> => {
    const out = batches[main];
    if (out.length === 0) return;
    batches[main] = [];
    await args.send(main, out);
  };
  const take = (record: unknown): Promise<void> | undefined => {
    const main = mainRankOf(partitionBy(record), mains);
    batches[main].push(record);
    return batches[main].length >= args.batchSize ? flush(main) : undefined;
  };
  for await (const mapped of preprocessedPartitions(args, ctx, figures)) {
    await forEachPreprocessed(mapped, figures, take);
    for (let main = 0; main < mains; main++) await flush(main);
  }
  return figures;
}

/**
 * One partition's output of `preprocess` (records) or of `preprocessBatches` (arrays of records):
 * each record is counted and handed to `take` in order. `take` returns a promise only when it
 * sends a batch, so a record that only joins a batch costs no promise.
 *
 * @throws TypeError when `preprocessBatches` yields something other than an array.
 */
async function forEachPreprocessed(
  mapped: Preprocessed,
  figures: RoleFigures,
  take: (record: unknown) => Promise<void> | undefined,
): Promise<void> {
  if (mapped.kind === 'records') {
    for await (const record of mapped.records) {
      figures.preprocessed++;
      const sent = take(record);
      if (sent !== undefined) await sent;
    }
    return;
  }
  for await (const out of mapped.batches) {
    if (!Array.isArray(out))
      throw new TypeError(
        `preprocessBatches must yield arrays of records, got ${out === null ? 'null' : typeof out}`,
      );
    figures.preprocessed += out.length;
    for (let i = 0; i < out.length; i++) {
      const sent = take(out[i]);
      if (sent !== undefined) await sent;
    }
  }
}

/** A partition after preprocessing: a stream of records, or of batches (`preprocessBatches`). */
type Preprocessed =
  | { kind: 'records'; records: AsyncIterable<unknown> }
  | { kind: 'batches'; batches: AsyncIterable<unknown[]> };

/**
 * The partitions a preprocess worker takes, one at a time until none are left, each as its
 * records after `preprocess` (identity without one), counting records read into `figures`. The
 * next partition is taken only once the caller has finished with the one before.
 */
async function* preprocessedPartitions(
  args: Parameters<typeof runPreprocessRole>[0],
  ctx: StageContext,
  figures: RoleFigures,
): AsyncGenerator<Preprocessed> {
  for (
    let partition = await args.nextPartition();
    partition !== null;
    partition = await args.nextPartition()
  ) {
    const read = readPartition(args.source, partition, {
      batchSize: args.batchSize,
      ...(args.openServingSource === undefined
        ? {}
        : { openServingSource: args.openServingSource }),
    });
    if (args.stage.preprocessBatches !== undefined) {
      yield {
        kind: 'batches',
        batches: args.stage.preprocessBatches(counted(read, figures, args.signal), ctx),
      };
      continue;
    }
    const records = flatten(read, () => figures.read++, args.signal);
    yield {
      kind: 'records',
      records: args.stage.preprocess === undefined ? records : args.stage.preprocess(records, ctx),
    };
  }
}

/** `batches` as they come, counting their records into `figures.read`; stops on `signal`. */
async function* counted(
  batches: AsyncIterable<unknown[]>,
  figures: RoleFigures,
  signal: AbortSignal,
): AsyncGenerator<unknown[]> {
  for await (const batch of batches) {
    if (signal.aborted) throw signal.reason ?? new Error('aborted');
    figures.read += batch.length;
    yield batch;
  }
}

/**
 * The main rank, among `mains`, that records with this `partitionBy` key go to: MurmurHash3
 * (seed 0) of the key's string form, modulo `mains`; the same in every thread and process.
 *
 * @throws InvalidArgumentError (field `partitionBy`) when the key is not a string or a finite number.
 */
export function mainRankOf(key: PartitionKey, mains: number): number {
  if (typeof key === 'string') return murmur3(key) % mains;
  if (typeof key === 'number' && Number.isFinite(key)) return murmur3(String(key)) % mains;
  let shown = String(key);
  if (typeof key === 'object' && key !== null) {
    try {
      shown = JSON.stringify(key) ?? shown;
    } catch {
      // circular or otherwise unprintable: keep String(key)
    }
  }
  throw new InvalidArgumentError(
    'partitionBy',
    `returned ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown} (${key === null ? 'null' : typeof key}); a key must be a string or a finite number`,
  );
}

/**
 * One main worker: runs `main` over the records dealt to it, then `postprocess` over main's
 * outputs (identity without one), and emits the results in batches to the sink's writer.
 */
export async function runMainRole(args: {
  stage: StageDefinition;
  rank: number;
  size: number;
  params: Record<string, unknown>;
  input: AsyncIterable<unknown[]>;
  collectives: Collectives;
  emit: (batch: unknown[]) => Promise<void>;
  batchSize: number;
  signal: AbortSignal;
  log: (line: string) => void;
}): Promise<RoleFigures> {
  const ctx = contextFor('main', args, args.collectives);
  const figures: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
  // Main may stop reading before its input ends (a sample, an early stop): the rest is then read
  // and dropped, from that moment on, so that preprocess workers waiting to hand it over can
  // finish (and other ranks, fed by the same workers, get their share).
  const input = args.input[Symbol.asyncIterator]();
  const drain = async (): Promise<void> => {
    for (let step = await input.next(); step.done !== true; step = await input.next());
  };
  let draining: Promise<void> | null = null;
  const batches: AsyncIterable<unknown[]> = {
    [Symbol.asyncIterator]: () => ({
      next: () => input.next(),
      return: async () => {
        draining ??= drain();
        draining.catch(() => {}); // awaited below when the role ends well
        return { done: true, value: undefined };
      },
    }),
  };
  const records = flatten(batches, () => {}, args.signal);
  const produced = args.stage.main(records, ctx);
  const outputs = toAsyncIterable(produced);
  const results =
    args.stage.postprocess === undefined
      ? outputs
      : args.stage.postprocess(outputs, contextFor('postprocess', args, args.collectives));
  let batch: unknown[] = [];
  for await (const result of results) {
    batch.push(result);
    figures.written++;
    if (batch.length >= args.batchSize) {
      await args.emit(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await args.emit(batch);
  await (draining ?? drain());
  return figures;
}

/** The context a stage function gets; its log lines are prefixed with the function and rank. */
function contextFor(
  fn: 'preprocess' | 'main' | 'postprocess',
  args: {
    rank: number;
    size: number;
    params: Record<string, unknown>;
    signal: AbortSignal;
    log: (line: string) => void;
  },
  collectives: Collectives,
): StageContext {
  return {
    rank: args.rank,
    size: args.size,
    params: args.params,
    log: (line) => args.log(`${fn}[${args.rank}] ${line}`),
    signal: args.signal,
    ...collectives,
  };
}

/**
 * The records of `batches` one by one. Written as a plain async iterator rather than an async
 * generator: within a batch `next` settles at once, where a generator's `yield` costs several
 * more microtask turns per record, which is most of what a small record costs here.
 */
function flatten(
  batches: AsyncIterable<unknown[]>,
  count: () => void,
  signal: AbortSignal,
): AsyncIterableIterator<unknown> {
  const source = batches[Symbol.asyncIterator]();
  let batch: unknown[] = [];
  let at = 0;
  let finished = false;
  const end = (): IteratorResult<unknown> => ({ done: true, value: undefined });
  return {
    async next(): Promise<IteratorResult<unknown>> {
      while (at >= batch.length) {
        if (finished) return end();
        if (signal.aborted) throw signal.reason ?? new Error('aborted');
        const step = await source.next();
        if (step.done === true) {
          finished = true;
          return end();
        }
        batch = step.value;
        at = 0;
      }
      count();
      return { done: false, value: batch[at++] };
    },
    async return(): Promise<IteratorResult<unknown>> {
      // The consumer stopped early: let the source release what it holds (a file, a query).
      if (!finished) {
        finished = true;
        batch = [];
        await source.return?.();
      }
      return end();
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** main may return an async iterable (streamed outputs) or a promise of an iterable (or nothing). */
async function* toAsyncIterable(
  produced: AsyncIterable<unknown> | Promise<Iterable<unknown> | void>,
): AsyncGenerator<unknown> {
  if (produced !== null && typeof produced === 'object' && Symbol.asyncIterator in produced) {
    yield* produced as AsyncIterable<unknown>;
    return;
  }
  const value = await produced;
  if (value !== undefined && value !== null) yield* value as Iterable<unknown>;
}
