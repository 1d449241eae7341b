import { addExtension, Packr } from 'msgpackr';
import type { RoleFigures } from '../roles.js';
import type { ServingSourceOpenerRef, SourcePartition, SourceSpec } from '../source.js';
import type { ReduceOp, StageRef } from '../stage.js';
import type { FrameRing } from './frame-ring.js';

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
  /**
   * The worker is alive. Sent by the worker's heartbeat thread over a socket of its own, so `of`
   * names the routing id of the worker's control socket: the worker the beat speaks for
   * (see {@link speakerOf}). Without `of`, the beat speaks for the socket it came from.
   */
  | { t: 'heartbeat'; of?: string }
  /** A main worker's data socket is bound: preprocess workers push to `address`. */
  | { t: 'ready'; address: string }
  | { t: 'next' }
  | { t: 'log'; line: string }
  /** A preprocess worker finished (mains finish with an end marker on their output stream). */
  | { t: 'done'; figures: RoleFigures }
  | { t: 'failed'; where: string; message: string; stack?: string }
  /** One rank's part of collective number `seq` (counted per rank); the payload frame follows. */
  | {
      t: 'collective';
      seq: number;
      kind: 'allreduce' | 'broadcast' | 'barrier';
      op?: ReduceOp;
      dtype?: Dtype;
      root?: number;
    };

/** What a worker is asked to do. */
export interface Assignment {
  role: 'main' | 'preprocess';
  rank: number;
  size: number;
  stage: StageRef;
  params: Record<string, unknown>;
  /** Only preprocess workers read the source (a `records` source can be large). */
  source?: SourceSpec;
  /**
   * Opens a `serving` source's store: a module the worker imports, unless the worker was given
   * its own opener (`ZmqWorkerOptions.openServingSource`, as `kiban stage worker` is).
   */
  servingSourceOpener?: ServingSourceOpenerRef;
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
/** A batch sent column by column (see {@link encodeBatch}). */
export const DATA_COLUMNS = 'c';
const COLUMNS_BYTE = DATA_COLUMNS.charCodeAt(0);

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
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
type TypedArrayClass = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

/** Out-of-band element types, by the code in the placeholder. */
const TYPED_ARRAYS: TypedArrayClass[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
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
    return (
      outgoing !== null &&
      ArrayBuffer.isView(value) &&
      value.byteLength >= OUT_OF_BAND_BYTES &&
      TYPED_ARRAY_CODES.has(value.constructor)
    );
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
    const index =
      placeholder[1] | (placeholder[2] << 8) | (placeholder[3] << 16) | (placeholder[4] << 24);
    const frame = incoming?.[index];
    if (Class === undefined || frame === undefined)
      throw new Error('zeromq: a batch refers to a typed-array frame that did not come with it');
    const size = Class.BYTES_PER_ELEMENT;
    // A view over the received frame (no copy), unless its offset does not suit the element size.
    if (frame.byteOffset % size === 0)
      return new Class(frame.buffer, frame.byteOffset, frame.byteLength / size);
    const copy = new Class(frame.byteLength / size);
    new Uint8Array(copy.buffer).set(frame);
    return copy;
  },
});

// ───────────────────────────── columnar batches ─────────────────────────────

/**
 * Batches of at least this many records whose records are plain objects with the same keys in
 * the same order travel column by column (see {@link encodeBatch}); smaller ones row by row.
 */
export const COLUMNAR_MIN_RECORDS = 8;

/** Column kinds in a columnar header. */
const COL_NUMBERS = 0;
const COL_ARRAYS = 1;
const COL_STRINGS = 2;
const COL_MSGPACK = 3;

/**
 * A column in a columnar header:
 * - `[COL_NUMBERS, frame]`: a Float64Array frame, one number per record (exact: -0 and NaN too);
 * - `[COL_ARRAYS, code, frame, lengths]`: typed arrays of one class, concatenated in one frame;
 *   `lengths` is the element count of every array, or the index of an Int32Array frame of counts;
 * - `[COL_STRINGS, frame, lengths, ascii]`: strings one after the other in one UTF-8 frame, with
 *   an Int32Array frame of their lengths in bytes (only when every string is well formed, so that
 *   UTF-8 carries it exactly); `ascii` is 1 when every byte is below 0x80 (then decoded as
 *   Latin-1, which is the same text and cheaper), else 0 (a peer that does not send it: 0);
 * - `[COL_MSGPACK, values]`: anything else, packed in the header (large typed arrays out of band).
 */
type Column =
  | [typeof COL_NUMBERS, number]
  | [typeof COL_ARRAYS, number, number, number | [number]]
  | [typeof COL_STRINGS, number, number, (0 | 1)?]
  | [typeof COL_MSGPACK, unknown[]];

/** `String.prototype.isWellFormed` (Node 20; not in the ES2023 lib): no lone surrogates. */
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Node's own Buffer methods without the argument checks of `write` and `toString` (which cost
 * as much as the copy for a string of a few hundred bytes); `undefined` where absent.
 */
const fastBuffer = Buffer.prototype as unknown as {
  utf8Write?: (this: Buffer, text: string, offset: number, length?: number) => number;
  utf8Slice?: (this: Buffer, start: number, end: number) => string;
  latin1Slice?: (this: Buffer, start: number, end: number) => string;
};
const utf8Write =
  fastBuffer.utf8Write ??
  function (this: Buffer, text: string, offset: number): number {
    return this.write(text, offset, 'utf8');
  };
const utf8Slice =
  fastBuffer.utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('utf8', start, end);
  };
const latin1Slice =
  fastBuffer.latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

const frameOf = (array: TypedArray): Buffer =>
  Buffer.from(array.buffer, array.byteOffset, array.byteLength);

/** A typed array over `frame`: a view when its offset suits the element size, else over a copy. */
function arrayOver<T extends TypedArray>(Class: TypedArrayClass, frame: Buffer | undefined): T {
  if (frame === undefined)
    throw new Error('zeromq: a batch refers to a frame that did not come with it');
  const size = Class.BYTES_PER_ELEMENT;
  if (frame.byteLength % size !== 0)
    throw new Error('zeromq: a typed-array frame of a batch has a partial element');
  if (frame.byteOffset % size === 0)
    return new Class(frame.buffer, frame.byteOffset, frame.byteLength / size) as T;
  const copy = new Class(frame.byteLength / size);
  new Uint8Array(copy.buffer).set(frame);
  return copy as T;
}

/**
 * The keys shared by every record of `batch`, when every record is a plain object with the same
 * keys in the same order; otherwise `null`. (Values are not read here: reading a property by a
 * name in a variable is slow; {@link encodeBatch} checks for `undefined` in the gathered columns.)
 */
function sharedKeys(batch: unknown[]): string[] | null {
  const first = batch[0];
  if (
    typeof first !== 'object' ||
    first === null ||
    Object.getPrototypeOf(first) !== Object.prototype
  )
    return null;
  const keys = Object.keys(first);
  const k = keys.length;
  if (k === 0 || keys.includes('__proto__')) return null;
  for (let i = 0; i < batch.length; i++) {
    const record = batch[i] as Record<string, unknown>;
    if (
      typeof record !== 'object' ||
      record === null ||
      Object.getPrototypeOf(record) !== Object.prototype
    )
      return null;
    const own = i === 0 ? keys : Object.keys(record);
    if (own.length !== k) return null;
    for (let j = 0; j < k; j++) if (own[j] !== keys[j]) return null;
  }
  return keys;
}

/** One column's descriptor, pushing its frames onto `frames`. */
function encodeColumn(values: unknown[], frames: Buffer[], memory: FrameMemory): Column {
  const alloc = memory.take;
  const n = values.length;
  const first = values[0];
  if (typeof first === 'number') {
    let i = 0;
    while (i < n && typeof values[i] === 'number') i++;
    if (i === n) {
      const memory = alloc(n * 8);
      const numbers = new Float64Array(memory.buffer, memory.byteOffset, n);
      for (let r = 0; r < n; r++) numbers[r] = values[r] as number;
      frames.push(frameOf(numbers));
      return [COL_NUMBERS, frames.length - 1];
    }
  } else if (typeof first === 'string') {
    // Every string written into one buffer (joining them first costs more than this).
    let i = 0;
    let units = 0;
    for (; i < n; i++) {
      const text = values[i];
      if (typeof text !== 'string' || !isWellFormed(text)) break;
      units += text.length;
    }
    if (i === n && units * 3 < 2 ** 31) {
      // Written straight into memory large enough for any UTF-8 (3 bytes per UTF-16 unit at
      // most), whose unused end is then given back.
      const lengthsMemory = alloc(n * 4);
      const lengths = new Int32Array(lengthsMemory.buffer, lengthsMemory.byteOffset, n);
      const bytes = alloc(units * 3);
      let at = 0;
      for (let r = 0; r < n; r++) {
        const written = utf8Write.call(bytes, values[r] as string, at);
        lengths[r] = written;
        at += written;
      }
      frames.push(memory.shrink(bytes, at));
      frames.push(frameOf(lengths));
      // As many bytes as UTF-16 units: every character is ASCII.
      return [COL_STRINGS, frames.length - 2, frames.length - 1, at === units ? 1 : 0];
    }
  } else if (ArrayBuffer.isView(first)) {
    const Class = first.constructor as TypedArrayClass;
    const code = TYPED_ARRAY_CODES.get(Class);
    if (code !== undefined) {
      let i = 0;
      let total = 0;
      let same = true;
      const length0 = (first as TypedArray).length;
      for (; i < n; i++) {
        const value = values[i];
        if (typeof value !== 'object' || value === null || value.constructor !== Class) break;
        const length = (value as TypedArray).length;
        total += length;
        if (length !== length0) same = false;
      }
      // Large arrays already travel out of band, without the copy that concatenation costs.
      if (i === n && total * Class.BYTES_PER_ELEMENT < n * OUT_OF_BAND_BYTES) {
        // Not zero-filled (every element is written); `alloc` aligns to 8 bytes.
        const memory = alloc(total * Class.BYTES_PER_ELEMENT);
        const all = new Class(memory.buffer, memory.byteOffset, total) as TypedArray & {
          set(array: TypedArray, offset: number): void;
        };
        let at = 0;
        for (let r = 0; r < n; r++) {
          const value = values[r] as TypedArray;
          all.set(value, at);
          at += value.length;
        }
        frames.push(frameOf(all));
        const data = frames.length - 1;
        if (same) return [COL_ARRAYS, code, data, length0];
        const lengthsMemory = alloc(n * 4);
        const lengths = new Int32Array(lengthsMemory.buffer, lengthsMemory.byteOffset, n);
        for (let r = 0; r < n; r++) lengths[r] = (values[r] as TypedArray).length;
        frames.push(frameOf(lengths));
        return [COL_ARRAYS, code, data, [frames.length - 1]];
      }
    }
  }
  return [COL_MSGPACK, values];
}

/** One column's values, from its descriptor and the batch's array frames. */
function decodeColumn(column: Column, n: number, frames: Buffer[]): ArrayLike<unknown> {
  switch (column[0]) {
    case COL_NUMBERS:
      return arrayOver<Float64Array>(Float64Array, frames[column[1]]);
    case COL_STRINGS: {
      const frame = frames[column[1]];
      const lengths = arrayOver<Int32Array>(Int32Array, frames[column[2]]);
      if (frame === undefined)
        throw new Error('zeromq: a batch refers to a frame that did not come with it');
      let total = 0;
      for (let r = 0; r < n; r++) total += lengths[r];
      if (lengths.length !== n || total > frame.length)
        throw new Error('zeromq: a string column of a batch is shorter than its lengths say');
      const slice = column[3] === 1 ? latin1Slice : utf8Slice;
      const strings = new Array<string>(n);
      for (let r = 0, at = 0; r < n; r++) {
        const end = at + lengths[r];
        strings[r] = slice.call(frame, at, end);
        at = end;
      }
      return strings;
    }
    case COL_ARRAYS: {
      const Class = TYPED_ARRAYS[column[1]];
      if (Class === undefined)
        throw new Error('zeromq: a batch has a column of an unknown element type');
      const all = arrayOver(Class, frames[column[2]]);
      const lengthsOf = column[3];
      const lengths =
        typeof lengthsOf === 'number'
          ? null
          : arrayOver<Int32Array>(Int32Array, frames[lengthsOf[0]]);
      const arrays = new Array<TypedArray>(n);
      for (let r = 0, at = 0; r < n; r++) {
        const end = at + (lengths === null ? (lengthsOf as number) : lengths[r]);
        arrays[r] = all.subarray(at, end);
        at = end;
      }
      return arrays;
    }
    case COL_MSGPACK:
      return column[1];
    default:
      throw new Error('zeromq: a batch has a column of an unknown kind');
  }
}

/**
 * The frames of a data batch: the kind, the batch in msgpack, then every typed array of at
 * least {@link OUT_OF_BAND_BYTES} as a frame of its own over the array's memory (ZeroMQ sends
 * it from there, later than `send` returns: a stage must not write to an array it has yielded).
 * A batch of at least {@link COLUMNAR_MIN_RECORDS} plain objects with the same keys goes column
 * by column instead (kind {@link DATA_COLUMNS}): packing many small objects one by one is what
 * limits the rate of small records. The column frames are taken from `ring` when given (the
 * socket's reused memory; the caller seals nothing, this does, and reports accepted sends),
 * else freshly allocated.
 */
export function encodeBatch(batch: unknown[], ring?: FrameRing): Buffer[] {
  const frames: Buffer[] = [];
  const keys = batch.length >= COLUMNAR_MIN_RECORDS ? sharedKeys(batch) : null;
  let kind = BATCH_FRAME;
  let header: unknown = batch;
  if (keys !== null) {
    const n = batch.length;
    const values = keys.map(() => new Array<unknown>(n));
    shapeOf(keys).gather(batch, values);
    // A batch with an `undefined` value goes row by row, as msgpack has it.
    if (!values.some((column) => column.includes(undefined))) {
      const memory = ring === undefined ? FRESH_MEMORY : ring.memory;
      const columns = values.map((column) => encodeColumn(column, frames, memory));
      kind = COLUMNS_FRAME;
      header = [n, keys, columns];
    }
  }
  outgoing = frames;
  let body: Buffer;
  try {
    body = packr.pack(header);
  } finally {
    outgoing = null;
    ring?.seal();
  }
  return [kind, body, ...frames];
}

/** The batch of data frames `[kind, body, ...arrays]` from {@link encodeBatch}. */
export function decodeBatch(frames: Buffer[]): unknown[] {
  const arrays = frames.length > 2 ? frames.slice(2) : null;
  incoming = arrays;
  let body: unknown;
  try {
    body = packr.unpack(frames[1]);
  } finally {
    incoming = null;
  }
  if (frames[0][0] !== COLUMNS_BYTE) return body as unknown[];
  const [n, keys, columns] = body as [number, string[], Column[]];
  if (
    !Number.isSafeInteger(n) ||
    n < 0 ||
    !Array.isArray(keys) ||
    !Array.isArray(columns) ||
    columns.length !== keys.length ||
    keys.some((key) => typeof key !== 'string')
  )
    throw new Error('zeromq: a columnar batch has a malformed header');
  const values = columns.map((column) => decodeColumn(column, n, arrays ?? []));
  for (const column of values)
    if (column.length < n) throw new Error('zeromq: a column of a batch has too few values');
  return shapeOf(keys).build(n, values);
}

/** Constant kind frames (ZeroMQ copies frames this small, so one Buffer serves every send). */
const BATCH_FRAME = Buffer.from(DATA_BATCH);
const COLUMNS_FRAME = Buffer.from(DATA_COLUMNS);

/** Where {@link encodeColumn} takes the memory of its frames. */
interface FrameMemory {
  take(bytes: number): Buffer;
  /** `frame`, the last one taken, cut to `bytes`; the rest may be taken again. */
  shrink(frame: Buffer, bytes: number): Buffer;
}

/** Fresh memory for every frame (no ring). */
const FRESH_MEMORY: FrameMemory = {
  take: (bytes) => Buffer.allocUnsafe(bytes),
  shrink: (frame, bytes) => frame.subarray(0, bytes),
};

/**
 * Moving the values of records with the same keys into columns and back, compiled for one set of
 * keys: reading and writing a property by a name held in a variable goes through V8's generic
 * (megamorphic) path, several times slower per property than a property named in the code, and
 * for ~1 KB records it was a third of what decoding cost.
 */
interface Shape {
  /** Fills `columns[j][r]` with record `r`'s value of key `j`. */
  gather(batch: unknown[], columns: unknown[][]): void;
  /** `n` plain objects, record `r` having `columns[j][r]` under key `j`. */
  build(n: number, columns: ArrayLike<unknown>[]): Record<string, unknown>[];
}

/** Compiled shapes, by their keys; cleared when it grows past {@link MAX_SHAPES}. */
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 256;

function shapeOf(keys: string[]): Shape {
  const id = JSON.stringify(keys);
  let shape = shapes.get(id);
  if (shape === undefined) {
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shape = compileShape(keys);
    shapes.set(id, shape);
  }
  return shape;
}

/**
 * A {@link Shape} for `keys`. Keys reach the generated code only as JSON string literals (which
 * are JavaScript string literals), so no key can inject code; `__proto__` (which an object
 * literal would take for the prototype) gets the generic path.
 */
function compileShape(keys: string[]): Shape {
  if (keys.includes('__proto__')) return genericShape(keys);
  const names = keys.map((key) => JSON.stringify(key));
  const locals = keys.map((_, j) => `const c${j} = columns[${j}];`).join(' ');
  const gather = new Function(
    'batch',
    'columns',
    `${locals} for (let r = 0; r < batch.length; r++) { const x = batch[r]; ${names.map((name, j) => `c${j}[r] = x[${name}];`).join(' ')} }`,
  ) as Shape['gather'];
  const build = new Function(
    'n',
    'columns',
    `${locals} const out = new Array(n); for (let r = 0; r < n; r++) out[r] = { ${names.map((name, j) => `${name}: c${j}[r]`).join(', ')} }; return out;`,
  ) as Shape['build'];
  return { gather, build };
}

/** A {@link Shape} without generated code. */
function genericShape(keys: string[]): Shape {
  const k = keys.length;
  return {
    gather(batch, columns) {
      for (let r = 0; r < batch.length; r++) {
        const record = batch[r] as Record<string, unknown>;
        for (let j = 0; j < k; j++) columns[j][r] = record[keys[j]];
      }
    },
    build(n, columns) {
      const out = new Array<Record<string, unknown>>(n);
      for (let r = 0; r < n; r++) {
        const record: Record<string, unknown> = {};
        for (let j = 0; j < k; j++) {
          // A `__proto__` key is an own property, as msgpack decodes it, not the prototype.
          Object.defineProperty(record, keys[j], {
            value: columns[j][r],
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        out[r] = record;
      }
      return out;
    },
  };
}

export function encodeControl(
  message: WorkerMessage | CoordinatorMessage,
  payload?: Buffer,
): Buffer[] {
  return payload === undefined ? [pack(message)] : [pack(message), payload];
}

/**
 * The routing id of the worker a control message speaks for, as the coordinator's ROUTER keys
 * its peers: the id of the socket it came from (`routingId`), except for a heartbeat that names
 * another socket (`of`, a worker control socket's `routingId` option).
 */
export function speakerOf(routingId: Buffer, message: WorkerMessage): Buffer {
  return message.t === 'heartbeat' && message.of !== undefined
    ? Buffer.from(message.of, 'utf8')
    : routingId;
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
export function serialSender(socket: {
  send(frames: Buffer[]): Promise<void>;
}): (frames: Buffer[]) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (frames) => {
    const sent = tail.then(() => socket.send(frames));
    tail = sent.catch(() => {});
    return sent;
  };
}
