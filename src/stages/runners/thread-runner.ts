import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { startWorker } from '../../core/threads.js';
import { reduceInRankOrder } from '../collectives-local.js';
import { coordinate, type Coordination } from '../coordinator.js';
import type { RoleFigures } from '../roles.js';
import type { RunStageOptions, StageResult, StageRunner } from '../runner.js';
import type { SourcePartition } from '../source.js';
import { readPartition } from '../sources.js';
import type { ReduceOp, StageRef } from '../stage.js';
import {
  fromWire,
  toWire,
  type CollectiveCall,
  type CoordinatorMessage,
  type ThreadWorkerSetup,
  type WorkerMessage,
} from './thread-worker.js';

/** Batches a preprocess thread may have in flight to one main thread before it waits for credit. */
const CREDIT_BATCHES = 8;

/**
 * Runs a stage on worker threads: `numPreprocessors` preprocess threads and `count` main threads,
 * each importing the stage itself from its {@link StageRef}. Records go straight from preprocess
 * to main threads over one MessageChannel per pair (structured clone; large typed arrays are
 * transferred), with credit-based back-pressure, so they never pass through this thread. This
 * thread is the coordinator: it hands out partitions, writes main threads' outputs to the sink
 * (acknowledging each batch only once written, so a slow sink slows the stage), and answers
 * collectives. A failure anywhere terminates every thread at once, so ranks waiting in a
 * collective cannot hang.
 */
export class ThreadStageRunner implements StageRunner {
  readonly name = 'threads';

  run(ref: StageRef, options: RunStageOptions): Promise<StageResult> {
    return coordinate(ref, options, this.name, (c) => runThreads(ref, c));
  }
}

interface Thread {
  worker: Worker;
  where: string;
  done: boolean;
}

async function runThreads(ref: StageRef, c: Coordination): Promise<RoleFigures> {
  const { count, numPreprocessors, batchSize, params, source } = c.options;
  const total: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
  if (c.signal.aborted) return total;
  // pairs[p][m] connects preprocess rank p to main rank m.
  const pairs = Array.from({ length: numPreprocessors }, () =>
    Array.from({ length: count }, () => new MessageChannel()),
  );
  const url = new URL(
    `./thread-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
    import.meta.url,
  );
  const collectives = new CollectiveRounds(count, (rank, message) =>
    threads[numPreprocessors + rank].worker.postMessage(message),
  );
  // Inline records travel with each partition rather than in the source: every preprocess
  // thread would otherwise get a clone of the whole array at start (400k small records take
  // ~0.3 s to serialise here and ~0.75 s to deserialise in each thread). Shipped per partition,
  // each record is cloned once, to the thread that reads it.
  const ship = source.kind === 'records';
  const nextPartition = async (): Promise<{
    partition: SourcePartition | null;
    records?: unknown[];
  }> => {
    const partition = await c.nextPartition();
    if (partition === null || !ship) return { partition };
    const records: unknown[] = [];
    for await (const batch of readPartition(source, partition, { batchSize }))
      for (const record of batch) records.push(record);
    return { partition, records };
  };
  // Writes under way when the stage fails must end before coordinate() aborts the sink.
  const writes = new Set<Promise<void>>();
  let running = numPreprocessors + count;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onAbort = (): void => finish();
  c.signal.addEventListener('abort', onAbort, { once: true });

  const start = (role: 'preprocess' | 'main', rank: number, ports: MessagePort[]): Thread => {
    const setup: ThreadWorkerSetup = {
      kibanStageWorker: true,
      role,
      rank,
      size: role === 'main' ? count : numPreprocessors,
      stage: ref,
      params,
      source: role !== 'preprocess' ? null : ship ? { kind: 'records', records: [] } : source,
      ...(role === 'preprocess' && c.options.servingSourceOpener !== undefined
        ? { servingSourceOpener: c.options.servingSourceOpener }
        : {}),
      batchSize,
      credit: CREDIT_BATCHES,
      ports,
    };
    const thread: Thread = {
      worker: startWorker(url, { workerData: setup, transferList: ports }),
      where: `${role} rank ${rank}`,
      done: false,
    };
    const { worker, where } = thread;
    const reply = (message: CoordinatorMessage): void => worker.postMessage(message);
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'log') {
        c.log(message.line); // even after a failure: the lines around it explain it
        return;
      }
      if (c.signal.aborted) return;
      switch (message.type) {
        case 'partition':
          void nextPartition().then(
            (next) => reply({ type: 'partition', ...next }),
            (error: unknown) => c.fail(where, error),
          );
          return;
        case 'emit': {
          const write = c.write(message.batch).then(
            () => reply({ type: 'emitted' }),
            (error: unknown) => c.fail(where, error),
          );
          writes.add(write);
          void write.finally(() => writes.delete(write));
          return;
        }
        case 'collective':
          collectives.contribute(rank, message.call, message, (error) => c.fail(where, error));
          return;
        case 'failed':
          c.fail(where, fromWire(message.error));
          return;
        case 'done':
          thread.done = true;
          if (role === 'preprocess') {
            total.read += message.figures.read;
            total.preprocessed += message.figures.preprocessed;
          }
          if (--running === 0) finish();
          return;
      }
    });
    worker.on('error', (error) => c.fail(where, error));
    worker.on('messageerror', (error) => c.fail(where, error));
    worker.on('exit', (code) => {
      if (!thread.done && !c.signal.aborted)
        c.fail(where, new Error(`the thread exited with code ${code} before finishing`));
    });
    return thread;
  };

  const threads: Thread[] = [
    ...pairs.map((row, p) =>
      start(
        'preprocess',
        p,
        row.map((pair) => pair.port1),
      ),
    ),
    ...Array.from({ length: count }, (_, m) =>
      start(
        'main',
        m,
        pairs.map((row) => row[m].port2),
      ),
    ),
  ];
  try {
    await finished;
  } finally {
    c.signal.removeEventListener('abort', onAbort);
    // Done threads only idle on their ports; failed or cancelled ones are stopped mid-work.
    await Promise.all(threads.map((t) => t.worker.terminate()));
    await Promise.all(writes);
  }
  return total;
}

/**
 * Collective rounds among `size` main ranks, matched by each rank's own call counter: once every
 * rank has contributed to round k, every rank gets the round's result. Allreduce adds in rank
 * order with {@link reduceInRankOrder}, so results match the other runners bit for bit.
 */
class CollectiveRounds {
  readonly #rounds = new Map<
    number,
    { kind: CollectiveCall['kind']; calls: CollectiveCall[]; arrived: number }
  >();

  constructor(
    private readonly size: number,
    private readonly send: (rank: number, message: CoordinatorMessage) => void,
  ) {}

  contribute(
    rank: number,
    call: number,
    contribution: CollectiveCall,
    fail: (error: unknown) => void,
  ): void {
    let round = this.#rounds.get(call);
    if (round === undefined) {
      round = { kind: contribution.kind, calls: new Array<CollectiveCall>(this.size), arrived: 0 };
      this.#rounds.set(call, round);
    }
    if (round.kind !== contribution.kind) {
      fail(
        new Error(
          `collective call ${call + 1}: this rank called ${contribution.kind} while another called ${round.kind}; every rank must call the same collectives in the same order`,
        ),
      );
      return;
    }
    round.calls[rank] = contribution;
    if (++round.arrived < this.size) return;
    this.#rounds.delete(call);
    const calls = round.calls;
    // Ranks may ask for different ops (as with the inline runner); each op is reduced once.
    const reduced = new Map<ReduceOp, Float32Array | Float64Array>();
    const reduce = (op: ReduceOp): Float32Array | Float64Array => {
      let value = reduced.get(op);
      if (value === undefined)
        reduced.set(
          op,
          (value = reduceInRankOrder(
            calls.map((c) => (c as { value: Float32Array | Float64Array }).value),
            op,
          )),
        );
      return value;
    };
    for (let r = 0; r < this.size; r++) {
      const mine = calls[r];
      try {
        const value =
          mine.kind === 'allreduce'
            ? reduce(mine.op)
            : mine.kind === 'broadcast'
              ? (calls[mine.root] as { value?: unknown } | undefined)?.value
              : null;
        this.send(r, { type: 'collective', call, value });
      } catch (error) {
        this.send(r, { type: 'collective', call, error: toWire(error) });
      }
    }
  }
}
