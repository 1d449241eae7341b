import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirectoryAtomically } from '../core/atomic-dir.js';
import { DataError, NotFoundError } from '../core/errors.js';
import { CsrMatrix } from '../data/csr-matrix.js';
import { IdMap, type ExternalId } from '../data/id-map.js';
import { Interactions } from '../data/interactions.js';

type TypedArray = Float32Array | Float64Array | Int32Array;
const DTYPES = { float32: Float32Array, float64: Float64Array, int32: Int32Array } as const;
type Dtype = keyof typeof DTYPES;

const FORMAT_VERSION = 1;

/** A saved model: a JSON manifest plus named typed arrays. */
export interface Artifact {
  kind: string;
  params: Record<string, unknown>;
  /** Anything else small the model needs, JSON-serialisable. */
  extra: Record<string, unknown>;
  arrays: Record<string, TypedArray>;
}

interface Manifest {
  format: number;
  kind: string;
  params: Record<string, unknown>;
  extra: Record<string, unknown>;
  users: ExternalId[];
  items: ExternalId[];
  arrays: Record<string, { dtype: Dtype; length: number; file: string }>;
}

/**
 * Writes a model with its training interactions to `dir`. The files are written to a sibling
 * temporary directory first and renamed into place, so a crash never leaves half a model and an
 * existing model at `dir` is replaced whole.
 */
export async function writeArtifact(
  dir: string,
  artifact: Artifact,
  data: Interactions,
): Promise<void> {
  const m = data.userItems;
  const arrays: Record<string, TypedArray> = {
    ...artifact.arrays,
    'train.indptr': m.indptr,
    'train.indices': m.indices,
    'train.values': m.values,
  };
  const manifest: Manifest = {
    format: FORMAT_VERSION,
    kind: artifact.kind,
    params: artifact.params,
    extra: artifact.extra,
    users: data.users.toJSON(),
    items: data.items.toJSON(),
    arrays: {},
  };
  await writeDirectoryAtomically(dir, async (tmp) => {
    for (const [name, array] of Object.entries(arrays)) {
      const file = `${name}.bin`;
      manifest.arrays[name] = { dtype: dtypeOf(array), length: array.length, file };
      await writeFile(
        join(tmp, file),
        new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
      );
    }
    await writeFile(join(tmp, 'model.json'), JSON.stringify(manifest));
  });
}

/** Reads what {@link writeArtifact} wrote; `data` is the training interactions. */
export async function readArtifact(dir: string): Promise<Artifact & { data: Interactions }> {
  const text = await readFile(join(dir, 'model.json'), 'utf8').catch((cause: unknown) => {
    throw new NotFoundError(`model at ${dir} (no model.json)`, { cause });
  });
  const manifest = JSON.parse(text) as Manifest;
  if (manifest.format !== FORMAT_VERSION) {
    throw new DataError(
      { file: join(dir, 'model.json') },
      `format ${manifest.format} is not supported (expected ${FORMAT_VERSION})`,
    );
  }
  const arrays: Record<string, TypedArray> = {};
  for (const [name, spec] of Object.entries(manifest.arrays)) {
    const bytes = await readFile(join(dir, spec.file));
    const Ctor = DTYPES[spec.dtype];
    if (bytes.byteLength !== spec.length * Ctor.BYTES_PER_ELEMENT) {
      throw new DataError(
        { file: join(dir, spec.file) },
        `holds ${bytes.byteLength} bytes, expected ${spec.length} ${spec.dtype} values`,
      );
    }
    // Copy into a fresh, aligned buffer: Buffer slices may share an unaligned pool.
    const array = new Ctor(spec.length);
    new Uint8Array(array.buffer).set(bytes);
    arrays[name] = array;
  }
  const users = IdMap.fromSortedIds(manifest.users);
  const items = IdMap.fromSortedIds(manifest.items);
  const matrix = new CsrMatrix(
    users.size,
    items.size,
    arrays['train.indptr'] as Int32Array,
    arrays['train.indices'] as Int32Array,
    arrays['train.values'] as Float32Array,
  );
  return {
    kind: manifest.kind,
    params: manifest.params,
    extra: manifest.extra,
    arrays,
    data: new Interactions(users, items, matrix),
  };
}

function dtypeOf(array: TypedArray): Dtype {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  return 'int32';
}
