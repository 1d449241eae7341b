/**
 * Entry of one worker thread of {@link ThreadStageRunner}: imports the stage from its
 * {@link StageRef} and plays one role (a preprocess or a main rank) with the shared role logic of
 * `roles.ts`. Records travel straight between threads over one MessagePort per (preprocess, main)
 * pair; the coordinator thread only hands out partitions, writes outputs to the sink, and
 * answers collectives.
 *
 * Protocol on a data port, preprocess → main: a batch (an array of records) or `null` (this
 * preprocess rank is done); main → preprocess: a number of batches of credit given back. A
 * preprocess rank starts with `credit` batches per main rank and waits while it has none left,
 * so a fast preprocess cannot outrun a slow main by more than `credit` batches.
 *
 * @module
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Channel } from '../channel.js';
import { loadStage } from '../load-stage.js';
import { runMainRole, runPreprocessRole, type Collectives, type RoleFigures } from '../roles.js';
import { planPartitions, servingSourceOpener } from '../sources.js';
import type { ServingSourceOpenerRef, SourcePartition, SourceSpec } from '../source.js';
import type { ReduceOp, StageRef } from '../stage.js';

/** What the coordinator gives a worker thread at start (its `workerData`). */
export interface ThreadWorkerSetup {
  kibanStageWorker: true;
  role: 'preprocess' | 'main';
  rank: number;
  /** Ranks of this role. */
  size: number;
  stage: StageRef;
  params: Record<string, unknown>;
  /**
   * Only preprocess ranks read the source. Inline records come as `{ kind: 'records', records: [] }`:
   * each partition's records travel with the partition instead (see {@link shipRecords}).
   */
  source: SourceSpec | null;
  /** Opens a `serving` source's store (a module reference: a function cannot cross threads). */
  servingSourceOpener?: ServingSourceOpenerRef;
  batchSize: number;
  /** Batches a preprocess rank may send to one main rank before it must wait for credit. */
  credit: number;
  /** Preprocess: one port per main rank, by main rank; main: one per preprocess rank, by preprocess rank. */
  ports: MessagePort[];
}

/** A contribution to a collective; `call` is the rank's own count of collectives so far. */
export type CollectiveCall =
  | { kind: 'allreduce'; value: Float32Array | Float64Array; op: ReduceOp }
  | { kind: 'broadcast'; value: unknown; root: number }
  | { kind: 'barrier' };

/** An error as it crosses threads (class and own properties are lost; message and stack are kept). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** Worker → coordinator, on the worker's parent port. */
export type WorkerMessage =
  | { type: 'partition' }
  | { type: 'emit'; batch: unknown[] }
  | ({ type: 'collective'; call: number } & CollectiveCall)
  | { type: 'log'; line: string }
  | { type: 'done'; figures: RoleFigures }
  | { type: 'failed'; error: WireError };

/** Coordinator → worker. Replies to `partition` and `emit` come in request order (one at a time). */
export type CoordinatorMessage =
  | { type: 'partition'; partition: SourcePartition | null; records?: unknown[] }
  | { type: 'emitted' }
  | { type: 'collective'; call: number; value: unknown }
  | { type: 'collective'; call: number; error: WireError };

/**
 * Typed arrays at least this large are transferred rather than copied. Below it a copy costs
 * about what a transfer does, and copying cannot surprise a stage that keeps using an array it
 * yielded.
 */
const MIN_TRANSFER_BYTES = 16 * 1024;

/**
 * Buffers of a batch that may be moved instead of copied: those of typed arrays that are records
 * or direct members of records, span their whole (non-shared) buffer, and are large. A yielded
 * record is handed over, so its own arrays are the stage's to give away; a view into a larger
 * buffer, or a shared one, is not.
 */
export function transferablesOf(batch: readonly unknown[]): ArrayBuffer[] {
  let found: Set<ArrayBuffer> | null = null;
  const consider = (value: unknown): void => {
    if (!ArrayBuffer.isView(value) || value.byteLength < MIN_TRANSFER_BYTES) return;
    const buffer = value.buffer;
    if (
      !(buffer instanceof ArrayBuffer) ||
      value.byteOffset !== 0 ||
      value.byteLength !== buffer.byteLength
    )
      return;
    (found ??= new Set()).add(buffer);
  };
  for (const record of batch) {
    if (record === null || typeof record !== 'object') continue;
    if (ArrayBuffer.isView(record)) consider(record);
    else if (Array.isArray(record)) for (const member of record) consider(member);
    else if (Object.getPrototypeOf(record) === Object.prototype)
      for (const key in record) consider((record as Record<string, unknown>)[key]);
  }
  return found === null ? [] : [...(found as Set<ArrayBuffer>)];
}

/** Turns anything thrown into a cloneable {@link WireError}. */
export function toWire(error: unknown): WireError {
  if (error instanceof Error)
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    };
  return { name: 'Error', message: String(error) };
}

/** The Error a {@link WireError} stood for, with the thread's stack. */
export function fromWire(wire: WireError): Error {
  const error = new Error(wire.message);
  error.name = wire.name;
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

/** Awaits replies that arrive in request order. */
class Replies<T> {
  readonly #waiting: ((value: T) => void)[] = [];
  next(): Promise<T> {
    return new Promise<T>((resolve) => this.#waiting.push(resolve));
  }
  settle(value: T): void {
    this.#waiting.shift()?.(value);
  }
}

async function runWorker(setup: ThreadWorkerSetup, parent: MessagePort): Promise<void> {
  const partitions = new Replies<{ partition: SourcePartition | null; records?: unknown[] }>();
  const emitted = new Replies<void>();
  const collectives = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void }
  >();
  parent.on('message', (message: CoordinatorMessage) => {
    if (message.type === 'partition') partitions.settle(message);
    else if (message.type === 'emitted') emitted.settle();
    else {
      const pending = collectives.get(message.call);
      collectives.delete(message.call);
      if ('error' in message) pending?.reject(fromWire(message.error));
      else pending?.resolve(message.value);
    }
  });
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void =>
    parent.postMessage(message, transfer);
  const log = (line: string): void => post({ type: 'log', line });
  // The coordinator ends a failed stage by terminating every thread, so nothing here is ever
  // aborted; the signal exists because stage code may watch it.
  const signal = new AbortController().signal;
  try {
    const stage = await loadStage(setup.stage);
    let figures: RoleFigures;
    if (setup.role === 'preprocess') {
      const source = setup.source;
      if (source === null) throw new Error('a preprocess thread needs the source');
      const send = creditedSender(setup.ports, setup.credit);
      figures = await runPreprocessRole({
        stage,
        rank: setup.rank,
        size: setup.size,
        params: setup.params,
        source,
        nextPartition: async () => {
          post({ type: 'partition' });
          const { partition, records } = await partitions.next();
          if (partition === null || records === undefined || source.kind !== 'records')
            return partition;
          // The role reads `source` once it has the partition: point it at this partition's
          // records, and at a partition spanning all of them (planned by sources.ts, whose
          // locators are opaque here), keeping the original's index and label.
          source.records = records;
          const [whole] = await planPartitions(source, { target: 1 });
          return { ...whole, index: partition.index, label: partition.label };
        },
        mains: setup.ports.length,
        send,
        batchSize: setup.batchSize,
        signal,
        log,
        ...(setup.servingSourceOpener === undefined
          ? {}
          : { openServingSource: servingSourceOpener(setup.servingSourceOpener) }),
      });
      for (const port of setup.ports) port.postMessage(null);
    } else {
      let calls = 0;
      const round = (call: CollectiveCall): Promise<unknown> =>
        new Promise((resolve, reject) => {
          const id = calls++;
          collectives.set(id, { resolve, reject });
          post({ type: 'collective', call: id, ...call });
        });
      const ranks: Collectives = {
        allreduce: async <T extends Float32Array | Float64Array>(array: T, op: ReduceOp = 'sum') =>
          (await round({ kind: 'allreduce', value: array, op })) as T,
        broadcast: async <T>(value: T, root = 0) =>
          (await round({ kind: 'broadcast', value, root })) as T,
        barrier: async () => {
          await round({ kind: 'barrier' });
        },
      };
      figures = await runMainRole({
        stage,
        rank: setup.rank,
        size: setup.size,
        params: setup.params,
        input: creditedInput(setup.ports),
        collectives: ranks,
        emit: (batch) => {
          post({ type: 'emit', batch }, transferablesOf(batch));
          return emitted.next();
        },
        batchSize: setup.batchSize,
        signal,
        log,
      });
    }
    post({ type: 'done', figures });
  } catch (error) {
    post({ type: 'failed', error: toWire(error) });
  }
}

/** A preprocess rank's `send`: waits for credit from that main rank, then posts the batch. */
function creditedSender(
  ports: MessagePort[],
  credit: number,
): (main: number, batch: unknown[]) => Promise<void> {
  const credits = ports.map(() => credit);
  const waiting: ((() => void) | null)[] = ports.map(() => null);
  ports.forEach((port, main) =>
    port.on('message', (returned: number) => {
      credits[main] += returned;
      const wake = waiting[main];
      waiting[main] = null;
      wake?.();
    }),
  );
  return async (main, batch) => {
    while (credits[main] <= 0) await new Promise<void>((resolve) => (waiting[main] = resolve));
    credits[main]--;
    ports[main].postMessage(batch, transferablesOf(batch));
  };
}

/**
 * A main rank's input: the batches of every preprocess rank in arrival order, ending once each
 * has sent its end marker. Credit goes back as each batch is taken, so at most `credit` batches
 * per preprocess rank wait here.
 */
async function* creditedInput(ports: MessagePort[]): AsyncGenerator<unknown[]> {
  // Credit bounds what can arrive, so the queue never fills and `put` never waits.
  const queue = new Channel<{ batch: unknown[]; from: number }>({
    capacity: Number.MAX_SAFE_INTEGER,
    producers: ports.length,
  });
  ports.forEach((port, from) =>
    port.on('message', (batch: unknown[] | null) => {
      if (batch === null) queue.close();
      else void queue.put({ batch, from });
    }),
  );
  try {
    for await (const { batch, from } of queue) {
      ports[from].postMessage(1);
      yield batch;
    }
  } finally {
    for (const port of ports) port.close();
  }
}

if (
  !isMainThread &&
  parentPort !== null &&
  (workerData as Partial<ThreadWorkerSetup> | null)?.kibanStageWorker === true
) {
  void runWorker(workerData as ThreadWorkerSetup, parentPort);
}
