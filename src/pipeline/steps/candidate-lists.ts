import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirectoryAtomically } from '../../core/atomic-dir.js';
import { DataError } from '../../core/errors.js';
import type { RankedLists } from '../../models/ranked-lists.js';

const FORMAT_VERSION = 1;

/** The lists publish writes, each keyed by dense ids of the model that made them. */
export const CANDIDATE_LISTS = ['user', 'related', 'popular'] as const;
export type CandidateList = (typeof CANDIDATE_LISTS)[number];

/**
 * Ranked lists packed end to end: query q's list is `ids/scores[offsets[q] .. offsets[q+1])`,
 * best first, in dense item ids. Unlike {@link RankedLists} there is no padding to k, so short
 * lists (users who have seen most items) cost nothing.
 */
export interface PackedLists {
  offsets: Int32Array;
  ids: Int32Array;
  scores: Float32Array;
}

/** Everything the candidates step hands to publish. */
export interface CandidateSet {
  /** The model whose dense ids the lists use; publish refuses lists of another model. */
  modelId: string;
  lists: Record<CandidateList, PackedLists>;
}

interface Manifest {
  format: number;
  modelId: string;
  lists: Record<string, { count: number; total: number }>;
}

/** Number of queries (lists) in `lists`. */
export function packedCount(lists: PackedLists): number {
  return lists.offsets.length - 1;
}

/** Packs ranked lists, dropping the padding past each list's length. */
export function packRankedLists(lists: RankedLists): PackedLists {
  const offsets = new Int32Array(lists.count + 1);
  for (let q = 0; q < lists.count; q++) offsets[q + 1] = offsets[q] + lists.lengths[q];
  const ids = new Int32Array(offsets[lists.count]);
  const scores = new Float32Array(offsets[lists.count]);
  for (let q = 0; q < lists.count; q++) {
    ids.set(lists.idsOf(q), offsets[q]);
    scores.set(lists.scoresOf(q), offsets[q]);
  }
  return { offsets, ids, scores };
}

/**
 * Writes `set` to the directory `dir` as a manifest plus raw little-endian typed arrays
 * (`<list>.offsets.bin`, `.ids.bin`, `.scores.bin`): millions of list entries stay a few bytes
 * each instead of JSON objects. Written to a temporary sibling directory and renamed into place,
 * so a crash or a retry never leaves a mix of two attempts.
 */
export async function writeCandidates(dir: string, set: CandidateSet): Promise<void> {
  await writeDirectoryAtomically(dir, async (tmp) => {
    const manifest: Manifest = { format: FORMAT_VERSION, modelId: set.modelId, lists: {} };
    for (const name of CANDIDATE_LISTS) {
      const lists = set.lists[name];
      manifest.lists[name] = { count: packedCount(lists), total: lists.ids.length };
      for (const [part, array] of Object.entries(lists)) {
        await writeFile(
          join(tmp, `${name}.${part}.bin`),
          new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
        );
      }
    }
    await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
  });
}

/** Reads what {@link writeCandidates} wrote, checking every array's size against the manifest. */
export async function readCandidates(dir: string): Promise<CandidateSet> {
  const manifestPath = join(dir, 'manifest.json');
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
  } catch (cause) {
    throw new DataError(
      { file: manifestPath },
      `cannot read the candidates manifest: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (manifest.format !== FORMAT_VERSION)
    throw new DataError(
      { file: manifestPath },
      `format ${manifest.format} is not supported (expected ${FORMAT_VERSION})`,
    );
  const lists = {} as Record<CandidateList, PackedLists>;
  for (const name of CANDIDATE_LISTS) {
    const spec = manifest.lists[name];
    if (spec === undefined) throw new DataError({ file: manifestPath }, `has no "${name}" lists`);
    const read = async <T extends Int32Array | Float32Array>(
      part: string,
      Ctor: new (n: number) => T,
      length: number,
    ): Promise<T> => {
      const file = join(dir, `${name}.${part}.bin`);
      const bytes = await readFile(file).catch((cause: unknown) => {
        throw new DataError({ file }, 'cannot read candidate lists', { cause });
      });
      const array = new Ctor(length);
      if (bytes.byteLength !== array.byteLength)
        throw new DataError(
          { file },
          `holds ${bytes.byteLength} bytes, expected ${array.byteLength}`,
        );
      // Copy into a fresh, aligned buffer: Buffer slices may share an unaligned pool.
      new Uint8Array(array.buffer).set(bytes);
      return array;
    };
    const offsets = await read('offsets', Int32Array, spec.count + 1);
    if (offsets[0] !== 0 || offsets[spec.count] !== spec.total)
      throw new DataError(
        { file: join(dir, `${name}.offsets.bin`) },
        'offsets do not match the manifest',
      );
    lists[name] = {
      offsets,
      ids: await read('ids', Int32Array, spec.total),
      scores: await read('scores', Float32Array, spec.total),
    };
  }
  return { modelId: manifest.modelId, lists };
}
