import { addExtension, Packr } from 'msgpackr';
import type { RoleFigures } from '../roles.js';
import type { SourcePartition, SourceSpec } from '../source.js';
import type { ReduceOp, StageRef } from '../stage.js';

/**
 * The wire protocol between the ZeroMQ coordinator and its worker processes.
 *
 * Control (worker DEALER ⇄ coordinator ROUTER): one msgpack frame per message, plus a second raw
 * frame for collective payloads. Data (preprocess PUSH → main PULL, main PUSH → coordinator PULL):
 * a one-byte kind frame, then a msgpack frame, then (batches only) one raw frame per large typed
 * array of the batch (see {@link encodeBatch}).
 */

/** Sent by a worker to the coordinator. */
export type WorkerMessage =
  | { t: 'hello'; pid: number; host: string }
  | { t: 'heartbeat' }
  /** A main worker's data socket is bound: preprocess workers push to `address`. */
  | { t: 'ready'; address: string }
  | { t: 'next' }
  | { t: 'log'; line: string }
  /** A preprocess worker finished (mains finish with an end marker on their output stream). */
  | { t: 'done'; figures: RoleFigures }
  | { t: 'failed'; where: string; message: string; stack?: string }
  /** One rank's part of collective number `seq` (counted per rank); the payload frame follows. */
  | { t: 'collective'; seq: number; kind: 'allreduce' | 'broadcast' | 'barrier'; op?: ReduceOp; dtype?: Dtype; root?: number };

/** What a worker is asked to do. */
export interface Assignment {
  role: 'main' | 'preprocess';
  rank: number;
  size: number;
  stage: StageRef;
  params: Record<string, unknown>;
  /** Only preprocess workers read the source (a `records` source can be large). */
  source?: SourceSpec;
  batchSize: number;
  count: number;
  numPreprocessors: number;
  /** Where main workers push their outputs (the coordinator's PULL). */
  outputs: string;
}

/** Sent by the coordinator to one worker. */
export type CoordinatorMessage =
  | { t: 'assign'; assignment: Assignment }
  /** Not needed (more workers came than the stage uses): exit. */
  | { t: 'dismiss'; reason: string }
  /** The data addresses of every main worker, in rank order (for preprocess workers). */
  | { t: 'mains'; addresses: string[] }
  | { t: 'partition'; partition: SourcePartition | null }
  /** The result of collective `seq`; the payload frame follows. */
  | { t: 'collective'; seq: number; dtype?: Dtype }
  | { t: 'ping' }
  | { t: 'abort'; reason: string }
  /** The stage succeeded: close sockets and exit 0. */
  | { t: 'exit' };

/** Element types of allreduce payloads. */
export type Dtype = 'f32' | 'f64';

/** Data-socket frame kinds. */
export const DATA_BATCH = 'b';
export const DATA_END = 'e';

/**
 * Self-contained messages (record structures travel inside each message, so any process can
 * decode any message); typed arrays keep their type (`moreTypes`), Maps stay Maps and objects
 * stay objects (records mode keeps the two apart).
 */
const packr = new Packr({ moreTypes: true, useRecords: true });

export function pack(value: unknown): Buffer {
  return packr.pack(value);
}

export function unpack<T = unknown>(frame: Buffer | Uint8Array): T {
  return packr.unpack(frame) as T;
}

/**
 * Typed arrays of at least this many bytes travel out of band: as frames of their own, sent
 * without copying, instead of being copied into the msgpack frame (and out of it again).
 */
export const OUT_OF_BAND_BYTES = 1024;

/** msgpack extension type of an out-of-band placeholder ('k'); msgpackr's own types do not use it. */
const OUT_OF_BAND_EXT = 0x6b;

type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;
type TypedArrayClass = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; new (length: number): TypedArray; readonly BYTES_PER_ELEMENT: number };

/** Out-of-band element types, by the code in the placeholder. */
const TYPED_ARRAYS: TypedArrayClass[] = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
];
const TYPED_ARRAY_CODES = new Map<unknown, number>(TYPED_ARRAYS.map((c, i) => [c, i]));

/** The frames of the batch being encoded (`null` outside {@link encodeBatch}). */
let outgoing: Buffer[] | null = null;
/** The frames of the batch being decoded (`null` outside {@link decodeBatch}). */
let incoming: Buffer[] | null = null;

/**
 * What goes out of band: only while a batch is encoded, so that every other use of msgpackr in
 * this process (msgpackr extensions are global) packs typed arrays as before. Buffers and
 * typed-array subclasses keep msgpackr's own encoding (they would come back as another class).
 */
class OutOfBand {
  static [Symbol.hasInstance](value: unknown): boolean {
    return outgoing !== null && ArrayBuffer.isView(value) && value.byteLength >= OUT_OF_BAND_BYTES && TYPED_ARRAY_CODES.has(value.constructor);
  }
}

addExtension({
  Class: OutOfBand,
  type: OUT_OF_BAND_EXT,
  // The placeholder: the element type's code, then the frame's index among the array frames.
  pack(array: TypedArray): Buffer {
    const frames = outgoing!;
    frames.push(Buffer.from(array.buffer, array.byteOffset, array.byteLength));
    const placeholder = Buffer.allocUnsafe(5);
    placeholder[0] = TYPED_ARRAY_CODES.get(array.constructor)!;
    placeholder.writeUInt32LE(frames.length - 1, 1);
    return placeholder;
  },
  unpack(placeholder: Uint8Array): TypedArray {
    const Class = TYPED_ARRAYS[placeholder[0]];
    const index = placeholder[1] | (placeholder[2] << 8) | (placeholder[3] << 16) | (placeholder[4] << 24);
    const frame = incoming?.[index];
    if (Class === undefined || frame === undefined) throw new Error('zeromq: a batch refers to a typed-array frame that did not come with it');
    const size = Class.BYTES_PER_ELEMENT;
    // A view over the received frame (no copy), unless its offset does not suit the element size.
    if (frame.byteOffset % size === 0) return new Class(frame.buffer, frame.byteOffset, frame.byteLength / size);
    const copy = new Class(frame.byteLength / size);
    new Uint8Array(copy.buffer).set(frame);
    return copy;
  },
});

/**
 * The frames of a data batch: the kind, the batch in msgpack, then every typed array of at
 * least {@link OUT_OF_BAND_BYTES} as a frame of its own over the array's memory (ZeroMQ sends
 * it from there, later than `send` returns: a stage must not write to an array it has yielded).
 */
export function encodeBatch(batch: unknown[]): Buffer[] {
  const frames: Buffer[] = [];
  outgoing = frames;
  let body: Buffer;
  try {
    body = packr.pack(batch);
  } finally {
    outgoing = null;
  }
  return [Buffer.from(DATA_BATCH), body, ...frames];
}

/** The batch of data frames `[kind, body, ...arrays]` from {@link encodeBatch}. */
export function decodeBatch(frames: Buffer[]): unknown[] {
  incoming = frames.length > 2 ? frames.slice(2) : null;
  try {
    return packr.unpack(frames[1]) as unknown[];
  } finally {
    incoming = null;
  }
}

export function encodeControl(message: WorkerMessage | CoordinatorMessage, payload?: Buffer): Buffer[] {
  return payload === undefined ? [pack(message)] : [pack(message), payload];
}

/** The element type of an allreduce array. */
export function dtypeOf(array: Float32Array | Float64Array): Dtype {
  if (array instanceof Float32Array) return 'f32';
  if (array instanceof Float64Array) return 'f64';
  throw new TypeError('allreduce takes a Float32Array or a Float64Array');
}

/** The raw bytes of a typed array, without copying. */
export function arrayBytes(array: Float32Array | Float64Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** A typed array over a copy of `bytes` (a received frame is not aligned for Float64Array). */
export function bytesToArray(bytes: Uint8Array, dtype: Dtype): Float32Array | Float64Array {
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return dtype === 'f32' ? new Float32Array(copy) : new Float64Array(copy);
}

/**
 * A send function for `socket` that queues calls: zeromq.js allows one send in flight per
 * socket (a second one throws EBUSY), while heartbeats, logs and requests are sent from
 * independent tasks.
 */
export function serialSender(socket: { send(frames: Buffer[]): Promise<void> }): (frames: Buffer[]) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (frames) => {
    const sent = tail.then(() => socket.send(frames));
    tail = sent.catch(() => {});
    return sent;
  };
}
