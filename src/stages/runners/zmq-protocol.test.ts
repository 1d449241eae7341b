import { describe, expect, it } from 'vitest';
import { FrameRing } from './frame-ring.js';
import {
  COLUMNAR_MIN_RECORDS,
  DATA_BATCH,
  DATA_COLUMNS,
  decodeBatch,
  encodeBatch,
  OUT_OF_BAND_BYTES,
  pack,
  unpack,
} from './zmq-protocol.js';

/** Deep equality that also tells -0 from 0, typed-array classes apart, and objects from Maps. */
function same(a: unknown, b: unknown, path = '$'): void {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    if (!Object.is(a, b)) throw new Error(`${path}: ${String(a)} !== ${String(b)}`);
    return;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b))
    throw new Error(`${path}: ${a.constructor?.name} vs ${b.constructor?.name}`);
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) throw new Error(`${path}: length ${x.length} vs ${y.length}`);
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i]))
        throw new Error(`${path}[${i}]: ${String(x[i])} vs ${String(y[i])}`);
    return;
  }
  if (a instanceof Map) {
    same([...a], [...(b as Map<unknown, unknown>)], path);
    return;
  }
  if (a instanceof Date) {
    same(a.getTime(), (b as Date).getTime(), path);
    return;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  same(ka.length, kb.length, `${path}.length`);
  ka.forEach((k, i) => {
    same(k, kb[i], `${path} key ${i}`);
    same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  });
}

/** The frames as another process receives them: copies, each at `shift` bytes into its buffer. */
function transport(frames: Buffer[], shift = 0): Buffer[] {
  return frames.map((frame) => {
    const copy = Buffer.alloc(frame.length + shift + 8);
    frame.copy(copy, shift);
    return copy.subarray(shift, shift + frame.length);
  });
}

function roundTrip(batch: unknown[], kind: string, shift = 0): unknown[] {
  const frames = encodeBatch(batch);
  expect(frames[0].toString()).toBe(kind);
  const out = decodeBatch(transport(frames, shift));
  same(out, batch);
  return out;
}

const TYPED = [
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
] as const;

function typed(Class: (typeof TYPED)[number], length: number, seed: number): ArrayBufferView {
  const array = new Class(length);
  for (let i = 0; i < length; i++) {
    const x = (seed * 31 + i * 7) % 251;
    (array as unknown as unknown[])[i] =
      Class === BigInt64Array
        ? BigInt(x - 125) * 123456789n
        : Class === BigUint64Array
          ? BigInt(x) * 987654321n
          : Class === Float32Array || Class === Float64Array
            ? (x - 125) / 8
            : x - (Class === Int8Array || Class === Int16Array || Class === Int32Array ? 100 : 0);
  }
  return array;
}

const NAME = 'x'.repeat(200);
const bench = (n: number): unknown[] =>
  Array.from({ length: n }, (_, id) => ({
    id,
    name: NAME,
    vec: new Float32Array(198).fill(id / 3),
  }));

describe('zmq batches', () => {
  it('sends a small batch row by row', () => {
    roundTrip(bench(COLUMNAR_MIN_RECORDS - 1), DATA_BATCH);
    roundTrip([{ a: 1 }], DATA_BATCH);
  });

  it('sends an empty batch', () => {
    roundTrip([], DATA_BATCH);
  });

  it('sends records with the same keys column by column, typed arrays as views of one frame', () => {
    const out = roundTrip(bench(1024), DATA_COLUMNS) as { vec: Float32Array }[];
    // No copy per record: every array is a view of the received frame.
    expect(out[0].vec.buffer).toBe(out[1023].vec.buffer);
    // Views do not overlap.
    out[0].vec[0] = 42;
    expect(out[1].vec[0]).toBe(Math.fround(1 / 3));
    expect(Object.getPrototypeOf(out[5])).toBe(Object.prototype);
  });

  it('keeps numbers exactly, -0, NaN and infinities included', () => {
    const numbers = [
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
      1.5,
      -(2 ** 53),
      2 ** 53 + 2,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      0.1,
      255,
      -1,
      2 ** 32,
    ];
    roundTrip(
      numbers.map((x) => ({ x })),
      DATA_COLUMNS,
    );
  });

  it('keeps strings exactly: empty, non-ASCII, surrogate pairs, lone surrogates', () => {
    const strings = [
      '',
      'a',
      'héllo',
      '日本語',
      '😀 emoji',
      '\u0000nul',
      'x'.repeat(5000),
      '',
      'end',
    ];
    roundTrip(
      strings.map((s) => ({ s })),
      DATA_COLUMNS,
    );
    // Lone surrogates (UTF-8 cannot carry them): the column goes as msgpack, and comes back as
    // msgpack gives it back.
    for (const lone of [
      ['\uD83D', 'a', 'b', 'c', 'd', 'e', 'f', 'g'],
      ['\uD83D', '\uDE00', 'a', 'b', 'c', 'd', 'e', 'f'],
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'x\uDE00'],
    ]) {
      const batch = lone.map((s) => ({ s }));
      const frames = encodeBatch(batch);
      expect(frames[0].toString()).toBe(DATA_COLUMNS);
      same(
        decodeBatch(transport(frames)),
        batch.map((r) => unpack(pack(r))),
      );
    }
  });

  it('sends columns of mixed and other types as msgpack', () => {
    const values = [
      1,
      'two',
      null,
      true,
      false,
      { nested: [1, { deep: 'x' }] },
      [1, 2, 3],
      10n,
      new Map([['k', 1]]),
      new Float32Array([1, 2]),
      new Date(0),
      new Uint8Array(3),
    ];
    const batch = values.map((v, i) => ({
      i,
      v,
      flag: i % 2 === 0,
      nothing: null,
      nested: { i, list: [i, String(i)] },
      big: BigInt(i),
    }));
    roundTrip(batch, DATA_COLUMNS);
  });

  it('sends typed arrays of every element type, of the same and of different lengths', () => {
    for (const Class of TYPED) {
      roundTrip(
        Array.from({ length: 10 }, (_, i) => ({ i, a: typed(Class, 5, i) })),
        DATA_COLUMNS,
      );
      roundTrip(
        Array.from({ length: 10 }, (_, i) => ({ a: typed(Class, (i * 3) % 7, i), i })),
        DATA_COLUMNS,
      );
      // Views into a larger array, at odd offsets.
      const whole = typed(Class, 200, 1) as unknown as {
        subarray(a: number, b: number): ArrayBufferView;
      };
      roundTrip(
        Array.from({ length: 10 }, (_, i) => ({ a: whole.subarray(i * 3 + 1, i * 3 + 1 + i) })),
        DATA_COLUMNS,
      );
      // Large arrays go out of band one by one.
      const length = Math.ceil((2 * OUT_OF_BAND_BYTES) / Class.BYTES_PER_ELEMENT);
      roundTrip(
        Array.from({ length: 9 }, (_, i) => ({ i, a: typed(Class, length, i) })),
        DATA_COLUMNS,
      );
    }
    // Typed arrays of different classes in one column.
    roundTrip(
      TYPED.map((Class, i) => ({ a: typed(Class, 4, i) })),
      DATA_COLUMNS,
    );
    // Buffers keep their class.
    roundTrip(
      Array.from({ length: 9 }, (_, i) => ({ b: Buffer.from([i, i + 1]) })),
      DATA_COLUMNS,
    );
  });

  it('decodes frames that are not aligned for their element type', () => {
    for (const shift of [1, 2, 3, 5]) {
      const batch = TYPED.flatMap((Class, i) => [
        { k: i, s: `é${i}`, a: typed(Class, i + 2, i), b: typed(Class, 300, i) },
      ]);
      const uniform = Array.from({ length: 16 }, (_, i) => ({
        k: i,
        s: `é${i}`,
        f: new Float64Array([i, -0, NaN]),
        big: new Float64Array(300).fill(i),
      }));
      roundTrip(batch, DATA_COLUMNS, shift);
      roundTrip(uniform, DATA_COLUMNS, shift);
      roundTrip(bench(3), DATA_BATCH, shift);
      roundTrip(
        Array.from({ length: 3 }, () => ({ big: new Float64Array(300).fill(0.25) })),
        DATA_BATCH,
        shift,
      );
    }
  });

  it('falls back to rows when records do not share plain-object keys', () => {
    const base = () =>
      Array.from({ length: 10 }, (_, i) => ({ a: i, b: `s${i}` }) as Record<string, unknown>);
    const reordered = base();
    reordered[4] = { b: 's4', a: 4 };
    roundTrip(reordered, DATA_BATCH);
    const missing = base();
    delete missing[9].b;
    roundTrip(missing, DATA_BATCH);
    const extra = base();
    extra[0].c = 1;
    roundTrip(extra, DATA_BATCH);
    const renamed = base();
    renamed[3] = { a: 3, c: 's3' };
    roundTrip(renamed, DATA_BATCH);
    const withUndefined = base();
    withUndefined[2].b = undefined;
    const frames = encodeBatch(withUndefined);
    expect(frames[0].toString()).toBe(DATA_BATCH);
    same(
      decodeBatch(transport(frames)),
      withUndefined.map((r) => unpack(pack(r))),
    );
    roundTrip(
      Array.from({ length: 10 }, () => ({})),
      DATA_BATCH,
    );
    roundTrip(
      Array.from({ length: 10 }, (_, i) => i),
      DATA_BATCH,
    );
    roundTrip(
      Array.from({ length: 10 }, (_, i) => [i, `s${i}`]),
      DATA_BATCH,
    );
    roundTrip(
      Array.from({ length: 10 }, (_, i) => new Map([['a', i]])),
      DATA_BATCH,
    );
    roundTrip([...base(), null], DATA_BATCH);
    roundTrip([null, ...base()], DATA_BATCH);
    const proto = base();
    proto[5] = Object.assign(Object.create(null) as object, { a: 5, b: 's5' });
    expect(encodeBatch(proto)[0].toString()).toBe(DATA_BATCH);
  });

  it('marks all-ASCII string columns, and decodes marked and unmarked ones to the same text', () => {
    const ascii = Array.from({ length: 12 }, (_, i) => ({ s: `row ${i} ${'x'.repeat(i * 40)}` }));
    const mixed = ascii.map(({ s }, i) => ({ s: i === 7 ? `${s}é` : s }));
    for (const batch of [ascii, mixed]) {
      const frames = encodeBatch(batch);
      const [, , columns] = unpack<[number, string[], unknown[][]]>(frames[1]);
      expect(columns[0][3]).toBe(batch === ascii ? 1 : 0);
      same(decodeBatch(transport(frames, 3)), batch);
      // A peer that does not mark its columns (no fourth element) is read as UTF-8.
      const unmarked = [frames[0], pack([12, ['s'], [columns[0].slice(0, 3)]]), ...frames.slice(2)];
      same(decodeBatch(transport(unmarked)), batch);
    }
  });

  it('writes strings into ring memory and gives back what UTF-8 did not need', () => {
    const ring = new FrameRing({ hwm: 1, bytes: 64 * 1024 });
    const batch = Array.from({ length: 16 }, (_, i) => ({ i, s: `日本${i}`.repeat(20) }));
    for (let m = 0; m < 50; m++) {
      const frames = encodeBatch(batch, ring);
      same(decodeBatch(transport(frames)), batch);
      ring.accepted();
    }
    // 16 × 3 bytes per UTF-16 unit would not fit a message's share of this ring every time;
    // given back, it does.
    expect(ring.fallbacks).toBe(0);
  });

  it('keeps keys that need quoting as they are, and runs none of them as code', () => {
    const keys = [
      'a"b',
      "c'd",
      'e\\f',
      'g\nh',
      '\u2028',
      '1',
      '0',
      'constructor',
      'x y',
      '"]: process.exit(9), ["',
      '`${process.exit(9)}`',
      '}; process.exit(9); {',
    ];
    const batch = Array.from({ length: 10 }, (_, i) =>
      Object.fromEntries(keys.map((key, j) => [key, i * 100 + j])),
    );
    roundTrip(batch, DATA_COLUMNS);
  });

  it('decodes a `__proto__` column into an own property, not the prototype', () => {
    // Never sent by encodeBatch (such records go row by row); a peer could still send one.
    const frames = [
      Buffer.from(DATA_COLUMNS),
      pack([
        2,
        ['__proto__', 'a'],
        [
          [3, [{ polluted: true }, { polluted: true }]],
          [3, [1, 2]],
        ],
      ]),
    ];
    const out = decodeBatch(frames) as Record<string, unknown>[];
    expect(Object.getPrototypeOf(out[0])).toBe(Object.prototype);
    expect(Object.hasOwn(out[0], '__proto__')).toBe(true);
    expect((out[1] as { polluted?: boolean }).polluted).toBeUndefined();
    expect(out[1].a).toBe(2);
  });

  it('rejects a columnar batch whose header or columns do not add up', () => {
    const bad =
      (header: unknown, ...frames: Buffer[]) =>
      () =>
        decodeBatch([Buffer.from(DATA_COLUMNS), pack(header), ...frames]);
    expect(bad([2, ['a'], []])).toThrow(/malformed header/);
    expect(bad([-1, ['a'], [[3, []]]])).toThrow(/malformed header/);
    expect(bad([3, ['a'], [[3, [1, 2]]]])).toThrow(/too few values/);
    const lengths = Buffer.from(new Int32Array([4, 4]).buffer);
    expect(bad([2, ['s'], [[2, 0, 1, 1]]], Buffer.from('abcdef'), lengths)).toThrow(
      /shorter than its lengths/,
    );
  });

  it('leaves typed arrays outside batches packed in the frame', () => {
    const array = new Float64Array(1000).fill(1.25);
    same(unpack(pack({ array })), { array });
  });
});
