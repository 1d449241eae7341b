/**
 * What the BullMQ stage runner ({@link BullmqStageRunner}) and its workers
 * (`bullmq-stage-worker.ts`) share: the queue, the job data, the artifact keys of partition
 * files, the Redis keys of a run, and the frame format of partition files.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { deserialize, serialize } from 'node:v8';
import type { ServingSourceOpenerRef, SourcePartition, SourceSpec } from '../source.js';

/** The queue stage partition jobs go to (the workflow tasks' queue is another). */
export const DEFAULT_STAGE_QUEUE = 'kiban-stages';

/** The BullMQ key prefix of the stage queue; must match between runner and workers. */
export const DEFAULT_STAGE_PREFIX = 'kiban';

/**
 * A stage module as shipped in a job: a path relative to the project root (resolved against
 * the worker's own `--root`), or a bare package specifier (resolved from the installed
 * project), never an absolute path of the submitting machine.
 */
export interface ShippedStageRef {
  module: string;
  export?: string;
}

/** Fields every partition job has. */
interface PartitionJobBase {
  runId: string;
  stage: ShippedStageRef;
  /** The stage's name, for the per-stage concurrency cap. */
  stageName: string;
  params: Record<string, unknown>;
  batchSize: number;
  /** Main ranks (`count`). */
  mains: number;
  /** Partition jobs of this stage that may run at once on all hosts together; 0: no cap. */
  maxConcurrency: number;
}

/** Runs `preprocess` over one source partition and writes one file per main rank. */
export interface PreprocessJob extends PartitionJobBase {
  phase: 'preprocess';
  /** `ctx.rank`: the partition's index modulo `numPreprocessors`. */
  rank: number;
  size: number;
  source: SourceSpec;
  partition: SourcePartition;
  servingSourceOpener?: ServingSourceOpenerRef;
}

/** Runs `main` and `postprocess` of one main rank over the files preprocess wrote for it. */
export interface MainJob extends PartitionJobBase {
  phase: 'main';
  rank: number;
  size: number;
  /** Artifact keys of the rank's input files, in partition order. */
  inputs: string[];
}

export type StagePartitionJob = PreprocessJob | MainJob;

/** What a completed partition job returns. */
export interface PartitionResult {
  read: number;
  preprocessed: number;
  written: number;
  /** Artifact keys written (committed) by the job. */
  keys: string[];
}

/** Where the partition files of a run live in the artifact store. */
export function runPrefix(runId: string): string {
  return `stages/${runId}/`;
}

/** The file preprocess partition `partition` writes for main rank `rank`. */
export function preprocessKey(runId: string, partition: number, rank: number): string {
  return `${runPrefix(runId)}pre/p-${pad(partition)}/to-${pad(rank)}.bin`;
}

/** The outputs (after postprocess) of main rank `rank`. */
export function mainKey(runId: string, rank: number): string {
  return `${runPrefix(runId)}main/r-${pad(rank)}.bin`;
}

/** Redis keys of one run (collectives, failure), under the queue prefix. */
export function runRedisKey(prefix: string, runId: string, ...rest: string[]): string {
  return [prefix, 'stage-run', runId, ...rest].join(':');
}

/** The Redis sorted set that caps the partition jobs of one stage running at once. */
export function semaphoreKey(prefix: string, stageName: string): string {
  return [prefix, 'stage-slots', stageName].join(':');
}

/** What a worker stores under the run's `failed` key: the first failure. */
export interface RunFailure {
  where: string;
  message: string;
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}

/**
 * Encodes batches of records as frames: a 4-byte big-endian length, then the batch as
 * `v8.serialize` writes it (the structured-clone format: typed arrays, Maps and Dates survive,
 * as between threads).
 */
export function encodeFrames(batches: readonly unknown[][]): Buffer {
  const parts: Buffer[] = [];
  for (const batch of batches) {
    const body = serialize(batch);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

/** The batches of {@link encodeFrames}' output, one at a time. */
export function* decodeFrames(bytes: Uint8Array): Generator<unknown[]> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new Error('partition file: truncated frame header');
    const length = buf.readUInt32BE(at);
    at += 4;
    if (at + length > buf.length) throw new Error('partition file: truncated frame');
    yield deserialize(buf.subarray(at, at + length)) as unknown[];
    at += length;
  }
}
