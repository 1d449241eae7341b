import { DataError } from '../../core/errors.js';
import type { TaggerOptions } from './tagger-options.js';

/** First bytes of every saved tagger. */
const MAGIC = 'KIBANTAG';
/** Bumped whenever the layout below changes; older versions are refused with a clear error. */
export const TAGGER_FORMAT_VERSION = 1;
const FLAG_QUANTISED = 1;

/** Everything a tagger is made of, as plain data. */
export interface TaggerParts {
  options: TaggerOptions;
  labels: string[];
  /** Vocabulary in input-row order (row 0 the end-of-text token). */
  words: string[];
  /** Bucket of each n-gram row, rows words.length…. */
  bucketOfRow: Int32Array;
  /** rows × dim, or null when `quantised` holds the input rows instead. */
  input: Float32Array | null;
  quantised: QuantisedRows | null;
  /** labels × dim. */
  output: Float32Array;
}

/** Rows stored as int8 with one scale per row: value = codes[r·dim + a] · scales[r]. */
export interface QuantisedRows {
  codes: Int8Array;
  scales: Float32Array;
}

interface Header {
  options: TaggerOptions;
  labels: string[];
  words: string[];
  bucketRows: number;
}

/**
 * Serialises a tagger: the 8-byte magic `KIBANTAG`, then little-endian u32 version, flags and
 * header length, a UTF-8 JSON header (options, labels, words, number of bucket rows), padding to
 * 4 bytes, then the arrays: bucket ids (i32), input rows (f32, or per-row f32 scales then int8
 * codes padded to 4 bytes when quantised) and output rows (f32).
 */
export function encodeTagger(parts: TaggerParts): Uint8Array {
  const header: Header = {
    options: parts.options,
    labels: parts.labels,
    words: parts.words,
    bucketRows: parts.bucketOfRow.length,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = pad4(20 + json.length);
  const arrays: ArrayBufferView[] = [parts.bucketOfRow];
  if (parts.quantised !== null) arrays.push(parts.quantised.scales, parts.quantised.codes);
  else arrays.push(parts.input!);
  arrays.push(parts.output);
  let size = start;
  for (const a of arrays) size += pad4(a.byteLength);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, TAGGER_FORMAT_VERSION, true);
  view.setUint32(12, parts.quantised === null ? 0 : FLAG_QUANTISED, true);
  view.setUint32(16, json.length, true);
  bytes.set(json, 20);
  let at = start;
  for (const a of arrays) {
    bytes.set(littleEndianBytes(a), at);
    at += pad4(a.byteLength);
  }
  return bytes;
}

/**
 * Reads what {@link encodeTagger} wrote. Validates the magic, version, header and exact length.
 *
 * @throws DataError when the bytes are not a kiban tagger, are of another format version, or are
 *   truncated or padded.
 */
export function decodeTagger(bytes: Uint8Array, source = 'tagger'): TaggerParts {
  const fail = (reason: string): never => {
    throw new DataError({ file: source }, reason);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array');
  if (bytes.length < 20 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    fail(`not a kiban tagger (no ${MAGIC} magic at the start)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== TAGGER_FORMAT_VERSION)
    fail(`format version ${version} is not supported (expected ${TAGGER_FORMAT_VERSION})`);
  const flags = view.getUint32(12, true);
  const jsonLength = view.getUint32(16, true);
  if (20 + jsonLength > bytes.length)
    fail(`truncated: the header needs ${jsonLength} bytes, ${bytes.length - 20} present`);
  let header: Header;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(20, 20 + jsonLength)),
    ) as Header;
  } catch (cause) {
    throw new DataError({ file: source }, 'the header is not valid UTF-8 JSON', { cause });
  }
  const { options, labels, words, bucketRows } = header;
  if (
    !options ||
    !Array.isArray(labels) ||
    !Array.isArray(words) ||
    !Number.isInteger(bucketRows) ||
    !Number.isInteger(options.dim)
  )
    fail('the header lacks options, labels, words or bucketRows');
  const dim = options.dim;
  const rows = words.length + bucketRows;
  const quantised = (flags & FLAG_QUANTISED) !== 0;
  const sizes = [
    bucketRows * 4,
    ...(quantised ? [rows * 4, rows * dim] : [rows * dim * 4]),
    labels.length * dim * 4,
  ];
  const expected = pad4(20 + jsonLength) + sizes.reduce((s, b) => s + pad4(b), 0);
  if (bytes.length !== expected)
    fail(
      `${bytes.length < expected ? 'truncated' : 'trailing bytes'}: ${bytes.length} bytes, expected ${expected} for ${rows} input rows and ${labels.length} labels of dim ${dim}`,
    );
  let at = pad4(20 + jsonLength);
  const take = (n: number): Uint8Array => {
    // Copied into fresh buffers: typed arrays need aligned offsets, and callers may reuse `bytes`.
    const out = bytes.slice(at, at + n);
    at += pad4(n);
    return out;
  };
  const bucketOfRow = fromLittleEndian(new Int32Array(take(sizes[0]).buffer));
  let input: Float32Array | null = null;
  let q: QuantisedRows | null = null;
  if (quantised) {
    const scales = fromLittleEndian(new Float32Array(take(sizes[1]).buffer));
    q = { scales, codes: new Int8Array(take(sizes[2]).buffer) };
  } else {
    input = fromLittleEndian(new Float32Array(take(sizes[1]).buffer));
  }
  const output = fromLittleEndian(new Float32Array(take(sizes.at(-1)!).buffer));
  return { options, labels, words, bucketOfRow, input, quantised: q, output };
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The bytes of `a` in little-endian order (a copy only on big-endian machines). */
function littleEndianBytes(a: ArrayBufferView): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN || a instanceof Int8Array) return bytes;
  return swap4(bytes.slice());
}

function fromLittleEndian<T extends Int32Array | Float32Array>(a: T): T {
  if (!LITTLE_ENDIAN) swap4(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return a;
}

function swap4(b: Uint8Array): Uint8Array {
  for (let i = 0; i < b.length; i += 4) {
    [b[i], b[i + 1], b[i + 2], b[i + 3]] = [b[i + 3], b[i + 2], b[i + 1], b[i]];
  }
  return b;
}
