/**
 * The worker thread that runs one partition job of the BullMQ stage runner: `preprocess` over a
 * source partition, or `main` + `postprocess` of one main rank. It runs on a thread of its own
 * so that the worker process's event loop, which renews the job's BullMQ lock on a timer (the
 * heartbeat), stays free however long the stage computes synchronously. Artifact I/O and Redis
 * stay on the worker's main thread: this thread gets its input files as bytes and hands its
 * output files back as bytes; collectives are relayed through the main thread.
 *
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { loadStage } from '../load-stage.js';
import { runMainRole, runPreprocessRole, type Collectives } from '../roles.js';
import { servingSourceOpener } from '../sources.js';
import type { ReduceOp } from '../stage.js';
import { reduceInRankOrder } from '../collectives-local.js';
import {
  decodeFrames,
  encodeFrames,
  type ShippedStageRef,
  type StagePartitionJob,
} from './bullmq-stage-protocol.js';

/** What the worker's main thread gives the partition thread. */
export interface PartitionThreadSetup {
  kibanStagePartition: true;
  job: StagePartitionJob;
  /** The project root that relative stage modules resolve against. */
  root: string;
  /** Main jobs: the bytes of `job.inputs`, in the same order. */
  inputs?: Uint8Array[];
}

/** Messages from the partition thread. */
export type FromPartitionThread =
  | { type: 'log'; line: string }
  | { type: 'collective'; id: number; kind: string; value: unknown }
  | {
      type: 'done';
      figures: { read: number; preprocessed: number; written: number };
      /** Preprocess: one file per main rank; main: one file of outputs. */
      files: Uint8Array[];
    }
  | { type: 'error'; message: string };

/** Messages to the partition thread. */
export type ToPartitionThread =
  | { type: 'collective-result'; id: number; parts?: unknown[]; error?: string }
  | { type: 'abort'; reason: string };

/**
 * The absolute path (or package specifier) of a shipped stage module on this machine: a path
 * relative to `root`, or a package resolved from `root`'s `node_modules`.
 */
export function resolveShippedModule(ref: ShippedStageRef, root: string): string {
  const m = ref.module;
  if (m.startsWith('file:') || isAbsolute(m)) return m;
  if (m.startsWith('.') || /\.[cm]?[jt]s$/.test(m)) return resolve(root, m);
  try {
    return createRequire(resolve(root, 'package.json')).resolve(m);
  } catch {
    return m;
  }
}

async function main(setup: PartitionThreadSetup): Promise<void> {
  const port = parentPort!;
  const abort = new AbortController();
  const pending = new Map<number, { ok: (parts: unknown[]) => void; no: (e: Error) => void }>();
  let nextId = 0;
  port.on('message', (message: ToPartitionThread) => {
    if (message.type === 'abort') {
      abort.abort(new Error(message.reason));
      for (const p of pending.values()) p.no(new Error(message.reason));
      pending.clear();
      return;
    }
    const p = pending.get(message.id);
    if (p === undefined) return;
    pending.delete(message.id);
    if (message.error !== undefined) p.no(new Error(message.error));
    else p.ok(message.parts ?? []);
  });
  const post = (message: FromPartitionThread, transfer: ArrayBuffer[] = []): void =>
    port.postMessage(message, transfer);
  const log = (line: string): void => post({ type: 'log', line });
  const round = (kind: string, value: unknown): Promise<unknown[]> =>
    new Promise((ok, no) => {
      if (abort.signal.aborted) {
        no(abort.signal.reason as Error);
        return;
      }
      const id = nextId++;
      pending.set(id, { ok, no });
      post({ type: 'collective', id, kind, value });
    });
  const collectives: Collectives = {
    allreduce: async <T extends Float32Array | Float64Array>(
      array: T,
      op: ReduceOp = 'sum',
    ): Promise<T> => reduceInRankOrder((await round('allreduce', array)) as T[], op),
    broadcast: async <T>(value: T, root = 0): Promise<T> =>
      (await round('broadcast', value))[root] as T,
    barrier: async () => {
      await round('barrier', null);
    },
  };

  const { job } = setup;
  const stage = await loadStage({
    module: resolveShippedModule(job.stage, setup.root),
    ...(job.stage.export === undefined ? {} : { export: job.stage.export }),
  });
  if (job.phase === 'preprocess') {
    const batches: unknown[][][] = Array.from({ length: job.mains }, () => []);
    let given = false;
    const figures = await runPreprocessRole({
      stage,
      rank: job.rank,
      size: job.size,
      params: job.params,
      source: job.source,
      nextPartition: async () => {
        if (given) return null;
        given = true;
        return job.partition;
      },
      mains: job.mains,
      send: async (to, batch) => {
        batches[to].push(batch);
      },
      batchSize: job.batchSize,
      signal: abort.signal,
      log,
      ...(job.servingSourceOpener === undefined
        ? {}
        : { openServingSource: servingSourceOpener(job.servingSourceOpener) }),
    });
    const files = batches.map((b) => new Uint8Array(encodeFrames(b)));
    post(
      { type: 'done', figures, files },
      files.map((f) => f.buffer as ArrayBuffer),
    );
    return;
  }
  const inputs = setup.inputs ?? [];
  async function* input(): AsyncGenerator<unknown[]> {
    for (const bytes of inputs) for (const batch of decodeFrames(bytes)) yield batch;
  }
  const outputs: unknown[][] = [];
  const figures = await runMainRole({
    stage,
    rank: job.rank,
    size: job.size,
    params: job.params,
    input: input(),
    collectives,
    emit: async (batch) => {
      outputs.push(batch);
    },
    batchSize: job.batchSize,
    signal: abort.signal,
    log,
  });
  const file = new Uint8Array(encodeFrames(outputs));
  post({ type: 'done', figures, files: [file] }, [file.buffer as ArrayBuffer]);
}

const setup = workerData as PartitionThreadSetup | undefined;
if (setup?.kibanStagePartition === true) {
  main(setup).catch((error: unknown) => {
    parentPort?.postMessage({
      type: 'error',
      message: error instanceof Error ? error.message : String(error),
    } satisfies FromPartitionThread);
  });
}
